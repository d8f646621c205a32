/**
 * trainer.hyperparameterSearch end to end on a tiny model: HF's default objective, fused trials equal to the same
 * trials run alone, failure as data (a diverging trial is FAIL and the search goes on), and the three dialects.
 */
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/nn/config.js';
import { SequenceClassifier } from '../../src/nn/sequence-classifier.js';
import { RetryFailedTrialCallback } from '../../src/search/retry-failed-trial-callback.js';
import { GridSampler } from '../../src/search/samplers/grid.js';
import { ThresholdPruner } from '../../src/search/pruners/threshold.js';
import { tune } from '../../src/search/spaces/ray.js';
import { createStudy, loadStudy } from '../../src/search/study.js';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FrozenTrial } from '../../src/search/frozen-trial.js';
import { readSafetensors } from '../../src/train/checkpoint/safetensors.js';
import { collateEncoded, type EncodedExample } from '../../src/train/data/collator.js';
import { fusionKey } from '../../src/train/fused-runner.js';
import { trialConfiguration } from '../../src/train/hyperparameter-search.js';
import { trainingArgumentsFrom } from '../../src/train/training-arguments.js';
import { Trainer } from '../../src/train/trainer.js';
import { useDevice } from '../helpers/gpu.js';
import { randomInts } from '../helpers/random.js';
import { tinyModelConfig } from '../helpers/tiny-model.js';

const device = useDevice();

const config: ModelConfig = tinyModelConfig;

function examples(count: number, seed: number): EncodedExample[] {
  const ids = randomInts(count * 6, seed, 5, 30);
  return Array.from({ length: count }, (_, i) => ({ inputIds: Array.from(ids.subarray(i * 6, i * 6 + 3 + (i % 4))), attentionMask: new Array(3 + (i % 4)).fill(1), label: i % 2 }));
}

function trainer(extra: Record<string, unknown> = {}) {
  return new Trainer({
    device: device(),
    modelInit: (d, seeds) => new SequenceClassifier(d, config, seeds),
    args: { per_device_train_batch_size: 4, max_steps: 4, logging_steps: 2, save_strategy: 'no', seed: 3, ...extra },
    trainDataset: examples(12, 1),
    evalDataset: examples(8, 2),
  });
}

