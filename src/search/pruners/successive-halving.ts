/**
 * Asynchronous Successive Halving (ASHA; Li et al. 2020, "A system for massively parallel hyperparameter
 * tuning", MLSys), as Optuna's `optuna/pruners/_successive_halving.py`.
 * Rung r is reached at step minResource · η^(minEarlyStoppingRate + r). When a trial reaches a rung, its
 * value there is recorded (system attr `completed_rung_r`) and it continues only if it is in the top 1/η of
 * all values recorded at that rung so far (itself included); with fewer than η values it continues only if
 * it is the best. minResource 'auto' = max(1, floor(last step of the longest COMPLETE trial / 100)).
 * bootstrapCount: prune until that many trials have reached the rung (strictly more than that needed).
 */
import { StudyError } from '../errors.js';
import { lastStep, type FrozenTrial } from '../frozen-trial.js';
import type { Study } from '../study.js';
import type { Pruner } from './pruner.js';

export interface SuccessiveHalvingOptions {
  minResource?: number | 'auto';
  reductionFactor?: number;
  minEarlyStoppingRate?: number;
  bootstrapCount?: number;
}

export const rungKey = (rung: number): string => `completed_rung_${rung}`;

export class SuccessiveHalvingPruner implements Pruner {
  private minResource: number | null;
  readonly reductionFactor: number;
  readonly minEarlyStoppingRate: number;
  readonly bootstrapCount: number;

  constructor(opts: SuccessiveHalvingOptions = {}) {
    const mr = opts.minResource ?? 'auto';
    if (mr !== 'auto' && !(Number.isInteger(mr) && mr >= 1)) throw new StudyError(`minResource (${mr}) must be an integer >= 1 or 'auto'`);
    this.minResource = mr === 'auto' ? null : mr;
    this.reductionFactor = opts.reductionFactor ?? 4;
    this.minEarlyStoppingRate = opts.minEarlyStoppingRate ?? 0;
    this.bootstrapCount = opts.bootstrapCount ?? 0;
    if (!(this.reductionFactor >= 2)) throw new StudyError(`reductionFactor (${this.reductionFactor}) must be >= 2`);
    if (!(Number.isInteger(this.minEarlyStoppingRate) && this.minEarlyStoppingRate >= 0)) throw new StudyError(`minEarlyStoppingRate (${this.minEarlyStoppingRate}) must be an integer >= 0`);
    if (!(Number.isInteger(this.bootstrapCount) && this.bootstrapCount >= 0)) throw new StudyError(`bootstrapCount (${this.bootstrapCount}) must be an integer >= 0`);
  }

  prune(study: Study, trial: FrozenTrial): boolean {
    const step = lastStep(trial);
    if (step === null) return false;
    let rung = 0;
    while (rungKey(rung) in trial.systemAttrs) rung++;
    const value = trial.intermediateValues.get(step)!;
    let others: FrozenTrial[] | null = null;
    for (;;) {
      if (this.minResource === null) {
        const steps = study.getTrials({ states: ['COMPLETE'] }).map(lastStep).filter((s): s is number => s !== null);
        if (steps.length === 0) return false;
        this.minResource = Math.max(Math.floor(Math.max(...steps) / 100), 1);
      }
      const promotionStep = this.minResource * this.reductionFactor ** (this.minEarlyStoppingRate + rung);
      if (step < promotionStep) return false;
      if (Number.isNaN(value)) return true;
      others ??= study.getTrials().filter((t) => t.number !== trial.number);
      const key = rungKey(rung);
      study.storage.setTrialSystemAttr(trial.trialId, key, value);
      const competing = others.filter((t) => key in t.systemAttrs).map((t) => t.systemAttrs[key] as number);
      competing.push(value);
      if (competing.length <= this.bootstrapCount) return true;
      if (!isPromotable(value, competing, this.reductionFactor, study.direction)) return true;
      rung++;
    }
  }
}

/** Top 1/η of the rung's values (or the best one while fewer than η have arrived). */
export function isPromotable(value: number, competing: number[], eta: number, direction: 'minimize' | 'maximize'): boolean {
  let idx = Math.floor(competing.length / eta) - 1;
  if (idx === -1) idx = 0;
  const sorted = [...competing].sort((a, b) => a - b);
  return direction === 'maximize' ? value >= sorted[sorted.length - 1 - idx] : value <= sorted[idx];
}
