/**
 * The sampler interface, as Optuna's `optuna/samplers/_base.py`: a sampler may sample a "relative"
 * search space jointly (multivariate TPE, QMC, NSGA-II, grid) when the trial starts, and samples each
 * remaining parameter independently when the objective suggests it (define-by-run).
 */
import type { Distribution, ParamValue } from '../distributions.js';
import type { FrozenTrial, TrialState } from '../frozen-trial.js';
import type { Study } from '../study.js';

export type SearchSpace = Record<string, Distribution>;

export interface Sampler {
  /** Parameters to sample jointly for this trial (may be empty). */
  inferRelativeSearchSpace(study: Study, trial: FrozenTrial): SearchSpace;
  /** Joint values for (a subset of) the relative search space, as external values. */
  sampleRelative(study: Study, trial: FrozenTrial, searchSpace: SearchSpace): Record<string, ParamValue>;
  /** One parameter not covered by the relative sample. */
  sampleIndependent(study: Study, trial: FrozenTrial, name: string, distribution: Distribution): ParamValue;
  /**
   * Called when a trial starts (every trial, enqueued ones too), before the relative sample. Seeded samplers
   * register the trial number with their TrialStream here; a sampler wrapping others forwards it.
   */
  beforeTrial?(study: Study, trial: FrozenTrial): void;
  /** Called when a trial finishes, before its state is stored. */
  afterTrial?(study: Study, trial: FrozenTrial, state: TrialState, values: number[] | null): void;
}