describe('hyperparameterSearch', () => {
  it("HF's default objective: eval_loss when it is the only metric", async () => {
    const t = trainer();
    const best = await t.hyperparameterSearch({
      nTrials: 2,
      hpSpace: (trial) => ({ learning_rate: trial.suggestCategorical('learning_rate', [1e-3, 3e-3]) }),
      sampler: new GridSampler({ learning_rate: [1e-3, 3e-3] }),
    });
    expect(Array.isArray(best)).toBe(false);
    const run = best as { objective: number; runSummary?: Record<string, unknown>; hyperparameters: Record<string, unknown> };
    const metrics = run.runSummary!.metrics as Record<string, number>;
    expect(run.objective).toBe(metrics.eval_loss);
    expect([1e-3, 3e-3]).toContain(run.hyperparameters.learning_rate);
  });

  it('trials fused two per group reach the same objectives as trials run alone', async () => {
    const objectives = async (slots: number) => {
      const study = createStudy({ sampler: new GridSampler({ learning_rate: [1e-3, 3e-3, 1e-2, 2e-2] }) });
      const values = new Map<number, number>();
      await trainer().hyperparameterSearch({
        nTrials: 4,
        slots,
        hpSpace: (trial) => ({ learning_rate: trial.suggestCategorical('learning_rate', [1e-3, 3e-3, 1e-2, 2e-2]) }),
        sampler: new GridSampler({ learning_rate: [1e-3, 3e-3, 1e-2, 2e-2] }, { seed: 1 }),
        onTrialEnd: (_s, trial) => values.set(trial.params.learning_rate as number, trial.values![0]),
      });
      void study;
      return values;
    };
    const fused = await objectives(2);
    const alone = await objectives(1);
    expect(fused.size).toBe(4);
    for (const [lr, value] of alone) expect(fused.get(lr)).toBeCloseTo(value, 5);
  });

  it('a diverging trial is recorded FAIL with its reason and the search goes on', async () => {
    const states: { state: string; reason?: unknown; lr: unknown }[] = [];
    await trainer({ max_grad_norm: 0 }).hyperparameterSearch({
      nTrials: 2,
      hpSpace: (trial) => ({ learning_rate: trial.suggestCategorical('learning_rate', [1e-3, 1e30]) }),
      sampler: new GridSampler({ learning_rate: [1e-3, 1e30] }),
      onTrialEnd: (_s, trial) => states.push({ state: trial.state, reason: trial.userAttrs.fail_reason, lr: trial.params.learning_rate }),
    });
    const byLr = new Map(states.map((s) => [s.lr, s]));
    expect(byLr.get(1e-3)!.state).toBe('COMPLETE');
    expect(byLr.get(1e30)!.state).toBe('FAIL');
    expect(String(byLr.get(1e30)!.reason)).toMatch(/diverged|NaN|Infinity|objective/);
  });

  it('an interrupt marks the running trials FAIL and leaves a SQLite study that resumes with the next number', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webtrainer-interrupt-'));
    const storage = `sqlite:${join(dir, 'study.db')}`;
    const controller = new AbortController();
    const search = trainer().hyperparameterSearch({
      nTrials: 6,
      slots: 2,
      storage,
      studyName: 'interrupted',
      signal: controller.signal,
      // Interrupt when trial 2 starts (after trials 0 and 1 have ended, as their slots are refilled), as a Ctrl-C would.
      hpSpace: (trial) => {
        if (trial.number === 2) controller.abort();
        return { learning_rate: trial.suggestFloat('learning_rate', 1e-4, 1e-2, { log: true }) };
      },
    });
    await expect(search).rejects.toThrow(/interrupted/);
    const study = loadStudy({ studyName: 'interrupted', storage });
    // Trials 0 and 1 had trained to their end: they keep their results; every later one is FAIL.
    const states = study.trials.map((t) => t.state);
    expect(states.slice(0, 2)).toEqual(['COMPLETE', 'COMPLETE']);
    expect(states.length).toBeGreaterThanOrEqual(3);
    for (const t of study.trials.slice(2)) expect([t.state, t.userAttrs.fail_reason]).toEqual(['FAIL', expect.stringMatching(/interrupted/)]);
    const before = study.trials.length;
    await trainer().hyperparameterSearch({
      nTrials: 1,
      storage,
      studyName: 'interrupted',
      loadIfExists: true,
      hpSpace: (trial) => ({ learning_rate: trial.suggestFloat('learning_rate', 1e-4, 1e-2, { log: true }) }),
    });
    const after = loadStudy({ studyName: 'interrupted', storage }).trials;
    expect(after.map((t) => t.number)).toEqual([...Array(before + 1).keys()]);
    expect(after[before].state).toBe('COMPLETE');
  });

  it('a resumed search with the same seed fails the dead trial, retries it, and repeats no configuration', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webtrainer-heartbeat-'));
    const storage = `sqlite:${join(dir, 'study.db')}`;
    const hpSpace = (trial: import('../../src/search/trial.js').Trial) => ({ learning_rate: trial.suggestFloat('learning_rate', 1e-4, 1e-2, { log: true }) });
    const heartbeat = { heartbeatInterval: 0.05, gracePeriod: 0.2 };
    await trainer().hyperparameterSearch({ nTrials: 2, storage, studyName: 'hb', seed: 0, hpSpace, ...heartbeat });
    // A worker killed mid-trial: trial 2 RUNNING with its learning rate, never told, never beating again.
    const dead = loadStudy({ studyName: 'hb', storage });
    hpSpace(dead.ask());
    dead.storage.close();
    await new Promise((r) => setTimeout(r, 300));
    await trainer().hyperparameterSearch({
      nTrials: 3, slots: 2, storage, studyName: 'hb', loadIfExists: true, seed: 0, hpSpace,
      ...heartbeat, failedTrialCallback: new RetryFailedTrialCallback({ maxRetry: 1 }),
    });
    const trials = loadStudy({ studyName: 'hb', storage }).trials;
    expect(trials.map((t) => [t.number, t.state, t.userAttrs.fail_reason, t.systemAttrs.failed_trial])).toEqual([
      [0, 'COMPLETE', undefined, undefined],
      [1, 'COMPLETE', undefined, undefined],
      [2, 'FAIL', 'stale heartbeat', undefined],
      [3, 'COMPLETE', undefined, 2],
      [4, 'COMPLETE', undefined, undefined],
      [5, 'COMPLETE', undefined, undefined],
    ]);
    expect(trials[3].params.learning_rate).toBe(trials[2].params.learning_rate);
    // Before: the resumed sampler restarted from seed 0 and trials 4–5 equalled trials 0–1.
    const fresh = trials.filter((t) => t.number !== 3).map((t) => t.params.learning_rate);
    expect(new Set(fresh).size).toBe(5);
  });

  it('reports each evaluation to its trial and stops a pruned one (alone and fused)', async () => {
    for (const slots of [1, 2]) {
      const trials: { state: string; steps: number[]; lr: number }[] = [];
      // eval_loss starts near ln 2 ≈ 0.69: a threshold of 0.69 prunes the high-rate trial whose loss rises.
      await trainer({ eval_strategy: 'steps', eval_steps: 1, max_steps: 4, max_grad_norm: 0 }).hyperparameterSearch({
        nTrials: 2,
        slots,
        hpSpace: (trial) => ({ learning_rate: trial.suggestCategorical('learning_rate', [1e-4, 10]) }),
        sampler: new GridSampler({ learning_rate: [1e-4, 10] }, { seed: 2 }),
        pruner: new ThresholdPruner({ upper: 0.75 }),
        onTrialEnd: (_s, trial) => trials.push({ state: trial.state, steps: [...trial.intermediateValues.keys()], lr: trial.params.learning_rate as number }),
      });
      const byLr = new Map(trials.map((t) => [t.lr, t]));
      expect(byLr.get(1e-4)!.state).toBe('COMPLETE');
      expect(byLr.get(1e-4)!.steps).toEqual([1, 2, 3, 4]);
      expect(byLr.get(10)!.state).toBe('PRUNED');
      expect(byLr.get(10)!.steps.length).toBeLessThan(4);
    }
  });

  it('several directions with no sampler use NSGA-II and return the Pareto front as BestRun[]', async () => {
    // Before: the default TPE refused several objectives, every trial FAILed and the search threw.
    const ended: Array<{ number: number; values: number[] }> = [];
    const best = await trainer().hyperparameterSearch({
      nTrials: 3,
      directions: ['minimize', 'minimize'],
      hpSpace: (trial) => ({ learning_rate: trial.suggestFloat('learning_rate', 1e-4, 1e-2, { log: true }) }),
      computeObjective: (m) => [m.eval_loss, -m.eval_loss], // opposed objectives: every distinct trial is on the front
      seed: 0,
      onTrialEnd: (s, trial) => {
        expect(s.sampler.constructor.name).toBe('NSGAIISampler');
        if (trial.state === 'COMPLETE') ended.push({ number: trial.number, values: trial.values! });
      },
    });
    expect(ended).toHaveLength(3);
    const dominated = (a: number[], b: number[]): boolean => b[0] <= a[0] && b[1] <= a[1] && (b[0] < a[0] || b[1] < a[1]);
    const front = ended.filter((a) => !ended.some((b) => dominated(a.values, b.values))).map((t) => String(t.number));
    expect(Array.isArray(best)).toBe(true);
    expect((best as Array<{ runId: string }>).map((r) => r.runId)).toEqual(front);
  });

  it('needs a modelInit, as Hugging Face does', async () => {
    const t = new Trainer({ model: new SequenceClassifier(device(), config, [1]), trainDataset: examples(4, 1), evalDataset: examples(4, 2) });
    await expect(t.hyperparameterSearch({ nTrials: 1 })).rejects.toThrow(/needs a modelInit/);
  });

  it('ray and wandb spaces drive the same search', async () => {
    const ray = await trainer().hyperparameterSearch({
      backend: 'ray',
      nTrials: 2,
      hpSpace: { learning_rate: tune.grid_search([1e-3, 2e-3]), weight_decay: tune.uniform(0, 0.1) },
    });
    expect([1e-3, 2e-3]).toContain((ray as { hyperparameters: Record<string, unknown> }).hyperparameters.learning_rate);
    const wandb = await trainer().hyperparameterSearch({
      backend: 'wandb',
      nTrials: 2,
      hpSpace: { method: 'random', metric: { name: 'objective', goal: 'minimize' }, parameters: { learning_rate: { distribution: 'log_uniform_values', min: 1e-4, max: 1e-2 }, hidden_dropout_prob: { values: [0, 0.1] } } },
    });
    const lr = (wandb as { hyperparameters: Record<string, number> }).hyperparameters.learning_rate;
    expect(lr).toBeGreaterThanOrEqual(1e-4);
    expect(lr).toBeLessThanOrEqual(1e-2);
  });
});

