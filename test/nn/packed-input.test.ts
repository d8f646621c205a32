/**
 * The packed input layout (src/nn/model-input.ts): each slot's sequences end to end.
 * - `inputLayout` on hand-worked batches: where each sequence starts, which rows it owns, the rounding, the fallback
 *   to padded for a mask that is not right padding.
 * - A SequenceClassifier fed the same batch packed and padded: logits, loss and every gradient agree (dropout rates
 *   0; the same tolerances as the fused-against-unfused comparisons, test/helpers/fused-model-comparison.ts: the
 *   kernels compute the same rows, only the column sums over rows see fewer, zero, rows).
 * - With dropout on, a slot's results do not depend on what the other slots hold: a slot trained beside another
 *   slot's longer batch (more rows a slot) gets the bits it gets alone, mask for mask.
 */
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/nn/config.js';
import { createSlotDropout, ForwardContext, writeDropoutCallBase } from '../../src/nn/forward-context.js';
import { inputLayout, PACKED_ROW_MULTIPLE, releaseInput, uploadBatch, type HostBatch } from '../../src/nn/model-input.js';
import { SequenceClassifier } from '../../src/nn/sequence-classifier.js';
import { backward, noGrad } from '../../src/tensor/autograd.js';
import { sum } from '../../src/tensor/ops/reduce.js';
import { tidy } from '../../src/tensor/scope.js';
import type { Device } from '../../src/gpu/device.js';
import { expectClose } from '../helpers/compare.js';
import { useDevice } from '../helpers/gpu.js';
import { randomArray, randomInts } from '../helpers/random.js';

const device = useDevice();

const config: ModelConfig = {
  vocabSize: 40, hiddenSize: 12, numLayers: 2, numHeads: 2, intermediateSize: 16, maxPositionEmbeddings: 16,
  numLabels: 3, hiddenDropoutProb: 0.2, attentionDropoutProb: 0.1, layerNormEps: 1e-12,
};

/** (T, B, S) right-padded sequences of these lengths (0: a filler sequence with no token), random ids. */
function hostBatch(lengths: number[][], seq: number, seed: number): HostBatch {
  const slots = lengths.length;
  const batch = lengths[0].length;
  const flat = lengths.flat();
  return {
    slots, batch, seq,
    inputIds: randomInts(slots * batch * seq, seed, 1, config.vocabSize),
    attentionMask: Int32Array.from({ length: slots * batch * seq }, (_, i) => (i % seq < flat[Math.floor(i / seq)] ? 1 : 0)),
    labels: Int32Array.from({ length: slots * batch }, (_, i) => i % 3),
  };
}

/** One slot's part of a batch, as a batch of its own. */
function slotOf(host: HostBatch, t: number): HostBatch {
  const n = host.batch * host.seq;
  return {
    ...host, slots: 1,
    inputIds: host.inputIds.slice(t * n, (t + 1) * n),
    attentionMask: host.attentionMask.slice(t * n, (t + 1) * n),
    labels: host.labels!.slice(t * host.batch, (t + 1) * host.batch),
  };
}

function model(d: Device, seeds: number[]): SequenceClassifier {
  const m = new SequenceClassifier(d, config, seeds);
  m.namedParameters().forEach(([name, t], k) => {
    // The same values in every slot, of order 0.5 (every gradient well above float32 noise).
    const values = randomArray(t.size / seeds.length, 131 + k, -0.6, 0.6);
    if (name.endsWith('norm.weight')) values.forEach((v, i) => (values[i] = 1 + v / 2));
    const all = new Float32Array(t.size);
    for (let s = 0; s < seeds.length; s++) all.set(values, s * values.length);
    d.write(t.buffer, all);
  });
  return m;
}

interface Run {
  logits: Float32Array;
  loss: Float32Array;
  grads: Map<string, Float32Array>;
}

/** Forward (and with `rates`, training: dropout at those rates, backward) of `host`, packed or padded. */
async function run(host: HostBatch, packed: boolean, rates: number[] | null, seeds: number[]): Promise<Run> {
  const d = device();
  const m = model(d, seeds);
  const dropout = rates && createSlotDropout(d, seeds, rates, rates);
  if (dropout) writeDropoutCallBase(dropout, seeds.map(() => 3));
  else m.eval();
  const layout = inputLayout(host, config.maxPositionEmbeddings, packed);
  expect(layout.packed).toBe(packed);
  const input = uploadBatch(d, host, config.maxPositionEmbeddings, layout);
  const context = new ForwardContext(host.slots, dropout !== null, dropout);
  const record = () => {
    const logits = m.forward(input, context);
    const loss = m.loss(logits, input.labels!);
    if (dropout) backward(sum(loss));
    return { logits, loss };
  };
  const { logits, loss } = tidy(() => (dropout ? record() : noGrad(record)));
  const grads = new Map<string, Float32Array>();
  if (dropout) for (const [name, t] of m.namedParameters()) grads.set(name, Float32Array.from(await t.grad!.toArray()));
  const result = { logits: Float32Array.from(await logits.toArray()), loss: Float32Array.from(await loss.toArray()), grads };
  for (const t of [logits, loss, ...(dropout ? Object.values(dropout) : [])]) t.release();
  releaseInput(input);
  m.release();
  return result;
}

