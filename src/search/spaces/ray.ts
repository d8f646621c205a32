/**
 * The Ray Tune dialect: `tune.uniform/loguniform/quniform/qloguniform/randint/qrandint/lograndint/
 * qlograndint/randn/qrandn/choice/grid_search/sample_from` objects in a (possibly nested) param space, converted
 * with Ray's semantics (`ray/tune/search/sample.py`, `ray/tune/search/variant_generator.py`):
 * - randint(l, u) and lograndint(l, u): upper bound EXCLUSIVE → IntDistribution(l, u − 1).
 * - qrandint(l, u, q), qlograndint: upper bound inclusive, values are multiples of q.
 * - quniform(l, u, q): a float rounded to multiples of q → FloatDistribution over the multiples of q in
 *   [l, u] (Ray gives the two end multiples half weight; here the grid is uniform, as Optuna's converter does).
 * - qloguniform(l, u, q): log-uniform then rounded to q (Optuna cannot combine log and step): the sampler
 *   models the unrounded log-uniform value; the objective gets the rounded one.
 * - randn(mean, sd) / qrandn: normal, sampled through its inverse CDF (see param-spec.ts).
 * - grid_search(values) (or the plain-data form `{grid_search: [...]}`): every combination of the grid axes, in
 *   Ray's order, once per sample: Hugging Face passes n_trials as Ray's num_samples, so a search runs
 *   n_trials · (grid size) trials (`trialCount`; see ray-grid-sampler.ts). Other params are sampled afresh for
 *   every grid point.
 * - sample_from(fn): `fn(spec)` with `spec.config` the config resolved so far, as Ray calls it; reading a value
 *   that is not resolved yet throws a RecursiveDependencyError and the function is retried in a later pass (at
 *   most 20 passes, as Ray's _MAX_RESOLUTION_PASSES), so functions may depend on each other in any order.
 * - Nested dicts: each leaf is a parameter named by its path joined with '/' (Ray's `evaluated_params` keys,
 *   e.g. `model/hidden_size`); the objective gets the config back nested the same way.
 * A dict is a domain only if its `type` is one of the domain types above; any other dict is a nested config.
 * Lists (Ray resolves inside them too) are not supported: an error names the key.
 */
import { CategoricalDistribution, FloatDistribution, IntDistribution, type CategoricalChoice, type ParamValue } from '../distributions.js';
import { DistributionError } from '../errors.js';
import type { Sampler } from '../samplers/sampler.js';
import { TPESampler } from '../samplers/tpe/sampler.js';
import type { Trial } from '../trial.js';
import { setNested, suggestParam, type ParamSpec, type SpaceValue } from './param-spec.js';
import { RayGridSampler, type RayGridAxis } from './ray-grid-sampler.js';
import { normalPpf, quantize } from './special.js';

/** What `sample_from`'s function receives: Ray's spec, whose `config` is the param space resolved so far. */
export interface RaySpec {
  readonly config: Readonly<Record<string, SpaceValue>>;
}

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
  | { type: 'grid_search'; values: CategoricalChoice[] }
  | { type: 'sample_from'; fn: (spec: RaySpec) => SpaceValue };

const DOMAIN_TYPES = new Set(['uniform', 'loguniform', 'quniform', 'qloguniform', 'randint', 'qrandint', 'lograndint', 'qlograndint', 'randn', 'qrandn', 'choice', 'grid_search', 'sample_from']);

/** A param space: domains, constants and nested dicts of them; `{grid_search: [...]}` is Ray's plain-data grid. */
export type RayValue = RayDomain | ParamValue | { grid_search: CategoricalChoice[] } | RayConfig;
export interface RayConfig {
  [key: string]: RayValue;
}

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
  sample_from: (fn: (spec: RaySpec) => SpaceValue): RayDomain => ({ type: 'sample_from', fn }),
};

function multiplesOf(name: string, lower: number, upper: number, q: number): [number, number] {
  if (!(q > 0)) throw new DistributionError(`${name}: q (${q}) must be > 0`);
  const lo = quantize(Math.ceil(lower / q - 1e-9) * q, q);
  const hi = quantize(Math.floor(upper / q + 1e-9) * q, q);
  if (lo > hi) throw new DistributionError(`${name}: no multiple of q (${q}) lies in [${lower}, ${upper}]`);
  return [lo, hi];
}