describe("HF's _hp_search_setup: a trial's values applied as TrainingArguments fields", () => {
  it('casts each value to its field type (Python int() truncation, float()), model settings to the model, unknown keys warned', () => {
    const base = trainingArgumentsFrom({ seed: 42 });
    const warnings: string[] = [];
    const c = trialConfiguration(base, {
      seed: 5.65, per_device_train_batch_size: 16.9, warmup_steps: -0.5, learning_rate: '1e-3', num_train_epochs: 2.5,
      group_by_length: 1, hidden_size: 32.7, hidden_dropout_prob: 0.25, not_an_argument: 7,
    }, (m) => warnings.push(m));
    // Python: int(5.65) = 5, int(16.9) = 16, int(-0.5) = 0, float('1e-3') = 0.001; num_train_epochs is a float field.
    expect([c.args.seed, c.args.perDeviceTrainBatchSize, c.args.warmupSteps, c.args.learningRate, c.args.numTrainEpochs, c.args.groupByLength])
      .toEqual([5, 16, 0, 0.001, 2.5, true]);
    expect(Object.is(c.args.warmupSteps, 0)).toBe(true);
    expect(c.model).toEqual({ hiddenSize: 32 }); // int(32.7); sets a shape, so it goes to modelInit
    expect(c.hiddenDropout).toBe(0.25); // per slot
    expect(c.hyperparameters).toEqual({
      seed: 5, per_device_train_batch_size: 16, warmup_steps: 0, learning_rate: 0.001, num_train_epochs: 2.5,
      group_by_length: true, hidden_size: 32, hidden_dropout_prob: 0.25, not_an_argument: 7,
    });
    expect(c.ignored).toEqual(['not_an_argument']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/'not_an_argument' is neither a training argument nor a model setting/);
  });

  it('a value int() refuses is an error naming the key', () => {
    const base = trainingArgumentsFrom({});
    expect(() => trialConfiguration(base, { seed: 'abc' })).toThrow(/hyperparameter 'seed': invalid literal for int\(\): "abc"/);
    expect(() => trialConfiguration(base, { seed: Infinity })).toThrow(/hyperparameter 'seed': cannot convert Infinity/);
    expect(() => trialConfiguration(base, { num_heads: 0 })).toThrow(/model setting num_heads must be a positive integer, got 0/);
  });

  it('trials that differ in model settings never share a fusion key; per-slot dropout does not split them', () => {
    const args = trainingArgumentsFrom({});
    expect(fusionKey(args, { hiddenSize: 8 })).not.toBe(fusionKey(args, { hiddenSize: 16 }));
    expect(fusionKey(args, { hiddenSize: 8, numLayers: 1 })).toBe(fusionKey(args, { numLayers: 1, hiddenSize: 8 }));
    expect(fusionKey(args, {})).toBe(fusionKey(args));
    const a = trialConfiguration(args, { hidden_dropout_prob: 0.1 });
    const b = trialConfiguration(args, { hidden_dropout_prob: 0.2 });
    expect(fusionKey(a.args, a.model)).toBe(fusionKey(b.args, b.model));
  });

  it("the default Ray space runs (its seed is uniform(1, 40), a float: int() as HF's setattr cast)", async () => {
    // Before: every trial failed with "seed (5.65…) must be an integer".
    const ended: FrozenTrial[] = [];
    const best = await trainer().hyperparameterSearch({ backend: 'ray', nTrials: 2, seed: 0, onTrialEnd: (_s, t) => ended.push(t) });
    expect(ended.map((t) => t.state)).toEqual(['COMPLETE', 'COMPLETE']);
    for (const t of ended) {
      const applied = t.userAttrs.hyperparameters as Record<string, number>;
      expect(Number.isInteger(t.params.seed)).toBe(false); // Ray samples a float …
      expect(applied.seed).toBe(Math.trunc(t.params.seed as number)); // … trained with int(seed)
    }
    expect(Number.isInteger(best.hyperparameters.seed)).toBe(true);
  });
});

