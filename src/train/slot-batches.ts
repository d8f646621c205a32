/**
 * The host side of a step for T trial slots: each slot walks the training set in its own seeded order (a slot's
 * seed decides its data order, as HF's seed does), and the slots' batches are padded to one common sequence length
 * and stacked into a (T, B, S) HostBatch. Evaluation gives every slot the same batch.
 */
import type { HostBatch } from '../nn/model-input.js';
import { sequentialBatches, shuffledBatches } from './data/batches.js';
import type { Batch } from './data/collator.js';

/** The epoch's batches of example indices for one slot. Seeds differ per epoch so each epoch reshuffles. */
export function epochBatches(count: number, batchSize: number, seed: number, epoch: number): number[][] {
  return shuffledBatches(count, { batchSize, seed: (seed * 1_000_003 + epoch) >>> 0 });
}

export function evaluationBatches(count: number, batchSize: number): number[][] {
  return sequentialBatches(count, { batchSize });
}

/** Stacks one batch per slot into (T, B, S), padding every slot to the longest sequence of all. */
export function stackSlots(batches: Batch[], padId = 0): HostBatch {
  const slots = batches.length;
  const batch = batches[0].batchSize;
  if (batches.some((b) => b.batchSize !== batch)) {
    throw new Error(`stackSlots: slots have different batch sizes (${batches.map((b) => b.batchSize).join(', ')})`);
  }
  const seq = Math.max(...batches.map((b) => b.seqLength));
  const inputIds = new Int32Array(slots * batch * seq).fill(padId);
  const attentionMask = new Int32Array(slots * batch * seq);
  const labels = new Int32Array(slots * batch);
  batches.forEach((b, t) => {
    for (let row = 0; row < batch; row++) {
      const from = row * b.seqLength;
      const to = (t * batch + row) * seq;
      inputIds.set(b.inputIds.subarray(from, from + b.seqLength), to);
      attentionMask.set(b.attentionMask.subarray(from, from + b.seqLength), to);
    }
    labels.set(b.labels, t * batch);
  });
  return { slots, batch, seq, inputIds, attentionMask, labels };
}
