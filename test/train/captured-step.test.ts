/**
 * Captured and replayed training steps (issue 14, src/train/captured-training-step.ts, src/gpu/command-trace.ts).
 * The independent peer is the same step recorded in full through the tensor layer every time
 * (`recordTrainingStep`): on the same model, data, dropout seeds, learning rates and clipping, replaying must give
 * the same bits — same kernels in the same order on the same values, only the buffers differ.
 */
import { describe, expect, it } from 'vitest';
import { AdamW } from '../../src/nn/adamw.js';
import { createSlotDropout } from '../../src/nn/forward-context.js';
import type { HostBatch } from '../../src/nn/model-input.js';
import { SequenceClassifier } from '../../src/nn/sequence-classifier.js';
import { zeros } from '../../src/tensor/create.js';
import { keep } from '../../src/tensor/scope.js';
import { CapturedTrainingStep } from '../../src/train/captured-training-step.js';
import { recordTrainingStep } from '../../src/train/training-step.js';
import type { Device } from '../../src/gpu/device.js';
import { launchFill } from '../../kernels/elementwise/elementwise.js';
import { useDevice } from '../helpers/gpu.js';
import { randomInts } from '../helpers/random.js';
import { tinyModelConfig } from '../helpers/tiny-model.js';

const device = useDevice();
const config = { ...tinyModelConfig, maxPositionEmbeddings: 8 };
const settings = (lr: number, maxGradNorm: number) => ({ learningRate: lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, maxGradNorm });

/** Two slots, `batch` sequences of `seq` tokens, the last one padded by one token. */
function batchOf(seed: number, batch: number, seq: number): HostBatch {
  const slots = 2;
  const attentionMask = Int32Array.from({ length: slots * batch * seq }, (_, i) => (i % (batch * seq) === batch * seq - 1 ? 0 : 1));
  return { slots, batch, seq, inputIds: randomInts(slots * batch * seq, seed, 1, 30), attentionMask, labels: randomInts(slots * batch, seed + 1, 0, 2) };
}

/** `packed` false: every S is its own shape (packed, batches of 2 to 8 tokens a sequence share one). */
function setup(d: Device, maxGradNorm = 1, packed = true) {
  const model = new SequenceClassifier(d, config, [3, 4]);
  model.packSequences = packed;
  model.train();
  const optimizer = new AdamW(d, model.namedParameters(), [settings(1e-2, maxGradNorm), settings(3e-3, maxGradNorm)]);
  const dropout = createSlotDropout(d, [7, 8], [0.1, 0.2], [0.1, 0.0]);
  const lossSum = keep(zeros(d, [2]));
  const parts = { device: d, model, optimizer, dropout };
  const release = () => {
    lossSum.release();
    for (const t of Object.values(dropout)) t.release();
    optimizer.release();
    model.release();
  };
  return { model, optimizer, parts, lossSum, release };
}

async function state(model: SequenceClassifier, optimizer: AdamW, lossSum: { toArray(): Promise<Float32Array | Int32Array> }) {
  const out: number[] = [...(await lossSum.toArray())];
  for (const [, t] of model.namedParameters()) out.push(...(await t.toArray()));
  for (const a of optimizer.stateArrays().values()) {
    const size = a.shape.reduce((p, n) => p * n, 1);
    out.push(...new Float32Array(await device().read(a.buffer, size * 4, a.byteOffset)));
  }
  return Float32Array.from(out);
}