describe('BestRun.hyperparameters: the values the trial trained with', () => {
  it('under the space\'s names: quantised and cast values, constants included, no sampler-internal names', async () => {
    const ended: FrozenTrial[] = [];
    const best = await trainer().hyperparameterSearch({
      backend: 'ray',
      nTrials: 3,
      seed: 1,
      hpSpace: {
        learning_rate: tune.qloguniform(1e-4, 1e-2, 5e-5),
        weight_decay: tune.qrandn(0.05, 0.005, 0.01), // sampled as a quantile u under 'weight_decay__quantile'
        warmup_ratio: 0.1, // a constant: no trial param at all
        seed: tune.uniform(1, 40),
      },
      onTrialEnd: (_s, t) => ended.push(t),
    });
    expect(ended).toHaveLength(3);
    for (const t of ended) {
      const h = t.userAttrs.hyperparameters as Record<string, number>;
      expect(Object.keys(h).sort()).toEqual(['learning_rate', 'seed', 'warmup_ratio', 'weight_decay']);
      expect(Object.keys(t.params).sort()).toEqual(['learning_rate', 'seed', 'weight_decay__quantile']);
      // Ray's qloguniform: round(x / q) · q; qrandn: round(N(0.05, 0.005) / 0.01) · 0.01.
      expect(Math.abs(h.learning_rate / 5e-5 - Math.round(h.learning_rate / 5e-5))).toBeLessThan(1e-6);
      expect(Math.abs(h.learning_rate - (t.params.learning_rate as number))).toBeLessThanOrEqual(2.5e-5 + 1e-12);
      expect(h.learning_rate).toBe(t.userAttrs.param_learning_rate);
      expect([0.03, 0.04, 0.05, 0.06, 0.07]).toContain(h.weight_decay);
      expect(h.weight_decay).toBe(t.userAttrs.param_weight_decay);
      expect(h.warmup_ratio).toBe(0.1);
      expect(h.seed).toBe(Math.trunc(t.params.seed as number));
    }
    const bestTrial = ended.find((t) => String(t.number) === best.runId)!;
    expect(best.hyperparameters).toEqual(bestTrial.userAttrs.hyperparameters);
  });
});

