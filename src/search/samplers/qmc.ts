/**
 * Quasi-Monte Carlo sampler (Optuna's `optuna/samplers/_qmc.py`, Sobol' only): the relative search space is
 * fixed from the first COMPLETE trial (params with non-single distributions); each later trial takes the
 * next point of a scrambled Sobol' sequence mapped through the search-space transform. Parameters outside
 * that space, and the first trial, are sampled at random.
 * The point index is a counter in the study's system attrs (not atomic across processes: two processes
 * may take the same point, as in Optuna). The random part reseeds per trial number in a resumed or concurrent
 * study (TrialStream, through its RandomSampler).
 */
import type { Distribution, ParamValue } from '../distributions.js';
import type { FrozenTrial } from '../frozen-trial.js';
import type { Study } from '../study.js';
import { RandomSampler } from './random.js';
import type { Sampler, SearchSpace } from './sampler.js';
import { SearchSpaceTransform } from './search-space-transform.js';
import { Sobol } from './sobol.js';

export class QMCSampler implements Sampler {
  private initialSpace: SearchSpace | null = null;
  private engine: Sobol | null = null;
  private readonly random: RandomSampler;
  private readonly key: string;

  constructor(private readonly opts: { seed?: number; scramble?: boolean } = {}) {
    this.random = new RandomSampler({ seed: opts.seed }); // as Optuna's QMCSampler: RandomSampler(seed=seed)
    this.key = `qmc:sobol:${opts.scramble ?? true}:${opts.seed ?? 'none'}:sample_id`;
  }

  beforeTrial(study: Study, trial: FrozenTrial): void {
    this.random.beforeTrial(study, trial);
  }

  inferRelativeSearchSpace(study: Study): SearchSpace {
    if (this.initialSpace) return this.initialSpace;
    const done = study.getTrials({ states: ['COMPLETE'] });
    if (done.length === 0) return {};
    const first = done.reduce((a, b) => (a.number < b.number ? a : b));
    const space: SearchSpace = {};
    for (const name of Object.keys(first.distributions).sort()) if (!first.distributions[name].single()) space[name] = first.distributions[name];
    this.initialSpace = space;
    return space;
  }

  sampleRelative(study: Study, _trial: FrozenTrial, space: SearchSpace): Record<string, ParamValue> {
    if (Object.keys(space).length === 0) return {};
    const trans = new SearchSpaceTransform(space);
    this.engine ??= new Sobol(trans.dim, { scramble: this.opts.scramble ?? true, seed: this.opts.seed });
    const attrs = study.storage.getStudySystemAttrs(study.studyId);
    const id = (attrs[this.key] as number | undefined) ?? 0;
    study.storage.setStudySystemAttr(study.studyId, this.key, id + 1);
    const u = this.engine.point(id);
    return trans.untransform(u.map((x, i) => trans.bounds[i][0] + x * (trans.bounds[i][1] - trans.bounds[i][0])));
  }

  sampleIndependent(study: Study, trial: FrozenTrial, name: string, dist: Distribution): ParamValue {
    return this.random.sampleIndependent(study, trial, name, dist);
  }
}
