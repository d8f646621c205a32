/**
 * Uniform random sampling, draw for draw as Optuna 3.1's `optuna/samplers/_random.py`: the sampler owns one
 * `numpy.random.RandomState(seed)` (here `Rng`), and each parameter is `rng.uniform(bounds)` in the space of
 * `_SearchSpaceTransform` (log parameters over the log bounds, stepped ones over bounds widened by half a step,
 * then snapped back; a categorical is one uniform coordinate per choice and the argmax wins), so the same seed
 * gives the same values as Optuna for the same sequence of suggestions. A resumed or concurrent study reseeds
 * the stream per trial number (TrialStream) so it never repeats earlier draws.
 */
import type { Distribution, ParamValue } from '../distributions.js';
import type { FrozenTrial } from '../frozen-trial.js';
import type { Rng } from '../rng.js';
import type { Study } from '../study.js';
import type { Sampler, SearchSpace } from './sampler.js';
import { SearchSpaceTransform } from './search-space-transform.js';
import { TrialStream } from './trial-stream.js';

export function sampleUniform(rng: Rng, dist: Distribution): ParamValue {
  const trans = new SearchSpaceTransform({ param: dist });
  // One uniform per box column, in column order, as `RandomState.uniform(low_array, high_array)`.
  return trans.untransform(trans.bounds.map(([lo, hi]) => rng.uniform(lo, hi))).param;
}

export class RandomSampler implements Sampler {
  private readonly stream: TrialStream;

  constructor(opts: { seed?: number } = {}) {
    this.stream = new TrialStream(opts.seed);
  }

  beforeTrial(_study: Study, trial: FrozenTrial): void {
    this.stream.startTrial(trial.number);
  }

  inferRelativeSearchSpace(): SearchSpace {
    return {};
  }

  sampleRelative(): Record<string, ParamValue> {
    return {};
  }

  sampleIndependent(_study: Study, trial: FrozenTrial, _name: string, dist: Distribution): ParamValue {
    return sampleUniform(this.stream.rngFor(trial.number), dist);
  }
}
