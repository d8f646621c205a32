/**
 * Reproducible shuffling: a seeded random source (pure-rand's xoroshiro128+) and Fisher–Yates.
 * The same seed gives the same order on every machine and Node version, because pure-rand is pure
 * JavaScript integer arithmetic (no Math.random, no floating point).
 *
 * Limits: seeds are 32-bit (pure-rand seeds xoroshiro128+ from `seed | 0`), so only 0..2^32-1 are
 * accepted; anything else would silently collide with another seed.
 */

import { type RandomGenerator, unsafeUniformIntDistribution, xoroshiro128plus } from 'pure-rand';

/** A source of uniform integers; SeededRandom is the real one, tests may script their own. */
export interface IntSource {
  /** A uniform integer in min..max, both included. */
  intInclusive(min: number, max: number): number;
}

export class SeededRandom implements IntSource {
  private readonly generator: RandomGenerator;

  constructor(readonly seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new Error(`SeededRandom: seed must be an integer in 0..4294967295, got ${seed}`);
    }
    this.generator = xoroshiro128plus(seed);
  }

  intInclusive(min: number, max: number): number {
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max < min) {
      throw new Error(`SeededRandom.intInclusive: need integers min <= max, got ${min}..${max}`);
    }
    return unsafeUniformIntDistribution(min, max, this.generator); // advances this.generator
  }
}

/** Fisher–Yates (Durstenfeld) in place: for i from the end, swap item i with a uniform j in 0..i. */
export function shuffleInPlace<T>(items: T[], random: IntSource): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = random.intInclusive(0, i);
    const item = items[i];
    items[i] = items[j];
    items[j] = item;
  }
  return items;
}

/** A shuffled copy of `items`; the same seed always gives the same order. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  return shuffleInPlace([...items], new SeededRandom(seed));
}
