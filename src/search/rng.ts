/**
 * Seeded random numbers for the search layer: one `Rng` per sampler so that the same seed gives the
 * same sequence of suggestions. Built on pure-rand's xoroshiro128+ (53-bit doubles from two 32-bit draws).
 * Limits: not cryptographic; sequences differ from NumPy's, so seeds do not reproduce Optuna's exact values.
 */
import { xoroshiro128plus } from 'pure-rand';
import { randomInt } from 'node:crypto';

type Generator = ReturnType<typeof xoroshiro128plus>;

export class Rng {
  private readonly gen: Generator;
  private spareNormal: number | null = null;

  constructor(seed?: number) {
    const s = seed ?? randomInt(0, 2 ** 31 - 1);
    if (!Number.isInteger(s)) throw new RangeError(`seed: ${s} must be an integer`);
    this.gen = xoroshiro128plus(s | 0);
  }

  /** A random 32-bit unsigned integer. */
  uint32(): number {
    return this.gen.unsafeNext() >>> 0;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  random(): number {
    const a = this.uint32() >>> 5; // 27 bits
    const b = this.uint32() >>> 6; // 26 bits
    return (a * 67108864 + b) / 9007199254740992;
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.random();
  }

  /** Integer in [low, high] inclusive. */
  int(low: number, high: number): number {
    return low + Math.floor(this.random() * (high - low + 1));
  }

  /** Standard normal via the polar Box–Muller method. */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    for (;;) {
      const u = 2 * this.random() - 1;
      const v = 2 * this.random() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const f = Math.sqrt((-2 * Math.log(s)) / s);
        this.spareNormal = v * f;
        return u * f;
      }
    }
  }

  /** Index drawn with probability proportional to `weights` (which must sum to > 0). */
  choiceIndex(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) total += weights[i];
    let r = this.random() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i];
      if (r < 0) return i;
    }
    return weights.length - 1;
  }

  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  }
}

/** A seed for a helper generator (e.g. a sampler's startup RandomSampler) that differs from `seed` itself. */
export function deriveSeed(seed: number | undefined, salt: string): number | undefined {
  if (seed === undefined) return undefined;
  let h = 0x811c9dc5; // FNV-1a over the salt
  for (let i = 0; i < salt.length; i++) h = Math.imul(h ^ salt.charCodeAt(i), 0x01000193);
  return (seed ^ h) | 0;
}
