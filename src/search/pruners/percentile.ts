/**
 * Prune a trial whose best intermediate value so far (min when minimising, max when maximising, over all its
 * reports) is worse than the given percentile of the COMPLETE trials' values at the trial's latest step
 * (Optuna 3.1's `optuna/pruners/_percentile.py`: `_get_best_intermediate_result_over_steps` and
 * `_get_percentile_intermediate_result_over_trials`).
 * nStartupTrials: no pruning until that many trials are COMPLETE. nWarmupSteps: no pruning before that step.
 * intervalSteps: only check at the first report in each interval after warm-up. nMinTrials: at least this many
 * completed trials must have reported at the step. A trial whose reports are all NaN is pruned. Percentile uses linear interpolation
 * (NumPy's default), over the completed values that are not NaN.
 */
import { StudyError } from '../errors.js';
import { lastStep, type FrozenTrial } from '../frozen-trial.js';
import type { Study } from '../study.js';
import type { Pruner } from './pruner.js';

export interface PercentilePrunerOptions {
  nStartupTrials?: number;
  nWarmupSteps?: number;
  intervalSteps?: number;
  nMinTrials?: number;
}

/** Linear-interpolation percentile of finite values, as `numpy.nanpercentile` (NaN if there are none). */
export function nanPercentile(values: readonly number[], q: number): number {
  const xs = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (xs.length === 0) return NaN;
  const pos = (q / 100) * (xs.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo);
}

/** The trial's best report, ignoring NaN (`numpy.nanmin`/`nanmax`; NaN when every report is NaN). */
export function bestIntermediateValue(trial: FrozenTrial, maximize: boolean): number {
  let best = NaN;
  for (const v of trial.intermediateValues.values()) {
    if (Number.isNaN(v)) continue;
    if (Number.isNaN(best) || (maximize ? v > best : v < best)) best = v;
  }
  return best;
}

/** True if `step` is the first reported step of its interval (Optuna's `_is_first_in_interval_step`). */
export function isFirstInIntervalStep(step: number, steps: Iterable<number>, nWarmupSteps: number, intervalSteps: number): boolean {
  const nearestLowerPruningStep = Math.floor((step - nWarmupSteps) / intervalSteps) * intervalSteps + nWarmupSteps;
  let secondLast = -1;
  for (const s of steps) if (s > secondLast && s !== step) secondLast = s;
  return secondLast < nearestLowerPruningStep;
}

export class PercentilePruner implements Pruner {
  readonly nStartupTrials: number;
  readonly nWarmupSteps: number;
  readonly intervalSteps: number;
  readonly nMinTrials: number;

  constructor(readonly percentile: number, opts: PercentilePrunerOptions = {}) {
    this.nStartupTrials = opts.nStartupTrials ?? 5;
    this.nWarmupSteps = opts.nWarmupSteps ?? 0;
    this.intervalSteps = opts.intervalSteps ?? 1;
    this.nMinTrials = opts.nMinTrials ?? 1;
    if (!(percentile >= 0 && percentile <= 100)) throw new StudyError(`percentile (${percentile}) must be in [0, 100]`);
    if (this.nStartupTrials < 0) throw new StudyError(`nStartupTrials (${this.nStartupTrials}) must be >= 0`);
    if (this.nWarmupSteps < 0) throw new StudyError(`nWarmupSteps (${this.nWarmupSteps}) must be >= 0`);
    if (this.intervalSteps < 1) throw new StudyError(`intervalSteps (${this.intervalSteps}) must be >= 1`);
    if (this.nMinTrials < 1) throw new StudyError(`nMinTrials (${this.nMinTrials}) must be >= 1`);
  }

  prune(study: Study, trial: FrozenTrial): boolean {
    const completed = study.getTrials({ states: ['COMPLETE'] });
    if (completed.length === 0 || completed.length < this.nStartupTrials) return false;
    const step = lastStep(trial);
    if (step === null || step < this.nWarmupSteps) return false;
    if (!isFirstInIntervalStep(step, trial.intermediateValues.keys(), this.nWarmupSteps, this.intervalSteps)) return false;
    const maximize = study.direction === 'maximize';
    // Optuna judges the trial by its best value so far, not by the latest report.
    const score = bestIntermediateValue(trial, maximize);
    if (Number.isNaN(score)) return true;
    const atStep = completed.filter((t) => t.intermediateValues.has(step)).map((t) => t.intermediateValues.get(step)!);
    if (atStep.length < this.nMinTrials) return false;
    const p = nanPercentile(atStep, maximize ? 100 - this.percentile : this.percentile);
    if (Number.isNaN(p)) return false;
    return maximize ? score < p : score > p;
  }
}
