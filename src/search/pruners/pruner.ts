/** The pruner interface (Optuna's `optuna/pruners/_base.py`): decide from the study and a running trial's reports. */
import type { FrozenTrial } from '../frozen-trial.js';
import type { Study } from '../study.js';

export interface Pruner {
  prune(study: Study, trial: FrozenTrial): boolean;
}