export interface RaySpace {
  /** Sampled leaves (not grid axes, not sample_from), by parameter name (path joined by '/'). */
  params: Record<string, ParamSpec>;
  /** grid_search axes by parameter name (empty if none). */
  grid: Record<string, CategoricalChoice[]>;
  hpSpace: (trial: Trial) => Record<string, SpaceValue>;
  /** RayGridSampler over the grid axes with `fallback` for the rest if there is a grid, else `fallback`. */
  sampler: (opts?: { seed?: number; fallback?: Sampler }) => Sampler;
  /** Trials for `numSamples` (HF's n_trials): Ray runs the whole grid once per sample. */
  trialCount: (numSamples: number) => number;
}

/** Ray's `RecursiveDependencyError`: a sample_from function read a value not resolved yet. */
export class RecursiveDependencyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecursiveDependencyError';
  }
}

/** Ray's _MAX_RESOLUTION_PASSES. */
const MAX_RESOLUTION_PASSES = 20;

function isDomain(v: unknown): v is RayDomain {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && DOMAIN_TYPES.has((v as { type?: unknown }).type as string);
}

function isPlainDict(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
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
    case 'sample_from':
      throw new DistributionError(`${name}: ${d.type} is handled by raySpace, not convertRayDomain`);
    default:
      throw new DistributionError(`${name}: unknown Ray Tune domain type (${JSON.stringify((d as { type: unknown }).type)})`);
  }
}

type Leaf =
  | { kind: 'constant'; path: string[]; value: ParamValue }
  | { kind: 'dict'; path: string[] } // an empty dict stays an empty dict
  | { kind: 'grid'; path: string[]; name: string; values: CategoricalChoice[] }
  | { kind: 'sampled'; path: string[]; name: string; spec: ParamSpec }
  | { kind: 'function'; path: string[]; name: string; fn: (spec: RaySpec) => SpaceValue };

/** Ray's _split_resolved_unresolved_values: the leaves of a nested config, depth first in key order. */
function leavesOf(config: Record<string, unknown>, prefix: string[] = []): Leaf[] {
  const out: Leaf[] = [];
  for (const [key, v] of Object.entries(config)) {
    const path = [...prefix, key];
    const name = path.join('/');
    if (isDomain(v)) {
      if (v.type === 'grid_search') out.push({ kind: 'grid', path, name, values: gridValues(name, v.values) });
      else if (v.type === 'sample_from') {
        if (typeof v.fn !== 'function') throw new DistributionError(`${name}: sample_from needs a function (got ${JSON.stringify(v.fn)})`);
        out.push({ kind: 'function', path, name, fn: v.fn });
      } else out.push({ kind: 'sampled', path, name, spec: convertRayDomain(name, v) });
    } else if (isPlainDict(v) && Object.keys(v).length === 1 && 'grid_search' in v) {
      out.push({ kind: 'grid', path, name, values: gridValues(name, v.grid_search) }); // Ray's {"grid_search": [...]} data form
    } else if (isPlainDict(v)) {
      const inner = leavesOf(v, path);
      out.push(...(inner.length ? inner : [{ kind: 'dict' as const, path }]));
    } else if (v === null || ['number', 'string', 'boolean'].includes(typeof v)) out.push({ kind: 'constant', path, value: v as ParamValue });
    else throw new DistributionError(`${name}: unsupported Ray Tune config value (${JSON.stringify(v) ?? String(v)}); use a domain, a constant or a nested dict`);
  }
  return out;
}

function gridValues(name: string, values: unknown): CategoricalChoice[] {
  if (!Array.isArray(values) || values.length === 0) throw new DistributionError(`${name}: grid_search values (${JSON.stringify(values)}) must be a non-empty array`);
  for (const v of values) {
    if (!(v === null || ['number', 'string', 'boolean'].includes(typeof v))) throw new DistributionError(`${name}: grid_search value ${JSON.stringify(v)} must be a number, string, boolean or null`);
  }
  return [...values] as CategoricalChoice[];
}

