/**
 * Uniform random sampling in the transformed space (Optuna's `optuna/samplers/_random.py`):
 * log parameters are log-uniform, stepped parameters uniform over their grid, categoricals uniform.
 */
import type { Distribution, ParamValue } from '../distributions.js';
import type { FrozenTrial } from '../frozen-trial.js';
import { Rng } from '../rng.js';
import type { Study } from '../study.js';
import type { Sampler, SearchSpace } from './sampler.js';
import { numericBounds, untransformNumeric } from './search-space-transform.js';

export function sampleUniform(rng: Rng, dist: Distribution): ParamValue {
  if (dist.kind === 'categorical') return dist.choices[Math.floor(rng.random() * dist.choices.length)];
  const [lo, hi] = numericBounds(dist);
  return untransformNumeric(dist, rng.uniform(lo, hi));
}

export class RandomSampler implements Sampler {
  readonly rng: Rng;

  constructor(opts: { seed?: number } = {}) {
    this.rng = new Rng(opts.seed);
  }

  inferRelativeSearchSpace(): SearchSpace {
    return {};
  }

  sampleRelative(): Record<string, ParamValue> {
    return {};
  }

  sampleIndependent(_study: Study, _trial: FrozenTrial, _name: string, dist: Distribution): ParamValue {
    return sampleUniform(this.rng, dist);
  }
}
