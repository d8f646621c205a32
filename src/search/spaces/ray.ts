/**
 * The Ray Tune dialect: `tune.uniform/loguniform/quniform/qloguniform/randint/qrandint/lograndint/
 * qlograndint/randn/qrandn/choice/grid_search` objects, converted to distributions with Ray's semantics
 * (`ray/tune/search/sample.py`):
 * - randint(l, u) and lograndint(l, u): upper bound EXCLUSIVE → IntDistribution(l, u − 1).
 * - qrandint(l, u, q), qlograndint: upper bound inclusive, values are multiples of q.
 * - quniform(l, u, q): a float rounded to multiples of q → FloatDistribution over the multiples of q in
 *   [l, u] (Ray gives the two end multiples half weight; here the grid is uniform, as Optuna's converter does).
 * - qloguniform(l, u, q): log-uniform then rounded to q (Optuna cannot combine log and step): the sampler
 *   models the unrounded log-uniform value; the objective gets the rounded one.
 * - randn(mean, sd) / qrandn: normal, sampled through its inverse CDF (see param-spec.ts).
 * - grid_search(values): every value is crossed with every other grid axis (GridSampler); other params
 *   are sampled by the fallback sampler for each grid point, as Ray does with num_samples = 1.
 * Limits: `tune.sample_from` and nested dicts are not supported (error naming the key).
 */
import { CategoricalDistribution, FloatDistribution, IntDistribution, type CategoricalChoice, type ParamValue } from '../distributions.js';
import { DistributionError } from '../errors.js';
import { GridSampler } from '../samplers/grid.js';
import type { Sampler } from '../samplers/sampler.js';
import { TPESampler } from '../samplers/tpe/sampler.js';
import type { Trial } from '../trial.js';
import { suggestAll, type ParamSpec } from './param-spec.js';
import { normalPpf, quantize } from './special.js';

export type RayDomain =
  | { type: 'uniform'; lower: number; upper: number }
  | { type: 'loguniform'; lower: number; upper: number }
  | { type: 'quniform'; lower: number; upper: number; q: number }
  | { type: 'qloguniform'; lower: number; upper: number; q: number }
  | { type: 'randint'; lower: number; upper: number }
  | { type: 'qrandint'; lower: number; upper: number; q: number }
  | { type: 'lograndint'; lower: number; upper: number }
  | { type: 'qlograndint'; lower: number; upper: number; q: number }
  | { type: 'randn'; mean: number; sd: number }
  | { type: 'qrandn'; mean: number; sd: number; q: number }
  | { type: 'choice'; categories: CategoricalChoice[] }
  | { type: 'grid_search'; values: CategoricalChoice[] };

export type RayConfig = Record<string, RayDomain | ParamValue>;

/** Builders with Ray's names: `tune.uniform(1e-6, 1e-4)` etc. */
export const tune = {
  uniform: (lower: number, upper: number): RayDomain => ({ type: 'uniform', lower, upper }),
  loguniform: (lower: number, upper: number): RayDomain => ({ type: 'loguniform', lower, upper }),
  quniform: (lower: number, upper: number, q: number): RayDomain => ({ type: 'quniform', lower, upper, q }),
  qloguniform: (lower: number, upper: number, q: number): RayDomain => ({ type: 'qloguniform', lower, upper, q }),
  randint: (lower: number, upper: number): RayDomain => ({ type: 'randint', lower, upper }),
  qrandint: (lower: number, upper: number, q = 1): RayDomain => ({ type: 'qrandint', lower, upper, q }),
  lograndint: (lower: number, upper: number): RayDomain => ({ type: 'lograndint', lower, upper }),
  qlograndint: (lower: number, upper: number, q: number): RayDomain => ({ type: 'qlograndint', lower, upper, q }),
  randn: (mean = 0, sd = 1): RayDomain => ({ type: 'randn', mean, sd }),
  qrandn: (mean: number, sd: number, q: number): RayDomain => ({ type: 'qrandn', mean, sd, q }),
  choice: (categories: CategoricalChoice[]): RayDomain => ({ type: 'choice', categories }),
  grid_search: (values: CategoricalChoice[]): RayDomain => ({ type: 'grid_search', values }),
};

function multiplesOf(name: string, lower: number, upper: number, q: number): [number, number] {
  if (!(q > 0)) throw new DistributionError(`${name}: q (${q}) must be > 0`);
  const lo = quantize(Math.ceil(lower / q - 1e-9) * q, q);
  const hi = quantize(Math.floor(upper / q + 1e-9) * q, q);
  if (lo > hi) throw new DistributionError(`${name}: no multiple of q (${q}) lies in [${lower}, ${upper}]`);
  return [lo, hi];
}

