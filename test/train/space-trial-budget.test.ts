/**
 * trainer.hyperparameterSearch runs as many trials as the space implies, on a tiny model: Ray repeats its grid
 * n_trials times (HF passes n_trials as num_samples), W&B's run_cap caps the study and metric.target ends it.
 */
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/nn/config.js';
import { SequenceClassifier } from '../../src/nn/sequence-classifier.js';
import type { FrozenTrial } from '../../src/search/frozen-trial.js';
import { tune } from '../../src/search/spaces/ray.js';
import { Trainer } from '../../src/train/trainer.js';
import { useDevice } from '../helpers/gpu.js';
import { tinyExamples, tinyModelConfig } from '../helpers/tiny-model.js';

const device = useDevice();

const config: ModelConfig = tinyModelConfig;

const examples = tinyExamples;

function trainer() {
  return new Trainer({
    device: device(),
    modelInit: (d, seeds) => new SequenceClassifier(d, config, seeds),
    args: { per_device_train_batch_size: 4, max_steps: 2, save_strategy: 'no', seed: 3 },
    trainDataset: examples(8, 1),
    evalDataset: examples(4, 2),
  });
}

describe('hyperparameterSearch trial budget from the space', () => {
  it('ray: grid [1e-3, 2e-3] with nTrials 2 → 4 trials, the grid once per sample in order', async () => {
    const ended: FrozenTrial[] = [];
    await trainer().hyperparameterSearch({ backend: 'ray', nTrials: 2, hpSpace: { learning_rate: tune.grid_search([1e-3, 2e-3]) }, onTrialEnd: (_, t) => ended.push(t) });
    expect(ended.map((t) => t.params.learning_rate)).toEqual([1e-3, 2e-3, 1e-3, 2e-3]);
  });

  it('wandb: run_cap 2 with nTrials 5 → 2 trials; metric.target reached by the first trial → 1 trial', async () => {
    const parameters = { learning_rate: { values: [1e-3, 2e-3] } };
    const capped: FrozenTrial[] = [];
    await trainer().hyperparameterSearch({ backend: 'wandb', nTrials: 5, hpSpace: { method: 'random', run_cap: 2, parameters }, onTrialEnd: (_, t) => capped.push(t) });
    expect(capped.length).toBe(2);
    // Minimising eval_loss (HF's default direction) with target 1e9: any finite loss reaches it.
    const targeted: FrozenTrial[] = [];
    await trainer().hyperparameterSearch({ backend: 'wandb', nTrials: 5, hpSpace: { method: 'random', metric: { name: 'eval_loss', target: 1e9 }, parameters }, onTrialEnd: (_, t) => targeted.push(t) });
    expect(targeted.length).toBe(1);
  });
});