/** Slot t's values of a (T, …) array. */
const slotPart = (values: Float32Array, slots: number, t: number) => values.slice((t * values.length) / slots, ((t + 1) * values.length) / slots);

describe('packed input layout', () => {
  it('lays each slot\'s sequences end to end; the last owns the slot\'s tail; rows round up to a multiple', () => {
    const host = hostBatch([[5, 8, 0], [3, 7, 2]], 8, 1);
    const layout = inputLayout(host, 16, true);
    expect(layout.packed).toBe(true);
    expect(Array.from(layout.lengths)).toEqual([5, 8, 1, 3, 7, 2]); // a filler sequence still has its one row
    expect(layout.rows).toBe(PACKED_ROW_MULTIPLE); // 14 and 12 tokens
    // (first row, rows owned) per sequence: slot 0 at 0, 5, 13 (owning 32 − 13), slot 1 at 0, 3, 10.
    expect(Array.from(layout.sequences)).toEqual([0, 5, 5, 8, 13, 32 - 13, 0, 3, 3, 7, 10, 32 - 10]);
    const input = uploadBatch(device(), host, 16, layout);
    expect(input.dims).toEqual({ slots: 2, batch: 3, seq: layout.seq, rows: 32, packed: true });
    releaseInput(input);
    // Padded: every sequence S rows.
    const padded = inputLayout(host, 16, false);
    expect([padded.packed, padded.rows, padded.seq]).toEqual([false, 24, 8]);
    expect(Array.from(padded.sequences)).toEqual([0, 8, 8, 8, 16, 8, 0, 8, 8, 8, 16, 8]);
    expect(padded.key).not.toBe(layout.key);
  });

  it('keeps a batch padded when a mask is not right padding, and refuses a sequence over the positions', () => {
    const host = hostBatch([[5, 8]], 8, 2);
    host.attentionMask[2] = 0; // a hole in the first sequence
    expect(inputLayout(host, 16, true).packed).toBe(false);
    expect(() => inputLayout(hostBatch([[5, 8]], 8, 2), 7, true)).toThrow(/sequence length 8 is over maxPositionEmbeddings 7/);
  });

  it('gives the padded layout\'s logits, loss and gradients (dropout rates 0), and its logits in evaluation', async () => {
    // A filler sequence has one token, as stackSlots makes it (one of none attends to all S padding keys padded).
    const host = hostBatch([[5, 8, 1], [3, 7, 2]], 8, 3);
    const seeds = [21, 22];
    for (const rates of [[0, 0], null]) {
      const [packed, padded] = [await run(host, true, rates, seeds), await run(host, false, rates, seeds)];
      expectClose(packed.logits, padded.logits, 1e-5, 'logits');
      expectClose(packed.loss, padded.loss, 1e-5, 'loss');
      // A key bias's gradient is 0 in exact arithmetic: each is judged against 1% of the RMS of all as well.
      const all = [...padded.grads.values()].flatMap((g) => Array.from(g));
      const scale = 1e-2 * Math.sqrt(all.reduce((a, v) => a + v * v, 0) / Math.max(all.length, 1));
      for (const [name, g] of padded.grads) expectClose(packed.grads.get(name)!, g, 1e-3, `gradient of ${name}`, scale);
    }
  });

  it('with dropout on, a slot gets the bits it gets alone, beside a slot of more rows', async () => {
    // Slot 1 has 40 tokens (64 rows a slot), slot 0 alone has 16 (32 rows).
    const host = hostBatch([[5, 8, 3], [16, 16, 8]], 16, 4);
    const together = await run(host, true, [0.3, 0.3], [21, 21]);
    const alone = await run(slotOf(host, 0), true, [0.3], [21]);
    expect(Array.from(slotPart(together.logits, 2, 0))).toEqual(Array.from(alone.logits));
    expect(together.loss[0]).toBe(alone.loss[0]);
    for (const [name, g] of alone.grads) expectClose(slotPart(together.grads.get(name)!, 2, 0), g, 1e-5, `gradient of ${name}`, 1e-7);
    // And dropout is on: rates 0 move the logits.
    const without = await run(slotOf(host, 0), true, [0], [21]);
    expect(Array.from(without.logits)).not.toEqual(Array.from(alone.logits));
  });
});
