/**
 * A fused path of SequenceClassifier against the unfused composition it replaces (test/nn/residual-layernorm.test.ts,
 * test/nn/embeddings-fused.test.ts): two models with the same seeds and weights, T = 2 slots with their own dropout
 * rates and steps; logits, loss and every parameter's gradient, in training with dropout and in evaluation.
 *
 * Tolerances (compare.ts's measure; gradients also against 1% of the RMS of all gradients, since a key bias's is 0 in
 * exact arithmetic): logits and loss 1e-5, gradients 1e-3. The fused paths compute the same float32 operations
 * except the summation order of a norm's statistics and contracted multiply-adds: ulp-level differences, which the
 * backward through two post-LN layers grows to ~1e-5 of the gradients' RMS. A mask drawn differently moves values at
 * order 1.
 */
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/nn/config.js';
import { createSlotDropout, ForwardContext, writeDropoutCallBase, type SlotDropout } from '../../src/nn/forward-context.js';
import { releaseInput, uploadBatch, type HostBatch } from '../../src/nn/model-input.js';
import { SequenceClassifier } from '../../src/nn/sequence-classifier.js';
import { backward, noGrad } from '../../src/tensor/autograd.js';
import { sum } from '../../src/tensor/ops/reduce.js';
import { tidy } from '../../src/tensor/scope.js';
import type { Device } from '../../src/gpu/device.js';
import { expectClose, maxRelativeError } from './compare.js';
import { useDevice } from './gpu.js';
import { randomArray, randomInts } from './random.js';

const config: ModelConfig = {
  vocabSize: 40, hiddenSize: 12, numLayers: 2, numHeads: 2, intermediateSize: 16, maxPositionEmbeddings: 16,
  numLabels: 3, hiddenDropoutProb: 0.2, attentionDropoutProb: 0.1, layerNormEps: 1e-12,
};
const SLOTS = 2;
const TOLERANCE = 1e-5;
const GRADIENT_TOLERANCE = 1e-3;

/** Two sequences of lengths 5 and 8 per slot, padded to 8. */
function batch(): HostBatch {
  const [b, seq] = [2, 8];
  const lengths = [5, 8];
  const attentionMask = Int32Array.from({ length: SLOTS * b * seq }, (_, i) => (i % seq < lengths[Math.floor(i / seq) % b] ? 1 : 0));
  return {
    slots: SLOTS, batch: b, seq, attentionMask,
    inputIds: randomInts(SLOTS * b * seq, 3, 1, 40),
    labels: Int32Array.from({ length: SLOTS * b }, (_, i) => i % 3),
  };
}

/** A model per path, with the same weights (order 0.5, so every gradient is well above float32 noise). */
function model(d: Device, fused: boolean, choosePath: (model: SequenceClassifier, fused: boolean) => void): SequenceClassifier {
  const m = new SequenceClassifier(d, config, [21, 22]);
  m.namedParameters().forEach(([name, t], k) => {
    const values = randomArray(t.size, 131 + k, -0.6, 0.6);
    if (name.endsWith('norm.weight')) values.forEach((v, i) => (values[i] = 1 + v / 2));
    d.write(t.buffer, values);
  });
  choosePath(m, fused);
  return m;
}

interface Run {
  logits: Float32Array;
  loss: Float32Array;
  grads: Map<string, Float32Array>;
  dispatches: number;
}

async function run(d: Device, fused: boolean, dropout: SlotDropout | null, choosePath: (model: SequenceClassifier, fused: boolean) => void): Promise<Run> {
  const m = model(d, fused, choosePath);
  if (!dropout) m.eval();
  const input = uploadBatch(d, batch(), config.maxPositionEmbeddings);
  const context = new ForwardContext(SLOTS, dropout !== null, dropout);
  await d.sync();
  const before = d.dispatchCount;
  const record = () => {
    const logits = m.forward(input, context);
    const loss = m.loss(logits, input.labels!);
    if (dropout) backward(sum(loss));
    return { logits, loss };
  };
  const { logits, loss } = tidy(() => (dropout ? record() : noGrad(record)));
  const dispatches = d.dispatchCount - before;
  const grads = new Map<string, Float32Array>();
  if (dropout) for (const [name, t] of m.namedParameters()) grads.set(name, Float32Array.from(await t.grad!.toArray()));
  const result = { logits: Float32Array.from(await logits.toArray()), loss: Float32Array.from(await loss.toArray()), grads, dispatches };
  logits.release();
  loss.release();
  releaseInput(input);
  m.release();
  return result;
}