describe("per-trial output: HF's output_dir/run-{trial number}/checkpoint-N", () => {
  it('each trial, fused or alone, writes and rotates only its own checkpoints', async () => {
    const out = await mkdtemp(join(tmpdir(), 'webtrainer-runs-'));
    const rates = [1e-3, 2e-3, 3e-3];
    await trainer({ save_strategy: 'steps', save_steps: 2, max_steps: 4, save_total_limit: 1, output_dir: out }).hyperparameterSearch({
      nTrials: 3,
      slots: 2, // trials 0 and 1 fused in one group; trial 2 takes trial 0's slot, then trains on alone
      hpSpace: (trial) => ({ learning_rate: trial.suggestCategorical('learning_rate', rates) }),
      sampler: new GridSampler({ learning_rate: rates }),
    });
    // Saves at steps 2 and 4 with save_total_limit 1: each run keeps checkpoint-4 (before: all trials shared
    // output_dir/checkpoint-N and rotated each other's away, leaving one).
    expect((await readdir(out)).sort()).toEqual(['run-0', 'run-1', 'run-2']);
    const weights: Float32Array[] = [];
    for (const run of ['run-0', 'run-1', 'run-2']) {
      expect(await readdir(join(out, run))).toEqual(['checkpoint-4']);
      const saved = await readSafetensors(join(out, run, 'checkpoint-4', 'model.safetensors'));
      expect(saved.tensors.get('classifier.weight')!.shape).toEqual([1, 8, 2]); // one slot: the trial's own model
      weights.push(saved.tensors.get('classifier.weight')!.data as Float32Array);
      const state = JSON.parse(await readFile(join(out, run, 'checkpoint-4', 'trainer_state.json'), 'utf8'));
      expect(state.globalStep).toBe(4);
      expect(state.logHistory).toHaveLength(1);
    }
    expect(weights[0]).not.toEqual(weights[1]); // slot 0's and slot 1's own weights, not one copy
    // A fused trial's checkpoint is a one-slot checkpoint: a Trainer resumes from it.
    const resumed = trainer({ max_steps: 4, output_dir: join(out, 'resumed') });
    const output = await resumed.train({ resumeFromCheckpoint: join(out, 'run-1', 'checkpoint-4') });
    expect(output.globalStep).toBe(4);
    resumed.release();
  });
});