export interface RaySpace {
  /** Entries other than grid axes. */
  params: Record<string, ParamSpec>;
  /** grid_search axes (empty if none). */
  grid: Record<string, CategoricalChoice[]>;
  hpSpace: (trial: Trial) => Record<string, ParamValue>;
  /** GridSampler over the grid axes with `fallback` for the rest if there is a grid, else `fallback`. */
  sampler: (opts?: { seed?: number; fallback?: Sampler }) => Sampler;
}

function isDomain(v: unknown): v is RayDomain {
  return typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string';
}

export function convertRayDomain(name: string, d: RayDomain): ParamSpec {
  switch (d.type) {
    case 'uniform':
      return { kind: 'distribution', distribution: new FloatDistribution(d.lower, d.upper, {}, name) };
    case 'loguniform':
      return { kind: 'distribution', distribution: new FloatDistribution(d.lower, d.upper, { log: true }, name) };
    case 'quniform': {
      const [lo, hi] = multiplesOf(name, d.lower, d.upper, d.q);
      return { kind: 'distribution', distribution: new FloatDistribution(lo, hi, { step: d.q }, name), map: (v) => quantize(v as number, d.q) };
    }
    case 'qloguniform': {
      const [lo, hi] = multiplesOf(name, d.lower, d.upper, d.q);
      return { kind: 'distribution', distribution: new FloatDistribution(d.lower, d.upper, { log: true }, name), map: (v) => Math.min(Math.max(quantize(v as number, d.q), lo), hi) };
    }
    case 'randint':
      return { kind: 'distribution', distribution: new IntDistribution(d.lower, d.upper - 1, {}, name) };
    case 'lograndint':
      return { kind: 'distribution', distribution: new IntDistribution(d.lower, d.upper - 1, { log: true }, name) };
    case 'qrandint': {
      const [lo, hi] = multiplesOf(name, d.lower, d.upper, d.q);
      return { kind: 'distribution', distribution: new IntDistribution(lo, hi, { step: d.q }, name) };
    }
    case 'qlograndint': {
      const [lo, hi] = multiplesOf(name, d.lower, d.upper, d.q);
      return { kind: 'distribution', distribution: new IntDistribution(d.lower, d.upper, { log: true }, name), map: (v) => Math.min(Math.max(quantize(v as number, d.q), lo), hi) };
    }
    case 'randn':
      return { kind: 'quantile', inverseCdf: (u) => normalPpf(u, d.mean, d.sd) };
    case 'qrandn':
      return { kind: 'quantile', inverseCdf: (u) => quantize(normalPpf(u, d.mean, d.sd), d.q) };
    case 'choice':
      return { kind: 'distribution', distribution: new CategoricalDistribution(d.categories, name) };
    case 'grid_search':
      throw new DistributionError(`${name}: grid_search is handled by raySpace, not convertRayDomain`);
    default:
      throw new DistributionError(`${name}: unknown Ray Tune domain type (${JSON.stringify((d as { type: unknown }).type)})`);
  }
}

export function raySpace(config: RayConfig): RaySpace {
  const params: Record<string, ParamSpec> = {};
  const grid: Record<string, CategoricalChoice[]> = {};
  for (const [name, v] of Object.entries(config)) {
    if (isDomain(v)) {
      if (v.type === 'grid_search') {
        if (!Array.isArray(v.values) || v.values.length === 0) throw new DistributionError(`${name}: grid_search values (${JSON.stringify(v.values)}) must be a non-empty array`);
        grid[name] = [...v.values];
      } else params[name] = convertRayDomain(name, v);
    } else if (v === null || ['number', 'string', 'boolean'].includes(typeof v)) params[name] = { kind: 'constant', value: v };
    else throw new DistributionError(`${name}: unsupported Ray Tune config value (${JSON.stringify(v)}); nested dicts and sample_from are not supported`);
  }
  const gridSpecs: Record<string, ParamSpec> = Object.fromEntries(Object.entries(grid).map(([n, vals]) => [n, { kind: 'distribution', distribution: new CategoricalDistribution(vals, n) }]));
  const all = { ...gridSpecs, ...params };
  return {
    params,
    grid,
    hpSpace: (trial) => suggestAll(trial, all),
    sampler: (opts = {}) => {
      const fallback = opts.fallback ?? new TPESampler({ seed: opts.seed });
      return Object.keys(grid).length > 0 ? new GridSampler(grid, { seed: opts.seed, fallback }) : fallback;
    },
  };
}
