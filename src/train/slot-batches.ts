/**
 * The host side of a step for T trial slots: each slot walks the training set in its own seeded order (a slot's
 * seed decides its data order, as HF's seed does), and the slots' batches are padded to one common sequence length
 * and stacked into a (T, B, S) HostBatch. Evaluation gives every slot the same batch.
 */
import type { HostBatch } from '../nn/model-input.js';
import { sequentialBatches, shuffledBatches } from './data/batches.js';
import { lengthBucketedBatches } from './data/length-buckets.js';
import type { Batch } from './data/collator.js';

/** The epoch's batches of example indices for one slot. Seeds differ per epoch so each epoch reshuffles. */
export function epochBatches(count: number, batchSize: number, seed: number, epoch: number): number[][] {
  return shuffledBatches(count, { batchSize, seed: epochSeed(seed, epoch) });
}

/** Like epochBatches, but each batch holds examples of similar length (HF's group_by_length). */
export function lengthGroupedEpochBatches(lengths: readonly number[], batchSize: number, seed: number, epoch: number): number[][] {
  return lengthBucketedBatches(lengths, { batchSize, seed: epochSeed(seed, epoch) });
}

function epochSeed(seed: number, epoch: number): number {
  return (seed * 1_000_003 + epoch) >>> 0;
}

/**
 * Evaluation batches of example indices, `batchSize` to a batch, of examples of similar length: indices in order of
 * length (ties in dataset order), so a batch pads to little more than its own examples. An example's logits do not
 * depend on the others in its batch (every kernel computes a row, or a sequence's rows, on its own, and padding keys
 * and rows are skipped), so this changes no prediction; the caller puts each example's logits back at its index.
 */
export function evaluationBatches(lengths: readonly number[], batchSize: number): number[][] {
  const byLength = Array.from(lengths.keys()).sort((a, b) => lengths[a] - lengths[b] || a - b);
  return sequentialBatches(lengths.length, { batchSize }).map((batch) => batch.map((position) => byLength[position]));
}

/** Label of filler rows: the cross-entropy's ignore index, so they count in no slot's loss. */
export const IGNORED_LABEL = -100;

/**
 * Stacks one batch per slot into (T, B, S), padding every slot to the longest sequence of all. A slot whose batch
 * is smaller (the short last batch of an epoch, which length grouping can put anywhere) gets filler rows with an
 * ignored label.
 */
export function stackSlots(batches: Batch[], padId = 0): HostBatch {
  const slots = batches.length;
  const batch = Math.max(...batches.map((b) => b.batchSize));
  const seq = Math.max(...batches.map((b) => b.seqLength));
  const inputIds = new Int32Array(slots * batch * seq).fill(padId);
  const attentionMask = new Int32Array(slots * batch * seq);
  const labels = new Int32Array(slots * batch).fill(IGNORED_LABEL);
  for (let row = 0; row < slots * batch; row++) attentionMask[row * seq] = 1; // Filler rows attend to one token.
  batches.forEach((b, t) => {
    for (let row = 0; row < b.batchSize; row++) {
      const from = row * b.seqLength;
      const to = (t * batch + row) * seq;
      inputIds.set(b.inputIds.subarray(from, from + b.seqLength), to);
      attentionMask.set(b.attentionMask.subarray(from, from + b.seqLength), to);
    }
    labels.set(b.labels, t * batch);
  });
  return { slots, batch, seq, inputIds, attentionMask, labels };
}