describe('modelInit sees the trial: model settings are searched', () => {
  it("gets the group's trials and their model settings; different shapes train in separate groups; collator and callbacks kept", async () => {
    const calls: { hiddenSize: number | undefined; trialSizes: unknown[] }[] = [];
    let collated = 0;
    let stepEnds = 0;
    const t = new Trainer({
      device: device(),
      modelInit: (d, seeds, context) => {
        calls.push({ hiddenSize: context?.model.hiddenSize, trialSizes: context!.trials.map((trial) => trial.params.hidden_size) });
        return new SequenceClassifier(d, { ...config, ...context?.model }, seeds);
      },
      args: { per_device_train_batch_size: 4, max_steps: 4, logging_steps: 2, save_strategy: 'no', seed: 3 },
      trainDataset: examples(12, 1),
      evalDataset: examples(8, 2),
      dataCollator: (batch) => (collated++, collateEncoded(batch, 0, { padToMultipleOf: 8 })),
      callbacks: [{ onStepEnd: () => void stepEnds++ }],
    });
    const ended: FrozenTrial[] = [];
    const best = await t.hyperparameterSearch({
      nTrials: 4,
      slots: 4,
      hpSpace: (trial) => ({
        hidden_size: trial.suggestCategorical('hidden_size', [8, 16]),
        learning_rate: trial.suggestCategorical('learning_rate', [1e-3, 2e-3]),
      }),
      sampler: new GridSampler({ hidden_size: [8, 16], learning_rate: [1e-3, 2e-3] }),
      onTrialEnd: (_s, trial) => ended.push(trial),
    });
    expect(ended.map((trial) => trial.state)).toEqual(['COMPLETE', 'COMPLETE', 'COMPLETE', 'COMPLETE']);
    // 4 trials over 2 shapes with 4 slots: 2 groups of 2, each built with its trials' hidden size.
    expect(calls).toHaveLength(2);
    expect(calls.map((c) => c.hiddenSize).sort((a, b) => a! - b!)).toEqual([8, 16]);
    for (const c of calls) expect(c.trialSizes).toEqual([c.hiddenSize, c.hiddenSize]);
    expect([8, 16]).toContain(best.hyperparameters.hidden_size);
    // The Trainer's collator: 2 groups × 4 steps × 2 slots training batches + 1 evaluation batch per group.
    expect(collated).toBe(2 * 4 * 2 + 2);
    // The Trainer's callbacks: onStepEnd for each slot of each step.
    expect(stepEnds).toBe(2 * 4 * 2);
  });

  it('a searched max_seq_length tokenizes the text to that length; each length trains in its own group', async () => {
    const { BertTokenizer } = await import('../../src/train/tokenizer/bert-tokenizer.js');
    const { readDataset } = await import('../../src/train/data/read-dataset.js');
    const { bundled } = await import('../../src/cli/package-files.js');
    const dir = await mkdtemp(join(tmpdir(), 'webtrainer-seqlen-'));
    const rows = ['sentence\tlabel', ...Array.from({ length: 8 }, (_, i) => `the film was ${i % 2 ? 'good and fine and bright' : 'dull and bad and grey'} ${i}\t${i % 2}`)];
    await writeFile(join(dir, 'train.tsv'), rows.join('\n') + '\n');
    const data = await readDataset(join(dir, 'train.tsv'));
    const longest: number[] = []; // per group: the longest example its collator saw
    const t = new Trainer({
      device: device(),
      modelInit: (d, seeds, context) => (longest.push(0), new SequenceClassifier(d, { ...config, vocabSize: 30522, maxPositionEmbeddings: 16, ...context?.model }, seeds)),
      args: { per_device_train_batch_size: 4, max_steps: 1, save_strategy: 'no', max_seq_length: 16 },
      trainDataset: data,
      evalDataset: data,
      tokenizer: await BertTokenizer.fromVocabFile(bundled.vocab()),
      dataCollator: (batch) => {
        longest[longest.length - 1] = Math.max(longest[longest.length - 1], ...batch.map((e) => e.inputIds.length));
        return collateEncoded(batch);
      },
    });
    const ended: FrozenTrial[] = [];
    await t.hyperparameterSearch({
      nTrials: 2,
      slots: 2,
      hpSpace: (trial) => ({ max_seq_length: trial.suggestCategorical('max_seq_length', [4, 16]) }),
      sampler: new GridSampler({ max_seq_length: [4, 16] }),
      onTrialEnd: (_s, trial) => ended.push(trial),
    });
    expect(ended.map((trial) => trial.state)).toEqual(['COMPLETE', 'COMPLETE']);
    // "[CLS] the film was … [SEP]" is 10+ tokens: truncated to 4 for one trial, to 16 (not 4) for the other.
    expect(longest).toHaveLength(2); // two lengths: two groups, though slots 2 would hold both
    expect(Math.min(...longest)).toBe(4);
    expect(Math.max(...longest)).toBeGreaterThan(8);
  });

  it('a modelInit that ignores the trial\'s model settings fails the trial, naming the setting', async () => {
    const ended: FrozenTrial[] = [];
    const search = trainer().hyperparameterSearch({
      nTrials: 1,
      hpSpace: (trial) => ({ hidden_size: trial.suggestCategorical('hidden_size', [16]) }),
      onTrialEnd: (_s, trial) => ended.push(trial),
    });
    await expect(search).rejects.toThrow(/no trial completed/);
    expect(ended[0].state).toBe('FAIL');
    expect(ended[0].userAttrs.fail_reason).toMatch(/hiddenSize is 8, but the trial set hidden_size = 16/);
  });
});

