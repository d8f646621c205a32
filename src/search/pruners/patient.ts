/**
 * Tolerate `patience` steps without improvement before deferring to a wrapped pruner (Optuna's
 * PatientPruner). With steps sorted, "before" = all but the last patience+1 reports, "after" = the last
 * patience+1; minimising, the trial is a candidate when min(before) + minDelta < min(after) (NaN ignored),
 * i.e. nothing in the window improved by more than minDelta. Without a wrapped pruner, a candidate is pruned.
 */
import { StudyError } from '../errors.js';
import { lastStep, type FrozenTrial } from '../frozen-trial.js';
import type { Study } from '../study.js';
import type { Pruner } from './pruner.js';

export class PatientPruner implements Pruner {
  constructor(readonly wrapped: Pruner | null, readonly patience: number, readonly minDelta = 0) {
    if (!(Number.isInteger(patience) && patience >= 0)) throw new StudyError(`patience (${patience}) must be an integer >= 0`);
    if (!(minDelta >= 0)) throw new StudyError(`minDelta (${minDelta}) must be >= 0`);
  }

  prune(study: Study, trial: FrozenTrial): boolean {
    if (lastStep(trial) === null) return false;
    const steps = [...trial.intermediateValues.keys()].sort((a, b) => a - b);
    if (steps.length <= this.patience + 1) return false;
    const vals = (ss: number[]): number[] => ss.map((s) => trial.intermediateValues.get(s)!).filter((v) => !Number.isNaN(v));
    const before = vals(steps.slice(0, steps.length - this.patience - 1));
    const after = vals(steps.slice(steps.length - this.patience - 1));
    const candidate = study.direction === 'minimize' ? Math.min(...before) + this.minDelta < Math.min(...after) : Math.max(...before) - this.minDelta > Math.max(...after);
    if (!candidate) return false;
    return this.wrapped ? this.wrapped.prune(study, trial) : true;
  }
}
