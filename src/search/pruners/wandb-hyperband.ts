/**
 * W&B sweeps' `early_terminate: {type: hyperband}`, as `hyperband_stop_runs` in github.com/wandb/sweeps
 * (`src/sweeps/hyperband_stopping.py`; options and defaults from `src/sweeps/config/schema.json`,
 * `definitions.hyperband_stopping`). It is not Optuna's step-based ASHA:
 * - W&B counts a run's logged values of the sweep metric, not training steps. Here a trial's history is its
 *   finite intermediate values in step order (HF reports one per evaluation); NaN/±Inf are skipped, as W&B's
 *   `metric_history(filter_invalid=True)` skips them.
 * - Bands, in evaluations:
 *     max_iter and s: band = max_iter, then s times band /= eta, stopping once band < 1, keeping int(band);
 *       sorted (max_iter 10, s 2, eta 3: 3.33…, 1.11… → [1, 3]).
 *     min_iter: int(min_iter · eta^i) for i = 0 … 99 (min_iter 3, eta 3 → 3, 9, 27, …).
 * - Threshold at band b: the b-th value of every trial with at least b values (any state, this one included),
 *   sorted best first; the one at index int((1/eta) · n).
 * - A trial is judged at the largest band it has reached: it stops if its value there (`strict`) or its best
 *   value so far (not strict) is worse than that band's threshold.
 * Defaults: eta 3; strict true (W&B's default since April 2024, wandb/sweeps#108; it was false before).
 * W&B re-judges every running run whenever its controller polls; here a trial is judged when it asks
 * (`trial.shouldPrune()` after each report), against the study as it stands then.
 */
import { StudyError } from '../errors.js';
import type { FrozenTrial } from '../frozen-trial.js';
import type { Study } from '../study.js';
import type { Pruner } from './pruner.js';

export interface WandbHyperbandOptions {
  /** First band, in evaluations (an integer >= 1). */
  minIter?: number;
  /** With `s`: the last epoch W&B works back from (an integer). */
  maxIter?: number;
  /** With `maxIter`: how many bands (an integer >= 1). */
  s?: number;
  /** Default 3; must be > 1. */
  eta?: number;
  /** Default true: compare the value at the band rather than the best so far. */
  strict?: boolean;
}

/** The band list of `hyperband_stop_runs` (see the header); throws if it would be empty. */
export function wandbHyperbandBands(opts: WandbHyperbandOptions): number[] {
  const eta = opts.eta ?? 3;
  if (typeof eta !== 'number' || !(eta > 1)) throw new StudyError(`early_terminate.eta (${JSON.stringify(opts.eta)}) must be a number > 1`);
  const bands: number[] = [];
  if (opts.maxIter !== undefined && opts.s !== undefined) {
    if (!Number.isInteger(opts.maxIter)) throw new StudyError(`early_terminate.max_iter (${JSON.stringify(opts.maxIter)}) must be an integer`);
    if (!(Number.isInteger(opts.s) && opts.s >= 0)) throw new StudyError(`early_terminate.s (${JSON.stringify(opts.s)}) must be an integer >= 0`);
    let band = opts.maxIter;
    for (let i = 0; i < opts.s; i++) {
      band /= eta;
      if (band < 1) break;
      bands.push(Math.trunc(band));
    }
    bands.sort((a, b) => a - b);
    if (bands.length === 0) {
      throw new StudyError(`early_terminate: max_iter ${opts.maxIter}, s ${opts.s}, eta ${eta} give no band (max_iter/eta^i >= 1 for no i in 1..s); raise max_iter or s, or lower eta`);
    }
  } else if (opts.minIter !== undefined) {
    if (!(Number.isInteger(opts.minIter) && opts.minIter >= 1)) throw new StudyError(`early_terminate.min_iter (${JSON.stringify(opts.minIter)}) must be an integer >= 1`);
    let band = opts.minIter;
    for (let i = 0; i < 100; i++) {
      bands.push(Math.trunc(band));
      band *= eta;
    }
  } else {
    throw new StudyError(`early_terminate hyperband needs min_iter, or max_iter and s (got ${JSON.stringify({ min_iter: opts.minIter, max_iter: opts.maxIter, s: opts.s })})`);
  }
  return bands;
}

/** A trial's valid values in step order, negated when maximising so that smaller is always better. */
function history(trial: FrozenTrial, sign: number): number[] {
  return [...trial.intermediateValues]
    .sort((a, b) => a[0] - b[0])
    .map(([, v]) => v)
    .filter((v) => Number.isFinite(v))
    .map((v) => sign * v);
}

export class WandbHyperbandPruner implements Pruner {
  readonly bands: number[];
  readonly eta: number;
  readonly strict: boolean;

  constructor(opts: WandbHyperbandOptions) {
    this.bands = wandbHyperbandBands(opts);
    this.eta = opts.eta ?? 3;
    if (opts.strict !== undefined && typeof opts.strict !== 'boolean') throw new StudyError(`early_terminate.strict (${JSON.stringify(opts.strict)}) must be true or false`);
    this.strict = opts.strict ?? true;
  }

  /** The threshold (in the minimising sign) at `band`, or +Infinity when no trial has reached it. */
  threshold(study: Study, band: number): number {
    const sign = study.direction === 'maximize' ? -1 : 1;
    const atBand = study
      .getTrials()
      .map((t) => history(t, sign))
      .filter((h) => h.length >= band)
      .map((h) => h[band - 1])
      .sort((a, b) => a - b);
    return atBand.length === 0 ? Infinity : atBand[Math.trunc((1 / this.eta) * atBand.length)];
  }

  prune(study: Study, trial: FrozenTrial): boolean {
    const sign = study.direction === 'maximize' ? -1 : 1;
    const own = history(trial, sign);
    let band = -1;
    for (const b of this.bands) {
      if (b <= own.length) band = b;
      else break;
    }
    if (band === -1) return false; // no band reached yet
    const value = this.strict ? own[band - 1] : Math.min(...own);
    return value > this.threshold(study, band);
  }
}
