/** Seeded random test data (pure-rand xoroshiro128+), so every failure reproduces. */
import { xoroshiro128plus } from 'pure-rand';

export function randomGenerator(seed: number): () => number {
  const rng = xoroshiro128plus(seed);
  return () => (rng.unsafeNext() >>> 0) / 4294967296;
}

export function randomArray(length: number, seed: number, low = -1, high = 1): Float32Array {
  const next = randomGenerator(seed);
  return Float32Array.from({ length }, () => low + (high - low) * next());
}

export function randomInts(length: number, seed: number, low: number, high: number): Int32Array {
  const next = randomGenerator(seed);
  return Int32Array.from({ length }, () => low + Math.floor((high - low) * next()));
}
