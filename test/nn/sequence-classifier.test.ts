/**
 * The SequenceClassifier against a float64 CPU implementation (test/helpers/reference-model.ts): logits and loss,
 * every parameter's gradient by central finite differences, padding invariance, and several slots in one model.
 */
import { describe, it } from 'vitest';
import type { ModelConfig } from '../../src/nn/config.js';
import { ForwardContext } from '../../src/nn/forward-context.js';
import { uploadBatch, releaseInput, type HostBatch } from '../../src/nn/model-input.js';
import { SequenceClassifier } from '../../src/nn/sequence-classifier.js';
import { backward, noGrad } from '../../src/tensor/autograd.js';
import { tidy } from '../../src/tensor/scope.js';
import type { Device } from '../../src/gpu/device.js';
import { expectClose } from '../helpers/compare.js';
import { useDevice } from '../helpers/gpu.js';
import { randomArray, randomInts } from '../helpers/random.js';
import { referenceForward, type ReferenceBatch, type Weights } from '../helpers/reference-model.js';

const device = useDevice();

export const tinyConfig: ModelConfig = {
  vocabSize: 40, hiddenSize: 8, numLayers: 2, numHeads: 2, intermediateSize: 12, maxPositionEmbeddings: 16,
  numLabels: 3, hiddenDropoutProb: 0, attentionDropoutProb: 0, layerNormEps: 1e-12,
};

/** Each slot's weights as float64 arrays, named as the model names them. */
export async function slotWeights(model: SequenceClassifier, slot: number): Promise<Weights> {
  const weights: Weights = new Map();
  for (const [name, t] of model.namedParameters()) {
    const per = t.size / model.slots;
    weights.set(name, Float64Array.from((await t.toArray()).subarray(slot * per, (slot + 1) * per)));
  }
  return weights;
}

/** Two sequences of lengths 4 and 6 in a batch padded to `seq`, garbage ids at the padding. */
function batchOf(seq: number, slots = 1, seed = 3): HostBatch & ReferenceBatch {
  const lengths = [4, 6];
  const batch = lengths.length;
  const ids = randomInts(slots * batch * seq, seed, 1, 40);
  const mask = new Int32Array(slots * batch * seq);
  for (let t = 0; t < slots; t++) {
    lengths.forEach((length, b) => {
      for (let s = 0; s < seq; s++) mask[(t * batch + b) * seq + s] = s < length ? 1 : 0;
    });
  }
  const labels = Int32Array.from({ length: slots * batch }, (_, i) => i % 3);
  return { slots, batch, seq, inputIds: ids, attentionMask: mask, labels };
}

function slotView(host: HostBatch, slot: number): ReferenceBatch {
  const n = host.batch * host.seq;
  return {
    batch: host.batch,
    seq: host.seq,
    inputIds: host.inputIds.subarray(slot * n, (slot + 1) * n),
    attentionMask: host.attentionMask.subarray(slot * n, (slot + 1) * n),
    labels: host.labels!.subarray(slot * host.batch, (slot + 1) * host.batch),
  };
}

/**
 * Weights of order 0.5 instead of BERT's 0.02: with tiny weights attention is nearly uniform and some gradients
 * are ~1e-8, below what float32 can resolve against the finite differences; this scale exercises every path.
 */
function randomizeWeights(d: Device, model: SequenceClassifier, seed: number): void {
  model.namedParameters().forEach(([name, t], k) => {
    const values = randomArray(t.size, seed * 131 + k, -0.6, 0.6);
    if (name.endsWith('norm.weight')) values.forEach((v, i) => (values[i] = 1 + v / 2));
    d.write(t.buffer, values);
  });
}

function forward(d: Device, model: SequenceClassifier, host: HostBatch) {
  const input = uploadBatch(d, host, model.config.maxPositionEmbeddings);
  const context = new ForwardContext(model.slots, false, null);
  const result = tidy(() => {
    const logits = model.forward(input, context);
    return { logits, loss: model.loss(logits, input.labels!) };
  });
  return { ...result, release: () => releaseInput(input) };
}

describe('SequenceClassifier', () => {
  it('matches the float64 reference: logits and loss of each of 2 slots', async () => {
    const model = new SequenceClassifier(device(), tinyConfig, [11, 12]);
    const host = batchOf(7, 2);
    const { logits, loss, release } = noGrad(() => forward(device(), model, host));
    const gpuLogits = await logits.toArray();
    const gpuLoss = await loss.toArray();
    for (let slot = 0; slot < 2; slot++) {
      const ref = referenceForward(tinyConfig, await slotWeights(model, slot), slotView(host, slot));
      const per = host.batch * tinyConfig.numLabels;
      expectClose(gpuLogits.subarray(slot * per, (slot + 1) * per), ref.logits, 1e-4, `slot ${slot} logits`);
      expectClose([gpuLoss[slot]], [ref.loss], 1e-5, `slot ${slot} loss`);
    }
    release();
    model.release();
  });

  it("every parameter's gradient matches finite differences of the reference", async () => {
    const model = new SequenceClassifier(device(), tinyConfig, [5]);
    randomizeWeights(device(), model, 5);
    const host = batchOf(6);
    const { loss, release } = forward(device(), model, host);
    backward(loss);
    const weights = await slotWeights(model, 0);
    const batch = slotView(host, 0);
    const numericGrads = new Map<string, Float64Array>();
    for (const [name] of model.namedParameters()) {
      const values = weights.get(name)!;
      const numeric = new Float64Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const original = values[i];
        const h = 1e-6;
        values[i] = original + h;
        const plus = referenceForward(tinyConfig, weights, batch).loss;
        values[i] = original - h;
        const minus = referenceForward(tinyConfig, weights, batch).loss;
        values[i] = original;
        numeric[i] = (plus - minus) / (2 * h);
      }
      numericGrads.set(name, numeric);
    }
    // Some gradients are exactly zero in exact arithmetic (a key bias shifts every score of a query alike, which
    // softmax ignores): judge each against the model's overall gradient scale as well as its own.
    let squares = 0;
    let count = 0;
    for (const g of numericGrads.values()) for (const v of g) (squares += v * v), count++;
    const scale = 1e-2 * Math.sqrt(squares / count);
    for (const [name, parameter] of model.namedParameters()) {
      expectClose(await parameter.grad!.toArray(), numericGrads.get(name)!, 1e-3, `gradient of ${name}`, scale);
    }
    release();
    model.release();
  });

  it('padding positions change nothing (longer padding, garbage ids under the mask)', async () => {
    const model = new SequenceClassifier(device(), tinyConfig, [9]);
    const short = batchOf(6, 1, 3);
    const long = batchOf(11, 1, 4);
    // Same real tokens in both batches; only the padding differs.
    for (let b = 0; b < 2; b++) for (let s = 0; s < 6; s++) long.inputIds[b * 11 + s] = short.inputIds[b * 6 + s];
    const a = noGrad(() => forward(device(), model, short));
    const b = noGrad(() => forward(device(), model, long));
    expectClose(await b.logits.toArray(), await a.logits.toArray(), 1e-5, 'logits with more padding');
    a.release();
    b.release();
    model.release();
  });
});
