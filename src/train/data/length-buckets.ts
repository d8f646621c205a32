/**
 * Batches of examples of similar length, so that padding to the longest example in a batch wastes
 * little compute. The examples are shuffled, cut into chunks of `chunkBatches` batches, sorted by
 * length within each chunk, cut into batches, and then the order of all batches is shuffled. The
 * chunks keep some randomness in which examples meet in a batch; the final shuffle keeps the
 * model from seeing short batches first and long ones last. (The same scheme as fairseq's and
 * AllenNLP's bucket samplers.)
 *
 * Limits: a partial batch can only be the last one of the last chunk (dropped with dropLast).
 */

import { checkBatchArguments, cutIntoBatches } from './batches.js';
import { SeededRandom, shuffleInPlace } from './shuffle.js';

export interface LengthBucketOptions {
  batchSize: number;
  seed: number;
  /** Batches per sorted chunk. Default 50. */
  chunkBatches?: number;
  /** Drop a final batch smaller than batchSize. Default false. */
  dropLast?: boolean;
}

/** Batches of indices into `lengths` (the token count of each example). */
export function lengthBucketedBatches(lengths: readonly number[], options: LengthBucketOptions): number[][] {
  const { batchSize, seed } = options;
  const chunkBatches = options.chunkBatches ?? 50;
  checkBatchArguments(lengths.length, batchSize);
  if (!Number.isInteger(chunkBatches) || chunkBatches < 1) {
    throw new Error(`lengthBucketedBatches: chunkBatches must be an integer >= 1, got ${chunkBatches}`);
  }
  lengths.forEach((length, index) => {
    if (!Number.isInteger(length) || length < 0) throw new Error(`lengthBucketedBatches: length ${index} is ${length}, not an integer >= 0`);
  });

  // One random stream for both shuffles, so the whole result depends on the seed alone.
  const random = new SeededRandom(seed);
  const order = shuffleInPlace(
    Array.from({ length: lengths.length }, (_, index) => index),
    random,
  );
  const chunkSize = batchSize * chunkBatches;
  const batches: number[][] = [];
  for (let start = 0; start < order.length; start += chunkSize) {
    // Array.prototype.sort is stable, so equal lengths keep their shuffled order.
    const chunk = order.slice(start, start + chunkSize).sort((a, b) => lengths[a] - lengths[b]);
    batches.push(...cutIntoBatches(chunk, batchSize, options.dropLast ?? false));
  }
  return shuffleInPlace(batches, random);
}