function compare(fused: Run, unfused: Run): void {
  expectClose(fused.logits, unfused.logits, TOLERANCE, 'logits');
  expectClose(fused.loss, unfused.loss, TOLERANCE, 'loss');
  // Some gradients are zero in exact arithmetic (a key bias shifts every score of a query alike): judge each
  // against the model's overall gradient scale as well as its own.
  let squares = 0;
  let count = 0;
  for (const g of unfused.grads.values()) for (const v of g) (squares += v * v), count++;
  const scale = 1e-2 * Math.sqrt(squares / Math.max(count, 1));
  let worst = ['', 0] as [string, number];
  for (const [name, g] of unfused.grads) {
    const error = maxRelativeError(fused.grads.get(name)!, g, scale);
    if (error > worst[1]) worst = [name, error];
    expectClose(fused.grads.get(name)!, g, GRADIENT_TOLERANCE, `gradient of ${name}`, scale);
  }
  const forward = Math.max(maxRelativeError(fused.logits, unfused.logits), maxRelativeError(fused.loss, unfused.loss));
  console.log(`fused vs unfused: forward ${forward.toExponential(1)}, worst gradient ${worst[1].toExponential(1)} (${worst[0]})`);
}

/**
 * The two tests of a fused path against the unfused one it replaces, on one SequenceClassifier configuration:
 * training with dropout (T = 2, rates 0.3 and 0.5, steps 3 and 7; then hidden rates 0, to show dropout moves the
 * logits, so equal logits mean equal masks) and evaluation; each also checks the fused path records fewer dispatches.
 * `choosePath(model, fused)` switches a model to the path.
 */
export function describeFusedAgainstUnfused(
  title: string,
  choosePath: (model: SequenceClassifier, fused: boolean) => void,
  /**
   * `exact`: the fused path computes the same float32 operations in the same order (the pooler's tanhDropout), so
   * logits, loss and gradients must match bit for bit; it only fuses a training step's work, so an evaluation
   * records as many dispatches as unfused.
   */
  options: { exact?: boolean } = {},
): void {
  const device = useDevice();
  const same = (fused: Run, unfused: Run) => {
    compare(fused, unfused);
    if (!options.exact) return;
    const bits = (a: Float32Array, b: Float32Array, what: string) => expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer)), what).toBe(true);
    bits(fused.logits, unfused.logits, 'logits');
    bits(fused.loss, unfused.loss, 'loss');
    for (const [name, grad] of fused.grads) bits(grad, unfused.grads.get(name)!, name);
  };
  describe(title, () => {
    it('training with dropout, T = 2 (rates 0.3 and 0.5, steps 3 and 7; then rates 0): logits, loss, every gradient', async () => {
      const d = device();
      const dropout = createSlotDropout(d, [5, 6], [0.3, 0.5], [0.1, 0.2]);
      writeDropoutCallBase(dropout, [3, 7]);
      const fused = await run(d, true, dropout, choosePath);
      const unfused = await run(d, false, dropout, choosePath);
      same(fused, unfused);
      expect(fused.grads.size).toBe(unfused.grads.size);
      // Dropout mattered: without it the logits move at order 1 (so equal logits above mean equal masks).
      const none = createSlotDropout(d, [5, 6], [0, 0], [0.1, 0.2]);
      writeDropoutCallBase(none, [3, 7]);
      const withoutHidden = await run(d, true, none, choosePath);
      same(withoutHidden, await run(d, false, none, choosePath));
      expect(Math.max(...withoutHidden.logits.map((v, i) => Math.abs(v - fused.logits[i])))).toBeGreaterThan(1e-3);
      console.log(`one training step's forward + backward: fused ${fused.dispatches} dispatches, unfused ${unfused.dispatches}`);
      expect(fused.dispatches).toBeLessThan(unfused.dispatches);
      for (const s of [dropout, none]) for (const t of Object.values(s)) t.release();
    });

    it('evaluation (no dropout): logits and loss', async () => {
      const d = device();
      const fused = await run(d, true, null, choosePath);
      const unfused = await run(d, false, null, choosePath);
      same(fused, unfused);
      console.log(`one evaluation forward: fused ${fused.dispatches} dispatches, unfused ${unfused.dispatches}`);
      if (options.exact) expect(fused.dispatches).toBe(unfused.dispatches);
      else expect(fused.dispatches).toBeLessThan(unfused.dispatches);
    });
  });
}
