/**
 * Ray Tune's order of grid_search variants (`ray/tune/search/variant_generator.py`, `_grid_search_generator`;
 * `ray/tune/search/basic_variant.py`, `_TrialIterator`): the grid axes sorted by their config path, the first
 * axis varying fastest, and the whole grid generated again for each of `num_samples` samples. So trial n (in ask
 * order, study-wide) gets grid point n mod G, and nothing stops the study after one pass: the caller runs
 * num_samples · G trials. Parameters outside the grid go to the fallback sampler, one by one (sampleIndependent),
 * as Ray samples them afresh for every grid point.
 * Example: {a: grid [1, 2], b: grid ['x', 'y']}, num_samples 2 → (1,x) (2,x) (1,y) (2,y) (1,x) (2,x) (1,y) (2,y).
 */
import type { CategoricalChoice, Distribution, ParamValue } from '../distributions.js';
import { DistributionError } from '../errors.js';
import type { FrozenTrial, TrialState } from '../frozen-trial.js';
import type { Sampler, SearchSpace } from '../samplers/sampler.js';
import type { Study } from '../study.js';

export interface RayGridAxis {
  /** The trial parameter name (the config path joined by '/'). */
  name: string;
  values: CategoricalChoice[];
}

export class RayGridSampler implements Sampler {
  /** Number of grid points (the product of the axis lengths). */
  readonly size: number;

  /** `axes` in Ray's order (sorted by path); the first varies fastest. */
  constructor(
    readonly axes: RayGridAxis[],
    private readonly fallback: Sampler,
  ) {
    for (const a of axes) if (!Array.isArray(a.values) || a.values.length === 0) throw new DistributionError(`${a.name}: grid_search values (${JSON.stringify(a.values)}) must be a non-empty array`);
    this.size = axes.reduce((n, a) => n * a.values.length, 1);
  }

  /** The grid values of the n-th variant (mixed-radix digits of n mod size, first axis least significant). */
  variant(n: number): Record<string, CategoricalChoice> {
    let rest = n % this.size;
    const out: Record<string, CategoricalChoice> = {};
    for (const a of this.axes) {
      out[a.name] = a.values[rest % a.values.length];
      rest = Math.floor(rest / a.values.length);
    }
    return out;
  }

  beforeTrial(study: Study, trial: FrozenTrial): void {
    this.fallback.beforeTrial?.(study, trial);
  }

  // Nothing relative: a joint sample by the fallback could override grid values.
  inferRelativeSearchSpace(): SearchSpace {
    return {};
  }

  sampleRelative(): Record<string, ParamValue> {
    return {};
  }

  sampleIndependent(study: Study, trial: FrozenTrial, name: string, dist: Distribution): ParamValue {
    const variant = this.variant(trial.number);
    if (!(name in variant)) return this.fallback.sampleIndependent(study, trial, name, dist);
    const value = variant[name];
    if (!dist.contains(dist.toInternal(value, name))) throw new DistributionError(`${name}: grid value (${JSON.stringify(value)}) is outside the suggested distribution ${JSON.stringify(dist.toJSON().attributes)}`);
    return value;
  }

  afterTrial(study: Study, trial: FrozenTrial, state: TrialState, values: number[] | null): void {
    this.fallback.afterTrial?.(study, trial, state, values);
  }
}
