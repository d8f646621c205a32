/**
 * A converted search-space entry (from a Ray Tune or W&B sweep config) and how a trial suggests it.
 * - `distribution`: an Optuna distribution, optionally post-mapped (quantisation) — the sampler models the
 *   unmapped value; the mapped value is what the objective gets.
 * - `quantile`: a non-uniform distribution (normal, beta, weighted choice…) sampled as u ∈ [0, 1] by the
 *   study's sampler under the name `<name>__quantile` and mapped through the inverse CDF, so TPE still
 *   models it (as a uniform dimension) — Optuna distributions cannot express these shapes.
 * Values that differ from the stored trial param (mapped or quantile) are recorded in the trial's user
 * attr `param_<name>`, so results show what the objective actually received.
 */
import type { Distribution, ParamValue } from '../distributions.js';
import { FloatDistribution } from '../distributions.js';
import type { Trial } from '../trial.js';

export type ParamSpec =
  | { kind: 'constant'; value: ParamValue }
  | { kind: 'distribution'; distribution: Distribution; map?: (v: ParamValue) => ParamValue }
  | { kind: 'quantile'; inverseCdf: (u: number) => ParamValue };

export const QUANTILE_SUFFIX = '__quantile';

/** What a space hands the objective: a value, or a nested dict of values (Ray's nested configs, W&B's nested parameters). */
export type SpaceValue = ParamValue | { [key: string]: SpaceValue };

/** Sets `value` at `path` in a nested dict, creating the dicts on the way. */
export function setNested(target: { [key: string]: SpaceValue }, path: readonly string[], value: SpaceValue): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object') node[key] = {};
    node = node[key] as { [key: string]: SpaceValue };
  }
  node[path[path.length - 1]] = value;
}

export function suggestParam(trial: Trial, name: string, spec: ParamSpec): ParamValue {
  switch (spec.kind) {
    case 'constant':
      return spec.value;
    case 'distribution': {
      const raw = trial.suggest(name, spec.distribution);
      if (!spec.map) return raw;
      const v = spec.map(raw);
      trial.setUserAttr(`param_${name}`, v);
      return v;
    }
    case 'quantile': {
      const u = trial.suggest(`${name}${QUANTILE_SUFFIX}`, new FloatDistribution(0, 1, {}, `${name}${QUANTILE_SUFFIX}`)) as number;
      const v = spec.inverseCdf(u);
      trial.setUserAttr(`param_${name}`, v);
      return v;
    }
  }
}

/** Suggests every entry of a converted space; returns the values the objective should use. */
export function suggestAll(trial: Trial, space: Record<string, ParamSpec>): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const [name, spec] of Object.entries(space)) out[name] = suggestParam(trial, name, spec);
  return out;
}