/** Python's tuple order on paths, as Ray's `grid_vars.sort()`. */
function comparePaths(a: string[], b: string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return a.length - b.length;
}

/** Ray's _UnresolvedAccessGuard: a read-only view of the config that throws on a value not resolved yet. */
function guard(node: Record<string, SpaceValue>, pending: Set<string>, prefix: string[]): Record<string, SpaceValue> {
  return new Proxy(node, {
    get(target, key, receiver) {
      if (typeof key === 'symbol') return Reflect.get(target, key, receiver);
      const path = [...prefix, key];
      if (pending.has(path.join('/'))) throw new RecursiveDependencyError(`\`${path.join('/')}\` is not resolved yet`);
      const v = target[key];
      return isPlainDict(v) ? guard(v as Record<string, SpaceValue>, pending, path) : v;
    },
    set() {
      throw new TypeError('sample_from: the spec is read-only');
    },
  });
}

export function raySpace(config: RayConfig): RaySpace {
  if (!isPlainDict(config)) throw new DistributionError(`a Ray Tune param space must be a dict (got ${JSON.stringify(config)})`);
  const leaves = leavesOf(config);
  const params: Record<string, ParamSpec> = {};
  const grid: Record<string, CategoricalChoice[]> = {};
  const axes: RayGridAxis[] = [];
  for (const leaf of leaves) {
    if (leaf.kind === 'sampled') params[leaf.name] = leaf.spec;
    if (leaf.kind === 'grid') grid[leaf.name] = leaf.values;
  }
  for (const leaf of [...leaves].sort((a, b) => comparePaths(a.path, b.path))) if (leaf.kind === 'grid') axes.push({ name: leaf.name, values: leaf.values });
  const gridSize = axes.reduce((n, a) => n * a.values.length, 1);

  const hpSpace = (trial: Trial): Record<string, SpaceValue> => {
    const out: Record<string, SpaceValue> = {};
    let functions: Array<Extract<Leaf, { kind: 'function' }>> = [];
    for (const leaf of leaves) {
      switch (leaf.kind) {
        case 'constant':
          setNested(out, leaf.path, leaf.value);
          break;
        case 'dict':
          setNested(out, leaf.path, {});
          break;
        case 'grid':
          setNested(out, leaf.path, trial.suggest(leaf.name, new CategoricalDistribution(leaf.values, leaf.name)));
          break;
        case 'sampled':
          setNested(out, leaf.path, suggestParam(trial, leaf.name, leaf.spec));
          break;
        case 'function':
          setNested(out, leaf.path, null); // placeholder until resolved
          functions.push(leaf);
          break;
      }
    }
    // Ray's _resolve_domain_vars: passes over the unresolved functions until none is left.
    const pending = new Set(functions.map((f) => f.name));
    for (let pass = 0; pass < MAX_RESOLUTION_PASSES && functions.length > 0; pass++) {
      const again: typeof functions = [];
      for (const f of functions) {
        let value: SpaceValue;
        try {
          value = f.fn({ config: guard(out, pending, []) });
        } catch (err) {
          if (err instanceof RecursiveDependencyError) {
            again.push(f);
            continue;
          }
          throw new DistributionError(`${f.name}: sample_from function failed: ${err instanceof Error ? err.message : String(err)}`);
        }
        setNested(out, f.path, value);
        pending.delete(f.name);
        trial.setUserAttr(`param_${f.name}`, value);
      }
      functions = again;
    }
    if (functions.length > 0) {
      throw new DistributionError(`${functions.map((f) => f.name).join(', ')}: sample_from could not be resolved in ${MAX_RESOLUTION_PASSES} passes (a circular dependency?)`);
    }
    return out;
  };

  return {
    params,
    grid,
    hpSpace,
    sampler: (opts = {}) => {
      const fallback = opts.fallback ?? new TPESampler({ seed: opts.seed });
      return axes.length > 0 ? new RayGridSampler(axes, fallback) : fallback;
    },
    trialCount: (numSamples) => numSamples * gridSize,
  };
}
