/**
 * Training that blows up, and checkpoints that would load garbage: a Trainer whose loss stops being finite throws
 * a TrainingDivergedError naming the step and writes no checkpoint from then on; in a fused group only that slot
 * stops; checkpoints with the wrong dtype or non-finite weights, and unreadable trainer state, are refused with
 * the file and tensor named.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AdamW } from '../../src/nn/adamw.js';
import type { ModelConfig } from '../../src/nn/config.js';
import { SequenceClassifier } from '../../src/nn/sequence-classifier.js';
import type { Device } from '../../src/gpu/device.js';
import { readSafetensors, writeSafetensors, type TensorData } from '../../src/train/checkpoint/safetensors.js';
import type { EncodedExample } from '../../src/train/data/collator.js';
import { Trainer } from '../../src/train/trainer.js';
import { optimizerSettings, trainingArgumentsFrom, type TrainingArguments } from '../../src/train/training-arguments.js';
import { loadModelWeights, saveModelWeights, TrainingDivergedError, TrainingGroup } from '../../src/train/training-group.js';
import { useDevice } from '../helpers/gpu.js';

const device = useDevice();

const config: ModelConfig = {
  vocabSize: 40, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 12, maxPositionEmbeddings: 16,
  numLabels: 2, hiddenDropoutProb: 0, attentionDropoutProb: 0, layerNormEps: 1e-12,
};

/** 8 examples of 4 tokens, labels alternating. */
const train: EncodedExample[] = Array.from({ length: 8 }, (_, i) => ({
  inputIds: [1, 5 + i, 6 + (i % 3), 2], attentionMask: [1, 1, 1, 1], label: i % 2,
}));

function group(d: Device, slotArgs: TrainingArguments[]) {
  const model = new SequenceClassifier(d, config, slotArgs.map((a) => a.seed));
  const optimizer = new AdamW(d, model.namedParameters(), slotArgs.map(optimizerSettings));
  const g = new TrainingGroup({ device: d, model, optimizer, slotArgs, trainExamples: train });
  return { model, optimizer, group: g, release: () => { g.release(); optimizer.release(); model.release(); } };
}

const losses = (g: TrainingGroup, slot: number) => g.state.logHistory[slot].filter((e) => e.loss !== undefined).map((e) => e.loss);

// Constant schedule, no warmup, no clipping: the first update moves every weight with a gradient by about
// lr·sign(g) (Adam's first step), so with lr 1e30 the weights reach ~1e30 after step 1, and the step-2 forward
// pass overflows float32 (the squares in LayerNorm's variance alone are ~1e60). Step 1's loss, from the initial
// weights, is finite; the loss read at step 2 (logging every step) is the first that is not.
const diverging = { learning_rate: 1e30, lr_scheduler_type: 'constant' as const, max_grad_norm: 0, per_device_train_batch_size: 4, max_steps: 6, logging_steps: 1, seed: 1 };

describe('divergence', () => {
  it('Trainer.train throws a TrainingDivergedError naming the step and the loss, and saves no checkpoint after it', async () => {
    const outputDir = await mkdtemp(join(tmpdir(), 'webtrainer-diverge-'));
    const trainer = new Trainer({
      modelInit: (d, seeds) => new SequenceClassifier(d, config, seeds),
      args: { ...diverging, save_strategy: 'steps', save_steps: 1, output_dir: outputDir },
      trainDataset: train,
      device: device(),
    });
    const error = await trainer.train().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingDivergedError);
    const { divergence } = error as TrainingDivergedError;
    expect(divergence.step).toBe(2);
    expect(divergence.what).toBe('loss');
    expect(Number.isFinite(divergence.value)).toBe(false);
    expect((error as Error).message).toMatch(/^training diverged at step 2: loss is (NaN|-?Infinity) /);
    // Training stopped at step 2: checkpoint-1 holds the finite weights after step 1; nothing was written at or after step 2.
    expect(trainer.state!.globalStep).toBe(2);
    expect(await readdir(outputDir)).toEqual(['checkpoint-1']);
    const saved = await readSafetensors(join(outputDir, 'checkpoint-1', 'model.safetensors'));
    for (const [name, t] of saved.tensors) expect(t.data.every(Number.isFinite), name).toBe(true);
    trainer.release();
  });

  it('in a fused group only the diverged slot stops; the other trains to the end as it would alone', async () => {
    const bad = trainingArgumentsFrom(diverging);
    const good = trainingArgumentsFrom({ ...diverging, learning_rate: 0.01, seed: 2 });
    const fused = group(device(), [bad, good]);
    const [badOut, goodOut] = await fused.group.train();
    expect(badOut.diverged).toMatchObject({ step: 2, what: 'loss' });
    expect(badOut.stoppedEarly).toMatch(/^loss is (NaN|-?Infinity) at step 2$/);
    expect(goodOut.diverged).toBeNull();
    expect(goodOut.stoppedEarly).toBeNull();
    expect(fused.group.state.globalStep).toBe(6);
    const goodLosses = losses(fused.group, 1);
    expect(goodLosses).toHaveLength(6);
    const single = group(device(), [good]);
    await single.group.train();
    // The diverged slot's NaNs do not leak into its neighbour: the same curve as training it alone.
    goodLosses.forEach((loss, i) => expect(loss).toBeCloseTo(losses(single.group, 0)[i], 4));
    // Saving the group's final weights is refused (slot 0 is NaN), naming the tensor and slot.
    const path = join(await mkdtemp(join(tmpdir(), 'webtrainer-diverge-')), 'model.safetensors');
    await expect(saveModelWeights(fused.model, path)).rejects.toThrow(new RegExp(`^${path}: not saved: tensor "[^"]+" \\(slot 0\\) holds (NaN|-?Infinity) at index \\d+`));
    expect(existsSync(path)).toBe(false);
    single.release();
    fused.release();
  });
});

