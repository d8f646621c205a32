/**
 * `slots: 'auto'`: the footprint estimate against a hand count, the choice rule on hand-made probes, the device
 * limit bounding K (a device whose storage bindings hold three slots' largest buffer gets at most 2, a power of two),
 * a real probe on the tiny model, and probe batches with the training examples' lengths.
 */
import { describe, expect, it } from 'vitest';
import type { Device } from '../../src/gpu/device.js';
import { SequenceClassifier } from '../../src/nn/sequence-classifier.js';
import { chooseSlots, pickSlots, slotFootprint } from '../../src/train/slot-probe.js';
import { trainingArgumentsFrom } from '../../src/train/training-arguments.js';
import { useDevice } from '../helpers/gpu.js';
import { tinyModelConfig } from '../helpers/tiny-model.js';

const device = useDevice();

describe('slots: auto', () => {
  it('estimates a slot\'s footprint from the shapes', () => {
    const config = { ...tinyModelConfig, vocabSize: 30, hiddenSize: 8, intermediateSize: 16, numHeads: 2, numLayers: 1 };
    // batch 4 × seq 8 = 32 tokens; scores 4·2·8·8 = 512; the largest parameter 30·8 = 240.
    const f = slotFootprint(config, 4, 8, 1000, 240);
    expect(f.largest).toBe(4 * Math.max(240, 32 * 16, 512)); // 2048 bytes
    expect(f.total).toBe(4 * (4 * 1000 + 1 * (32 * (12 * 8 + 2 * 16) + 3 * 512)));
    // A model that is not the BERT-style classifier: its parameters alone.
    expect(slotFootprint(null, 4, 8, 1000, 240)).toEqual({ largest: 960, total: 16000 });
  });

  it('picks the smallest K within 5% of the best throughput', () => {
    const probes = (rates: number[]) => rates.map((r, i) => ({ k: 2 ** i, msPerStep: 1, trialStepsPerSecond: r }));
    expect(pickSlots(probes([10, 19, 30, 31]))).toBe(4); // 30 ≥ 0.95 · 31
    expect(pickSlots(probes([10, 19, 25, 31]))).toBe(8);
    expect(pickSlots(probes([10]))).toBe(1);
  });

  it('probes K = 1, 2, … within the trial count and the device\'s limits', { timeout: 120_000 }, async () => {
    const d = device();
    const args = trainingArgumentsFrom({ per_device_train_batch_size: 4, max_seq_length: 8, seed: 1 });
    const modelInit = (dev: Device, seeds: number[]) => new SequenceClassifier(dev, tinyModelConfig, seeds);
    const choice = await chooseSlots({ device: d, modelInit, args, maxSlots: 4, warmupSteps: 1, timedSteps: 2 });
    expect(choice.probes.length).toBeGreaterThanOrEqual(1);
    expect(choice.probes.map((p) => p.k)).toEqual([1, 2, 4].slice(0, choice.probes.length));
    for (const p of choice.probes) expect(p.trialStepsPerSecond).toBeCloseTo((1000 * p.k) / p.msPerStep, 6);
    expect(choice.probes.map((p) => p.k)).toContain(choice.slots);
    expect(choice.summary).toMatch(new RegExp(`^${choice.slots} fused per group \\(auto: trial-steps/s K=1 \\d+\\.\\d`));
    // A device whose storage bindings hold 3 slots' largest buffer: K ≤ 3, so 1 and 2 are probed, never 4.
    const largest = 4 * Math.max(...modelInit(d, [1]).namedParameters().map(([, t]) => t.size), 32 * 8, 4 * 2 * 8 * 8);
    const limits = { maxStorageBufferBindingSize: 3 * largest + 1, maxBufferSize: 2 ** 40 };
    const small = new Proxy(d, {
      get: (target, key) => {
        if (key === 'gpuDevice') return { limits };
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const bounded = await chooseSlots({ device: small, modelInit: (_dev, seeds) => modelInit(d, seeds), args, maxSlots: 16, warmupSteps: 1, timedSteps: 1 });
    expect(bounded.limit).toBe(3);
    expect(Math.max(...bounded.probes.map((p) => p.k))).toBeLessThanOrEqual(2);
  });

  it('gives its probe batches the training examples\' lengths, packed as training packs them', { timeout: 120_000 }, async () => {
    const d = device();
    const args = trainingArgumentsFrom({ per_device_train_batch_size: 4, max_seq_length: 16, seed: 1 });
    const seen: { rows: number }[] = [];
    const modelInit = (dev: Device, seeds: number[]) => {
      const model = new SequenceClassifier(dev, { ...tinyModelConfig, maxPositionEmbeddings: 16 }, seeds);
      const forward = model.forward.bind(model);
      model.forward = (input, context) => {
        seen.push({ rows: input.dims.packed ? input.dims.rows : -1 });
        return forward(input, context);
      };
      return model;
    };
    // Examples of 3 and 5 tokens: a slot's 4 sequences hold 12 to 20 tokens, 32 rows packed (64 padded).
    await chooseSlots({ device: d, modelInit, args, maxSlots: 2, warmupSteps: 1, timedSteps: 1, lengths: [3, 5, 5, 3] });
    expect(seen.length).toBeGreaterThan(0);
    for (const { rows } of seen) expect(rows).toBe(32);
    // Without lengths, full sequences: 64 rows a slot.
    seen.length = 0;
    await chooseSlots({ device: d, modelInit, args, maxSlots: 1, warmupSteps: 1, timedSteps: 1 });
    for (const { rows } of seen) expect(rows).toBe(64);
  });
});
