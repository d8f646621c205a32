/**
 * Splits a data set into batches of example indices: in order (for evaluation) or shuffled with a
 * seed (for training). See length-buckets.ts for batches of similar-length examples.
 */

import { SeededRandom, shuffleInPlace } from './shuffle.js';

export interface BatchOptions {
  batchSize: number;
  /** Drop a final batch smaller than batchSize. Default false. */
  dropLast?: boolean;
}

/** Indices 0..count-1 in order, cut into batches. */
export function sequentialBatches(count: number, options: BatchOptions): number[][] {
  checkBatchArguments(count, options.batchSize);
  return cutIntoBatches(
    Array.from({ length: count }, (_, index) => index),
    options.batchSize,
    options.dropLast ?? false,
  );
}

/** Indices 0..count-1 shuffled with `seed`, cut into batches. */
export function shuffledBatches(count: number, options: BatchOptions & { seed: number }): number[][] {
  checkBatchArguments(count, options.batchSize);
  const order = shuffleInPlace(
    Array.from({ length: count }, (_, index) => index),
    new SeededRandom(options.seed),
  );
  return cutIntoBatches(order, options.batchSize, options.dropLast ?? false);
}

/** Consecutive runs of `batchSize` items; the last may be shorter unless dropLast. */
export function cutIntoBatches<T>(items: readonly T[], batchSize: number, dropLast: boolean): T[][] {
  const batches: T[][] = [];
  for (let start = 0; start < items.length; start += batchSize) {
    const batch = items.slice(start, start + batchSize);
    if (batch.length < batchSize && dropLast) break;
    batches.push(batch);
  }
  return batches;
}

export function checkBatchArguments(count: number, batchSize: number): void {
  if (!Number.isInteger(count) || count < 0) throw new Error(`batches: example count must be an integer >= 0, got ${count}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batches: batchSize must be an integer >= 1, got ${batchSize}`);
}