describe('captured training steps', () => {
  it('replays give the same bits as steps recorded in full, across batch shapes, learning rates and a refill', async () => {
    const d = device();
    const full = setup(d);
    const replayed = setup(d);
    const captured = new CapturedTrainingStep();
    // Two shapes alternate (a short last batch of an epoch), the data and the learning rates change every step.
    const plan = [[4, 6], [4, 6], [2, 5], [4, 6], [2, 5], [4, 6], [4, 6]] as const;
    for (const [step, [batch, seq]] of plan.entries()) {
      const host = batchOf(100 + step, batch, seq);
      const rates = [1e-2 / (step + 1), 3e-3 * (step + 1)];
      if (step === 4) {
        // A refill of slot 1 between steps: new optimizer settings and dropout base, same buffers.
        for (const run of [full, replayed]) run.optimizer.resetSlot(1, settings(5e-3, 1));
      }
      const steps = [step, step === 4 ? 0 : step];
      recordTrainingStep(full.parts, host, steps, rates, full.lossSum);
      captured.record(replayed.parts, host, steps, rates, replayed.lossSum);
    }
    expect(captured.failure).toBeNull();
    // Each shape is recorded in full the first time, captured the second, replayed after.
    expect(captured.counts).toEqual({ captured: 2, replayed: 3, uncaptured: 2 });
    const [a, b] = [await state(full.model, full.optimizer, full.lossSum), await state(replayed.model, replayed.optimizer, replayed.lossSum)];
    expect(a.every(Number.isFinite)).toBe(true);
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    captured.release();
    full.release();
    replayed.release();
  });

  it('captures again when clipping is switched on, the loss accumulator changes or the model takes another kernel path', async () => {
    const d = device();
    const run = setup(d, 0, false); // padded: switching attention's path keeps the layout
    const captured = new CapturedTrainingStep();
    const host = batchOf(5, 2, 4);
    captured.record(run.parts, host, [0, 0], [1e-3, 1e-3], run.lossSum);
    captured.record(run.parts, host, [1, 1], [1e-3, 1e-3], run.lossSum);
    run.optimizer.resetSlot(0, settings(1e-3, 1)); // clipping on: the optimizer records two more kernels
    captured.record(run.parts, host, [2, 2], [1e-3, 1e-3], run.lossSum);
    const other = keep(zeros(d, [2]));
    captured.record(run.parts, host, [3, 3], [1e-3, 1e-3], other);
    captured.record(run.parts, host, [4, 4], [1e-3, 1e-3], other);
    expect(captured.counts).toEqual({ captured: 3, replayed: 1, uncaptured: 1 });
    run.model.layers[0].attention.fused = false; // another kernel path: captured again, then replayed
    captured.record(run.parts, host, [5, 5], [1e-3, 1e-3], other);
    captured.record(run.parts, host, [6, 6], [1e-3, 1e-3], other);
    expect(captured.counts).toEqual({ captured: 4, replayed: 2, uncaptured: 1 });
    other.release();
    captured.release();
    run.release();
  });

  it('keeps at most 8 shapes, least recently used dropped, and gives their buffers back', async () => {
    const d = device();
    const run = setup(d, 1, false);
    const before = d.poolStats().inUse;
    const captured = new CapturedTrainingStep();
    for (let round = 0; round < 3; round++) {
      for (let seq = 2; seq <= 8; seq++) for (const batch of [1, 2]) captured.record(run.parts, batchOf(seq, batch, seq), [round, round], [1e-3, 1e-3], run.lossSum);
    }
    // 14 shapes seen thrice: each is captured on its second round, when the 8 kept are the 8 most recent.
    expect(captured.shapesKept).toBe(8);
    expect(captured.counts).toEqual({ captured: 28, replayed: 0, uncaptured: 14 });
    captured.release();
    await d.sync();
    expect(d.poolStats().inUse).toBe(before);
    run.release();
  });

  it('captures a shape only when it comes back within 16 steps, and replays a kept one whenever it comes', async () => {
    const d = device();
    const run = setup(d, 1, false);
    const captured = new CapturedTrainingStep();
    const step = (seq: number, i: number) => captured.record(run.parts, batchOf(i, 2, seq), [i, i], [1e-3, 1e-3], run.lossSum);
    step(3, 0); // shape 3 first comes
    for (let i = 1; i <= 17; i++) step(4, i); // shape 4: full, captured, then 15 replays
    step(3, 18); // 18 steps after its last: recorded in full again
    expect(captured.counts).toEqual({ captured: 1, replayed: 15, uncaptured: 3 });
    for (let i = 19; i <= 36; i++) step(3, i); // now shape 3 is captured; shape 4 stays kept
    step(4, 37); // kept, so replayed although 21 steps have passed
    expect(captured.counts).toEqual({ captured: 2, replayed: 33, uncaptured: 3 });
    captured.release();
    run.release();
  });

  it('gives every buffer back on release', async () => {
    const d = device();
    const before = d.poolStats().inUse;
    const run = setup(d);
    const captured = new CapturedTrainingStep();
    for (let step = 0; step < 3; step++) captured.record(run.parts, batchOf(step, 2, 4), [step, step], [1e-3, 1e-3], run.lossSum);
    captured.release();
    run.release();
    await d.sync();
    expect(d.poolStats().inUse).toBe(before);
  });
});

describe('Device capture', () => {
  it('fails a capture that uploads new data inside it, and one that leaves a buffer in use, naming the reason', () => {
    const d = device();
    const buffer = d.allocate(16, 'test');
    d.beginCapture();
    d.write(buffer, new Float32Array(4));
    const written = d.endCapture();
    expect(written.trace).toBeNull();
    expect(written.reason).toMatch(/upload of 16 bytes/);
    d.beginCapture();
    const kept = d.allocate(64, 'test');
    const escaped = d.endCapture();
    expect(escaped.trace).toBeNull();
    expect(escaped.reason).toMatch(/1 buffer\(s\) allocated during the capture are still in use/);
    d.release(kept);
    d.release(buffer);
  });

  it("keeps a trace's uniform buffers alive when the uniform cache evicts them, so the trace still replays right", async () => {
    const d = device();
    const capacity = d.cacheCapacity;
    d.cacheCapacity = 4;
    const out = d.allocate(16, 'test');
    d.beginCapture();
    launchFill(d, out, 4, 2.5, 'f32');
    const { trace } = d.endCapture();
    for (let i = 0; i < 12; i++) launchFill(d, out, 4, i, 'f32'); // 12 other uniforms: the trace's is evicted
    await d.sync();
    d.replay(trace!);
    expect([...new Float32Array(await d.read(out, 16))]).toEqual([2.5, 2.5, 2.5, 2.5]);
    trace!.dispose();
    d.release(out);
    d.cacheCapacity = capacity;
  });

  it('refuses to replay a trace after the device replaced a resource it may bind', () => {
    const d = device();
    d.beginCapture();
    const { trace } = d.endCapture();
    expect(trace).not.toBeNull();
    d.replay(trace!);
    // A scratch texture larger than any before replaces the old one: the epoch moves.
    d.scratchTextures.get('capture test', 8, 8);
    d.scratchTextures.get('capture test', 64, 64);
    expect(() => d.replay(trace!)).toThrow(/resource epoch/);
    trace!.dispose();
    expect(() => d.replay(trace!)).toThrow(/disposed/);
  });
});
