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
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EncodedExample } from '../../src/train/data/collator.js';
import { Trainer } from '../../src/train/trainer.js';
import { useDevice } from '../helpers/gpu.js';
import { randomInts } from '../helpers/random.js';

const device = useDevice();

const config: ModelConfig = {
  vocabSize: 30, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 8, maxPositionEmbeddings: 8,
  numLabels: 2, hiddenDropoutProb: 0, attentionDropoutProb: 0, layerNormEps: 1e-12,
};

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
      // Interrupt while the second group (trials 2 and 3) is running, as a Ctrl-C would.
      hpSpace: (trial) => {
        if (trial.number === 2) controller.abort();
        return { learning_rate: trial.suggestFloat('learning_rate', 1e-4, 1e-2, { log: true }) };
      },
    });
    await expect(search).rejects.toThrow(/interrupted/);
    const study = loadStudy({ studyName: 'interrupted', storage });
    expect(study.trials.map((t) => t.state)).toEqual(['COMPLETE', 'COMPLETE', 'FAIL', 'FAIL']);
    expect(study.trials[2].userAttrs.fail_reason).toMatch(/interrupted/);
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