describe("the objective: the last evaluation during training (HF's _report_to_hp_search)", () => {
  function counting(extra: Record<string, unknown>) {
    const counter = { evaluations: 0 };
    const t = new Trainer({
      device: device(),
      modelInit: (d, seeds) => new SequenceClassifier(d, config, seeds),
      args: { per_device_train_batch_size: 4, logging_steps: 1, save_strategy: 'no', seed: 3, ...extra },
      trainDataset: examples(12, 1),
      evalDataset: examples(8, 2),
      computeMetrics: () => (counter.evaluations++, {}),
    });
    return { t, counter };
  }
  const space = (trial: import('../../src/search/trial.js').Trial) => ({ learning_rate: trial.suggestFloat('learning_rate', 1e-3, 1e-2, { log: true }) });

  it('evaluated during training: the last report is the objective, and nothing is evaluated after', async () => {
    // Evaluations at step 2 only (eval_steps 2, max_steps 3).
    const { t, counter } = counting({ eval_strategy: 'steps', eval_steps: 2, max_steps: 3 });
    let trial: FrozenTrial | undefined;
    const best = await t.hyperparameterSearch({ nTrials: 1, hpSpace: space, onTrialEnd: (_s, ended) => (trial = ended) });
    expect(counter.evaluations).toBe(1); // before: 2, one more after training
    expect([...trial!.intermediateValues.keys()]).toEqual([2]);
    expect(best.objective).toBe(trial!.intermediateValues.get(2));
    expect((trial!.userAttrs.metrics as Record<string, number>).eval_loss).toBe(best.objective);
  });

  it('with load_best_model_at_end, still the last evaluation, not a re-evaluation of the best checkpoint', async () => {
    const out = await mkdtemp(join(tmpdir(), 'webtrainer-best-'));
    const { t, counter } = counting({
      eval_strategy: 'steps', eval_steps: 1, save_strategy: 'steps', save_steps: 1, max_steps: 3, load_best_model_at_end: true, output_dir: out,
    });
    let trial: FrozenTrial | undefined;
    const best = await t.hyperparameterSearch({ nTrials: 1, hpSpace: space, onTrialEnd: (_s, ended) => (trial = ended) });
    expect(counter.evaluations).toBe(3);
    expect(best.objective).toBe(trial!.intermediateValues.get(3));
  });

  it('never evaluated during training: one evaluation after it', async () => {
    const { t, counter } = counting({ eval_strategy: 'no', max_steps: 3 });
    let trial: FrozenTrial | undefined;
    const best = await t.hyperparameterSearch({ nTrials: 1, hpSpace: space, onTrialEnd: (_s, ended) => (trial = ended) });
    expect(counter.evaluations).toBe(1);
    expect(trial!.intermediateValues.size).toBe(0);
    expect(best.objective).toBe((trial!.userAttrs.metrics as Record<string, number>).eval_loss);
  });
});
