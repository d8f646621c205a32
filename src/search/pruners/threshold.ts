/**
 * Prune when the latest intermediate value leaves [lower, upper] or is NaN (Optuna's ThresholdPruner),
 * after nWarmupSteps, at the first report of each intervalSteps.
 */
import { StudyError } from '../errors.js';
import { lastStep, type FrozenTrial } from '../frozen-trial.js';
import { isFirstInIntervalStep } from './percentile.js';
import type { Pruner } from './pruner.js';

export class ThresholdPruner implements Pruner {
  readonly lower: number;
  readonly upper: number;
  readonly nWarmupSteps: number;
  readonly intervalSteps: number;

  constructor(opts: { lower?: number; upper?: number; nWarmupSteps?: number; intervalSteps?: number }) {
    if (opts.lower === undefined && opts.upper === undefined) throw new StudyError('ThresholdPruner needs lower or upper');
    this.lower = opts.lower ?? -Infinity;
    this.upper = opts.upper ?? Infinity;
    if (this.lower > this.upper) throw new StudyError(`lower (${this.lower}) must be <= upper (${this.upper})`);
    this.nWarmupSteps = opts.nWarmupSteps ?? 0;
    this.intervalSteps = opts.intervalSteps ?? 1;
  }

  prune(_study: unknown, trial: FrozenTrial): boolean {
    const step = lastStep(trial);
    if (step === null || step < this.nWarmupSteps) return false;
    if (!isFirstInIntervalStep(step, trial.intermediateValues.keys(), this.nWarmupSteps, this.intervalSteps)) return false;
    const v = trial.intermediateValues.get(step)!;
    return Number.isNaN(v) || v < this.lower || v > this.upper;
  }
}
