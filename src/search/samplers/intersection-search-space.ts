/**
 * The parameters every finished trial has, with the same distribution (Optuna's
 * `optuna/search_space/intersection.py`); the relative search space of multivariate TPE and QMC.
 */
import { distributionsEqual } from '../distributions.js';
import type { FrozenTrial, TrialState } from '../frozen-trial.js';
import type { Study } from '../study.js';
import type { SearchSpace } from './sampler.js';

export function intersectionSearchSpace(study: Study, opts: { includePruned?: boolean } = {}): SearchSpace {
  const states: TrialState[] = opts.includePruned ? ['COMPLETE', 'PRUNED'] : ['COMPLETE'];
  return intersectionOf(study.getTrials({ states }));
}

export function intersectionOf(trials: readonly FrozenTrial[]): SearchSpace {
  let space: SearchSpace | null = null;
  for (const t of trials) {
    if (space === null) {
      space = { ...t.distributions };
      continue;
    }
    for (const name of Object.keys(space)) {
      const d = t.distributions[name];
      if (!d || !distributionsEqual(d, space[name])) delete space[name];
    }
  }
  const out: SearchSpace = {};
  for (const name of Object.keys(space ?? {}).sort()) out[name] = space![name];
  return out;
}