describe('loading checkpoints', () => {
  async function savedModel(): Promise<{ path: string; tensors: Map<string, TensorData>; model: SequenceClassifier }> {
    const model = new SequenceClassifier(device(), config, [3]);
    const path = join(await mkdtemp(join(tmpdir(), 'webtrainer-load-')), 'model.safetensors');
    await saveModelWeights(model, path);
    return { path, tensors: (await readSafetensors(path)).tensors, model };
  }

  it('refuses a tensor whose dtype is not the model\'s, naming it', async () => {
    const { path, tensors, model } = await savedModel();
    const bias = tensors.get('classifier.bias')!;
    tensors.set('classifier.bias', { dtype: 'I32', shape: bias.shape, data: new Int32Array(bias.data.length) });
    await writeSafetensors(path, tensors);
    await expect(loadModelWeights(model, path, device())).rejects.toThrow(`${path}: checkpoint does not match the model:\n  tensor "classifier.bias" has dtype I32, expected F32`);
    model.release();
  });

  it('refuses non-finite weights, naming the tensor and the index, before loading any', async () => {
    const { path, tensors, model } = await savedModel();
    const before = await model.namedParameters()[0][1].toArray();
    const weight = tensors.get('classifier.weight')!;
    weight.data[5] = Infinity;
    await writeSafetensors(path, tensors);
    await expect(loadModelWeights(model, path, device())).rejects.toThrow(
      `${path}: refused: tensor "classifier.weight" holds Infinity at index 5; the weights are not finite (a diverged run)`,
    );
    expect(await model.namedParameters()[0][1].toArray()).toEqual(before); // nothing was written
    model.release();
  });

  it('names trainer_state.json when it is missing or corrupt during a resume', async () => {
    const outputDir = await mkdtemp(join(tmpdir(), 'webtrainer-resume-'));
    const args = trainingArgumentsFrom({ learning_rate: 0.01, per_device_train_batch_size: 4, max_steps: 2, logging_steps: 1, save_steps: 1, output_dir: outputDir });
    const first = group(device(), [args]);
    await first.group.train();
    first.release();
    const checkpoint = join(outputDir, 'checkpoint-1');
    const state = join(checkpoint, 'trainer_state.json');
    await writeFile(state, '{"globalStep": 1, "logHis');
    const resumed = group(device(), [args]);
    await expect(resumed.group.train({ resumeFromCheckpoint: checkpoint })).rejects.toThrow(new RegExp(`^${state}: not valid JSON \\(`));
    await writeFile(state, '[]');
    await expect(resumed.group.train({ resumeFromCheckpoint: checkpoint })).rejects.toThrow(`${state}: not a checkpoint of this 1-slot group`);
    const missing = join(outputDir, 'nowhere');
    await mkdir(missing);
    await expect(resumed.group.train({ resumeFromCheckpoint: missing })).rejects.toThrow(`${join(missing, 'trainer_state.json')}: cannot read: ENOENT: no such file or directory`);
    resumed.release();
  });
});
