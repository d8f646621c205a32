/**
 * SelfAttention's fused op (kernels/attention) against its unfused composition (`fused = false`), inside a
 * SequenceClassifier of 2 slots with padding: in training with dropout on (hidden and attention probabilities, so
 * the attention masks must be the unfused path's, element for element, and the dropout sites must keep their
 * numbers), logits, loss and every parameter's gradient; in evaluation, logits. Also that the fused path really
 * runs its 1 + 2 dispatches per layer and the unfused path none of them.
 *
 * Tolerance: compare.ts's measure below 1e-4 for logits and loss and 1e-3 for gradients, each gradient judged
 * against 1% of the model's overall gradient scale too (as test/nn/sequence-classifier.test.ts does: some are
 * exactly zero in exact arithmetic, e.g. a key bias, which softmax ignores, and are float32 noise on either path).
 * Both paths compute in float32 and differ only in summation order and in where 1/√d and 1/l are applied: errors of
 * a few ulps per sum, far below the bounds; one differing mask bit changes a gradient at order 1.
 */
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/nn/config.js';
import { createSlotDropout, ForwardContext, writeDropoutCallBase, type SlotDropout } from '../../src/nn/forward-context.js';
import { releaseInput, uploadBatch, type HostBatch } from '../../src/nn/model-input.js';
import { SequenceClassifier } from '../../src/nn/sequence-classifier.js';
import { backward, noGrad } from '../../src/tensor/autograd.js';
import { tidy } from '../../src/tensor/scope.js';
import type { Device } from '../../src/gpu/device.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { expectClose } from '../helpers/compare.js';
import { useDevice } from '../helpers/gpu.js';
import { randomArray, randomInts } from '../helpers/random.js';

const device = useDevice();

const config: ModelConfig = {
  vocabSize: 40, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 24, maxPositionEmbeddings: 16,
  numLabels: 3, hiddenDropoutProb: 0.1, attentionDropoutProb: 0.3, layerNormEps: 1e-12,
};

/** 2 slots of 2 sequences padded to S = 7 (odd, so no vec4 paths line up), lengths 4 and 6 / 7 and 3. */
function batch(): HostBatch {
  const [slots, batchSize, seq] = [2, 2, 7];
  const lengths = [4, 6, 7, 3];
  const mask = Int32Array.from({ length: slots * batchSize * seq }, (_, n) => (n % seq < lengths[Math.floor(n / seq)] ? 1 : 0));
  return {
    slots, batch: batchSize, seq,
    inputIds: randomInts(slots * batchSize * seq, 5, 1, 40),
    attentionMask: mask,
    labels: Int32Array.from({ length: slots * batchSize }, (_, i) => i % 3),
  };
}

/** Weights of order 0.5 (as sequence-classifier.test.ts): attention far from uniform, so every path matters. */
function randomizeWeights(d: Device, model: SequenceClassifier): void {
  model.namedParameters().forEach(([name, t], k) => {
    const values = randomArray(t.size, 700 + k, -0.6, 0.6);
    if (name.endsWith('norm.weight')) values.forEach((v, i) => (values[i] = 1 + v / 2));
    d.write(t.buffer, values);
  });
}

function setFused(model: SequenceClassifier, fused: boolean): void {
  for (const layer of model.layers) layer.attention.fused = fused;
}

interface Run {
  logits: Float32Array;
  loss: Float32Array;
  grads: Map<string, Float32Array>;
  kernels: string[];
}

/** One forward (and in training a backward), recording the kernels dispatched. */
async function run(d: Device, model: SequenceClassifier, host: HostBatch, dropout: SlotDropout | null): Promise<Run> {
  const input = uploadBatch(d, host, config.maxPositionEmbeddings);
  const kernels: string[] = [];
  const dispatch = d.dispatch.bind(d);
  d.dispatch = (x) => {
    kernels.push(x.kernel);
    dispatch(x);
  };
  const training = dropout !== null;
  const context = new ForwardContext(model.slots, training, dropout);
  try {
    const step = () =>
      tidy(() => {
        const logits = model.forward(input, context);
        const loss = model.loss(logits, input.labels!);
        if (training) backward(loss);
        return { logits, loss };
      });
    const { logits, loss } = training ? step() : noGrad(step);
    const f32 = async (t: Tensor) => (await t.toArray()) as Float32Array;
    const result: Run = { logits: await f32(logits), loss: await f32(loss), grads: new Map(), kernels };
    logits.release();
    loss.release();
    for (const [name, p] of model.namedParameters()) {
      if (!p.grad) continue;
      result.grads.set(name, await f32(p.grad));
      p.grad.release();
      p.grad = null;
    }
    return result;
  } finally {
    d.dispatch = dispatch;
    releaseInput(input);
  }
}

