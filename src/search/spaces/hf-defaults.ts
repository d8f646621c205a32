/**
 * Hugging Face Trainer's hyperparameter-search defaults, from transformers'
 * `src/transformers/trainer_utils.py` (`default_hp_space_optuna`, `default_hp_space_ray`,
 * `default_hp_space_wandb` [in `integrations/integration_utils.py` in recent versions], and
 * `default_compute_objective`).
 */
import type { ParamValue } from '../distributions.js';
import { StudyError } from '../errors.js';
import type { Trial } from '../trial.js';
import { tune, type RayConfig } from './ray.js';
import type { WandbSweepConfig } from './wandb.js';

export function defaultHpSpaceOptuna(trial: Trial): Record<string, ParamValue> {
  return {
    learning_rate: trial.suggestFloat('learning_rate', 1e-6, 1e-4, { log: true }),
    num_train_epochs: trial.suggestInt('num_train_epochs', 1, 5),
    seed: trial.suggestInt('seed', 1, 40),
    per_device_train_batch_size: trial.suggestCategorical('per_device_train_batch_size', [4, 8, 16, 32, 64]),
  };
}

/** HF: num_train_epochs = choice(range(1, 6)), seed = uniform(1, 40) (a float, as in HF). */
export function defaultHpSpaceRay(): RayConfig {
  return {
    learning_rate: tune.loguniform(1e-6, 1e-4),
    num_train_epochs: tune.choice([1, 2, 3, 4, 5]),
    seed: tune.uniform(1, 40),
    per_device_train_batch_size: tune.choice([4, 8, 16, 32, 64]),
  };
}

/** HF: learning_rate uniform (not log), epochs int_uniform 1..6, metric "objective", method random. */
export function defaultHpSpaceWandb(): WandbSweepConfig {
  return {
    method: 'random',
    metric: { name: 'objective', goal: 'minimize' },
    parameters: {
      learning_rate: { distribution: 'uniform', min: 1e-6, max: 1e-4 },
      num_train_epochs: { distribution: 'int_uniform', min: 1, max: 6 },
      seed: { distribution: 'int_uniform', min: 1, max: 40 },
      per_device_train_batch_size: { values: [4, 8, 16, 32, 64] },
    },
  };
}

/**
 * eval_loss if it is the only metric left; otherwise the sum of the other metrics after dropping
 * eval_loss, epoch and speed metrics (keys ending in `_runtime` or `_per_second`, as in current
 * transformers; some 4.x releases also dropped `_compilation_time`, enable with `dropCompilationTime`).
 */
export function defaultComputeObjective(metrics: Record<string, number>, opts: { dropCompilationTime?: boolean } = {}): number {
  const rest = { ...metrics };
  const loss = rest.eval_loss;
  delete rest.eval_loss;
  delete rest.epoch;
  for (const k of Object.keys(rest)) {
    if (k.endsWith('_runtime') || k.endsWith('_per_second') || (opts.dropCompilationTime && k.endsWith('_compilation_time'))) delete rest[k];
  }
  const keys = Object.keys(rest);
  if (keys.length === 0) {
    if (loss === undefined) throw new StudyError(`no objective in metrics ${JSON.stringify(Object.keys(metrics))}: need eval_loss or another metric`);
    return loss;
  }
  return keys.reduce((acc, k) => acc + rest[k], 0);
}
