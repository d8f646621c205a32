/**
 * Hyperband (Li et al. 2017, "Hyperband: a novel bandit-based approach to hyperparameter optimization",
 * JMLR) over asynchronous successive halving, as Optuna's `optuna/pruners/_hyperband.py`.
 * n_brackets = floor(log_η(maxResource / minResource)) + 1; bracket b is an ASHA pruner with
 * minEarlyStoppingRate b. Its share of trials ("budget") is ceil(n_brackets · η^s / (s + 1)) with
 * s = n_brackets − 1 − b. A trial's bracket is crc32("{studyName}_{number}") mod the total budget, walked
 * through the budgets — deterministic, so every process agrees. Each bracket only compares trials of the
 * same bracket. maxResource 'auto' = last step + 1 of the longest COMPLETE trial (no pruning before one exists).
 */
import { StudyError } from '../errors.js';
import { lastStep, type FrozenTrial } from '../frozen-trial.js';
import type { Study } from '../study.js';
import { crc32 } from './crc32.js';
import type { Pruner } from './pruner.js';
import { SuccessiveHalvingPruner } from './successive-halving.js';

export interface HyperbandOptions {
  minResource?: number;
  maxResource?: number | 'auto';
  reductionFactor?: number;
  bootstrapCount?: number;
}

export class HyperbandPruner implements Pruner {
  readonly minResource: number;
  private maxResource: number | null;
  readonly reductionFactor: number;
  readonly bootstrapCount: number;
  private pruners: SuccessiveHalvingPruner[] = [];
  private budgets: number[] = [];

  constructor(opts: HyperbandOptions = {}) {
    this.minResource = opts.minResource ?? 1;
    const max = opts.maxResource ?? 'auto';
    this.maxResource = max === 'auto' ? null : max;
    this.reductionFactor = opts.reductionFactor ?? 3;
    this.bootstrapCount = opts.bootstrapCount ?? 0;
    if (this.maxResource !== null && this.maxResource < this.minResource) throw new StudyError(`maxResource (${this.maxResource}) must be >= minResource (${this.minResource})`);
    if (this.maxResource !== null) this.init(this.maxResource);
  }

  get nBrackets(): number {
    return this.pruners.length;
  }

  get trialAllocationBudgets(): readonly number[] {
    return this.budgets;
  }

  private init(maxResource: number): void {
    this.maxResource = maxResource;
    // The epsilon absorbs float error of log ratios that are exact integers (e.g. log(27)/log(3)).
    const n = Math.floor(Math.log(maxResource / this.minResource) / Math.log(this.reductionFactor) + 1e-9) + 1;
    this.budgets = Array.from({ length: n }, (_, b) => {
      const s = n - 1 - b;
      return Math.ceil((n * this.reductionFactor ** s) / (s + 1));
    });
    this.pruners = Array.from({ length: n }, (_, b) => new SuccessiveHalvingPruner({ minResource: this.minResource, reductionFactor: this.reductionFactor, minEarlyStoppingRate: b, bootstrapCount: this.bootstrapCount }));
  }

  bracketOf(studyName: string, trialNumber: number): number {
    const total = this.budgets.reduce((a, b) => a + b, 0);
    let n = crc32(`${studyName}_${trialNumber}`) % total;
    for (let b = 0; b < this.budgets.length; b++) {
      n -= this.budgets[b];
      if (n < 0) return b;
    }
    throw new Error('unreachable: bracket budgets exhausted');
  }

  prune(study: Study, trial: FrozenTrial): boolean {
    if (this.pruners.length === 0) {
      const steps = study.getTrials({ states: ['COMPLETE'] }).map(lastStep).filter((s): s is number => s !== null);
      if (steps.length === 0) return false;
      this.init(Math.max(...steps) + 1);
    }
    const name = study.studyName;
    const bracket = this.bracketOf(name, trial.number);
    // The bracket's SHA sees only the trials of its own bracket.
    const view = Object.create(study, {
      getTrials: {
        value: (opts?: Parameters<Study['getTrials']>[0]) => study.getTrials(opts).filter((t) => this.bracketOf(name, t.number) === bracket),
      },
    }) as Study;
    return this.pruners[bracket].prune(view, trial);
  }
}