describe('fused SelfAttention against the unfused composition', () => {
  it('training with dropout: same logits, loss and gradients of every parameter (same masks)', async () => {
    const d = device();
    const model = new SequenceClassifier(d, config, [3, 4]);
    randomizeWeights(d, model);
    const host = batch();
    const dropout = createSlotDropout(d, [17, -5], [0.1, 0.2], [0.3, 0.5]);
    writeDropoutCallBase(dropout, [2, 9]); // each slot at its own step
    setFused(model, true);
    const fused = await run(d, model, host, dropout);
    setFused(model, false);
    const unfused = await run(d, model, host, dropout);

    expect(fused.kernels.filter((k) => k.startsWith('attention'))).toEqual([
      'attention', 'attention',
      'attention_backward_query', 'attention_backward_key_value', 'attention_backward_query', 'attention_backward_key_value',
    ]);
    expect(unfused.kernels.some((k) => k.startsWith('attention'))).toBe(false);
    expect(unfused.kernels.filter((k) => k === 'dropout').length).toBe(fused.kernels.filter((k) => k === 'dropout').length + 4);

    expectClose(fused.logits, unfused.logits, 1e-4, 'logits');
    expectClose(fused.loss, unfused.loss, 1e-4, 'loss');
    let squares = 0;
    let count = 0;
    for (const g of unfused.grads.values()) for (const v of g) (squares += v * v), count++;
    const scale = 1e-2 * Math.sqrt(squares / count);
    expect([...fused.grads.keys()]).toEqual(model.namedParameters().map(([name]) => name));
    for (const [name, g] of unfused.grads) expectClose(fused.grads.get(name)!, g, 1e-3, `gradient of ${name}`, scale);

    // Dropout is really on: evaluation gives other logits.
    model.eval();
    const evaluated = await run(d, model, host, null);
    expect(Math.max(...evaluated.logits.map((v, i) => Math.abs(v - fused.logits[i])))).toBeGreaterThan(1e-3);
    for (const t of Object.values(dropout)) t.release();
    model.release();
  });

  it('evaluation (no dropout): same logits', async () => {
    const d = device();
    const model = new SequenceClassifier(d, config, [6, 7]);
    randomizeWeights(d, model);
    model.eval();
    const host = batch();
    setFused(model, true);
    const fused = await run(d, model, host, null);
    setFused(model, false);
    const unfused = await run(d, model, host, null);
    expect(fused.kernels.filter((k) => k === 'attention').length).toBe(2);
    expect(fused.kernels.includes('dropout')).toBe(false);
    expectClose(fused.logits, unfused.logits, 1e-4, 'logits');
    expectClose(fused.loss, unfused.loss, 1e-4, 'loss');
    model.release();
  });

  it('a head size the fused kernels do not take falls back to the unfused composition', async () => {
    const d = device();
    const wide: ModelConfig = { ...config, hiddenSize: 136, numHeads: 1, intermediateSize: 8, numLayers: 1 };
    const model = new SequenceClassifier(d, wide, [1]);
    model.eval();
    const host = { ...batch(), slots: 1 };
    host.inputIds = host.inputIds.subarray(0, 14);
    host.attentionMask = host.attentionMask.subarray(0, 14);
    host.labels = host.labels!.subarray(0, 2);
    const result = await run(d, model, host, null);
    expect(result.kernels.includes('attention')).toBe(false);
    expect(result.kernels.some((k) => k.startsWith('softmax'))).toBe(true);
    expect(result.logits.every(Number.isFinite)).toBe(true);
    model.release();
  });
});
