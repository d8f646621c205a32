/**
 * The Optuna dialect: a define-by-run `hpSpace(trial)` that calls the Trial API and returns the
 * hyperparameters (as `hp_space` for Hugging Face's Optuna backend). Conditional spaces are plain code.
 */
import type { ParamValue } from '../distributions.js';
import type { Trial } from '../trial.js';

export type HpSpace = (trial: Trial) => Record<string, ParamValue>;

/** Identity helper that types an Optuna-style space. */
export function optunaSpace(fn: HpSpace): HpSpace {
  return fn;
}
