/**
 * The W&B sweep dialect: `{method, metric: {name, goal, target}, parameters, early_terminate, run_cap}` as in
 * github.com/wandb/sweeps: the schema `src/sweeps/config/schema.json`, sampling in `src/sweeps/params.py`, grids in
 * `src/sweeps/grid_search.py`, early termination in `src/sweeps/hyperband_stopping.py`.
 * Distributions (q defaults to 1):
 *   constant (value) · categorical (values) · categorical_w_probabilities (values, probabilities) ·
 *   int_uniform [min, max] · uniform [min, max] · q_uniform round(U/q)·q · log_uniform_values: log-uniform on
 *   [min, max] · q_log_uniform_values · inv_log_uniform_values: X = 1/Y with Y log-uniform on [1/max, 1/min] (so X
 *   is log-uniform on [min, max], with the quantile reversed) · normal (mu 0, sigma 1) · q_normal · log_normal
 *   exp(N(mu, sigma)) · q_log_normal · beta (a 1, b 1) · q_beta · log_uniform: exp(U(min, max)), min/max are
 *   natural-log exponents · q_log_uniform · inv_log_uniform: exp(−U(min, max)).
 * Without `distribution`, W&B infers: value → constant, values + probabilities → categorical_w_probabilities,
 * values → categorical, integer min/max → int_uniform, else uniform. min must be < max.
 * Nested parameters (`{parameters: {...}}` in place of a distribution) are flattened as W&B's
 * `HyperParameterSet.from_config` does: the sampler sees `outer.wbnest[599c28ca25da].inner`, the objective gets
 * `{outer: {inner: value}}`. Keys are taken in sorted order at each level, as W&B does.
 * Mapping: uniform shapes become Optuna distributions (quantised ones are rounded after sampling); shapes
 * Optuna cannot express (normal, log_normal, beta, weighted categorical) are sampled as a quantile
 * u ∈ [0, 1] through their inverse CDF (see param-spec.ts), so every method can sample them.
 * Methods: grid → GridSampler over value, values, int_uniform (min … max) and q_uniform (NumPy's
 * arange(min, max, q): max excluded, float steps kept unrounded, as W&B lists them); any other distribution,
 * probabilities included, is an error naming the parameter. random → RandomSampler; bayes → TPESampler. W&B's
 * bayes is a Gaussian process; TPE is used because it handles the conditional, categorical and integer mix of
 * training hyperparameters natively and scales linearly with the number of trials (Bergstra 2011, Watanabe 2023).
 * early_terminate {type: hyperband} → WandbHyperbandPruner (W&B's own rule: bands counted in evaluations).
 * metric.target: once a trial ends having reached it (minimize: value <= target; maximize: >=), no new trial starts
 * and running ones finish (W&B: "the sweep does not create new runs"). The value judged is the trial's objective,
 * or its last reported value when it did not complete (a W&B run's summary is its last logged value).
 * run_cap: the study holds at most run_cap trials (W&B: "no more than this number of runs, across any number
 * of agents"), so a resumed study counts the trials it already has.
 * `direction` (Hugging Face's run_hp_search_wandb sets sweep_config.metric.goal = direction) overrides metric.goal.
 */
import { CategoricalDistribution, FloatDistribution, IntDistribution, type CategoricalChoice, type ParamValue } from '../distributions.js';
import { DistributionError, StudyError } from '../errors.js';
import type { Direction, FrozenTrial } from '../frozen-trial.js';
import type { Pruner } from '../pruners/pruner.js';
import { NopPruner } from '../pruners/nop.js';
import { WandbHyperbandPruner } from '../pruners/wandb-hyperband.js';
import { GridSampler } from '../samplers/grid.js';
import { RandomSampler } from '../samplers/random.js';
import type { Sampler } from '../samplers/sampler.js';
import { TPESampler } from '../samplers/tpe/sampler.js';
import type { Callback, Study } from '../study.js';
import type { Trial } from '../trial.js';
import { setNested, suggestParam, type ParamSpec, type SpaceValue } from './param-spec.js';
import { betaPpf, normalPpf, quantize, weightedChoicePpf } from './special.js';

export interface WandbParam {
  value?: ParamValue;
  values?: CategoricalChoice[];
  probabilities?: number[];
  distribution?: string;
  min?: number;
  max?: number;
  mu?: number;
  sigma?: number;
  q?: number;
  a?: number;
  b?: number;
  /** A nested parameter: a dict of parameters in place of a distribution. */
  parameters?: Record<string, WandbParam>;
}

export interface WandbEarlyTerminate {
  type: 'hyperband';
  min_iter?: number;
  max_iter?: number;
  s?: number;
  eta?: number;
  strict?: boolean;
}

export interface WandbSweepConfig {
  method: 'grid' | 'random' | 'bayes';
  metric?: { name: string; goal?: Direction; target?: number };
  parameters: Record<string, WandbParam>;
  early_terminate?: WandbEarlyTerminate;
  run_cap?: number;
}

export interface WandbSweep {
  direction: Direction;
  metricName: string | null;
  /** metric.target, or null. */
  target: number | null;
  /** run_cap, or null. */
  runCap: number | null;
  /** Converted leaves under their flat W&B names (nested ones joined by NESTING_DELIMITER). */
  params: Record<string, ParamSpec>;
  hpSpace: (trial: Trial) => Record<string, SpaceValue>;
  sampler: (opts?: { seed?: number }) => Sampler;
  pruner: Pruner;
  /** Trials to run when `requested` are asked of a study that already holds `existing` (run_cap). */
  trialCount: (requested: number, existing: number) => number;
  /** Study callbacks: metric.target stops the search. */
  callbacks: Callback[];
}

/** W&B's `HyperParameterSet.NESTING_DELIMITER`. */
export const NESTING_DELIMITER = '.wbnest[599c28ca25da].';

/** W&B's `parameters.propertyNames` pattern. */
const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function need(name: string, p: WandbParam, key: keyof WandbParam): number {
  const v = p[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new DistributionError(`${name}: ${p.distribution} needs a finite number ${key} (got ${JSON.stringify(v)})`);
  return v;
}

function inferDistribution(name: string, p: WandbParam): string {
  if (p.distribution) return p.distribution;
  if ('value' in p) return 'constant';
  if (p.values && p.probabilities) return 'categorical_w_probabilities';
  if (p.values) return 'categorical';
  if (p.min !== undefined && p.max !== undefined) return Number.isInteger(p.min) && Number.isInteger(p.max) ? 'int_uniform' : 'uniform';
  throw new DistributionError(`${name}: cannot infer a distribution from ${JSON.stringify(p)}`);
}

function nonEmptyValues(name: string, p: WandbParam, dist: string): CategoricalChoice[] {
  if (!Array.isArray(p.values) || p.values.length === 0) throw new DistributionError(`${name}: ${dist} needs a non-empty values list (got ${JSON.stringify(p.values)})`);
  return p.values;
}

/** W&B's validate_categorical_prob: as many probabilities as values, each >= 0, summing to 1 (np.isclose). */
function checkedProbabilities(name: string, p: WandbParam, values: readonly CategoricalChoice[]): number[] {
  const probs = p.probabilities;
  if (!Array.isArray(probs) || probs.some((x) => typeof x !== 'number' || !(x >= 0))) {
    throw new DistributionError(`${name}: probabilities (${JSON.stringify(probs)}) must be a list of numbers >= 0`);
  }
  if (probs.length !== values.length) throw new DistributionError(`${name}: values ${JSON.stringify(values)} and probabilities ${JSON.stringify(probs)} are not the same length`);
  const sum = probs.reduce((a, b) => a + b, 0);
  if (!(Math.abs(sum - 1) <= 1e-8 + 1e-5)) throw new DistributionError(`${name}: probabilities ${JSON.stringify(probs)} sum to ${sum}, not 1`);
  return probs;
}

export function convertWandbParam(name: string, p: WandbParam): ParamSpec {
  const dist = inferDistribution(name, p);
  const q = p.q ?? 1;
  if (!(q > 0)) throw new DistributionError(`${name}: q (${q}) must be > 0`);
  // W&B's validate_min_max: wherever both bounds are given.
  if (typeof p.min === 'number' && typeof p.max === 'number' && !(p.min < p.max)) throw new DistributionError(`${name}: min (${p.min}) must be less than max (${p.max})`);
  const qz = (v: number): number => quantize(v, q);
  const withDist = { ...p, distribution: dist };
  switch (dist) {
    case 'constant':
      if (!('value' in p)) throw new DistributionError(`${name}: constant needs value`);
      return { kind: 'constant', value: p.value as ParamValue };
    case 'categorical':
      // The schema's categorical takes no probabilities (that is categorical_w_probabilities).
      if (p.probabilities !== undefined) throw new DistributionError(`${name}: distribution categorical takes no probabilities (${JSON.stringify(p.probabilities)}); use categorical_w_probabilities`);
      return { kind: 'distribution', distribution: new CategoricalDistribution(nonEmptyValues(name, p, dist), name) };
    case 'categorical_w_probabilities': {
      const values = nonEmptyValues(name, p, dist);
      const probs = checkedProbabilities(name, p, values);
      // params.py: values[argmin(u >= cumsum(probabilities))], the first value whose cumulative probability exceeds u.
      return { kind: 'quantile', inverseCdf: (u) => values[weightedChoicePpf(u, probs)] };
    }
    case 'int_uniform':
      return { kind: 'distribution', distribution: new IntDistribution(need(name, withDist, 'min'), need(name, withDist, 'max'), {}, name) };
    case 'uniform':
      return { kind: 'distribution', distribution: new FloatDistribution(need(name, withDist, 'min'), need(name, withDist, 'max'), {}, name) };
    case 'q_uniform':
      return { kind: 'distribution', distribution: new FloatDistribution(need(name, withDist, 'min'), need(name, withDist, 'max'), {}, name), map: (v) => qz(v as number) };
    case 'log_uniform_values':
      return { kind: 'distribution', distribution: new FloatDistribution(need(name, withDist, 'min'), need(name, withDist, 'max'), { log: true }, name) };
    case 'q_log_uniform_values':
      return { kind: 'distribution', distribution: new FloatDistribution(need(name, withDist, 'min'), need(name, withDist, 'max'), { log: true }, name), map: (v) => qz(v as number) };
    case 'inv_log_uniform_values': {
      const lo = Math.log(1 / need(name, withDist, 'max'));
      const hi = Math.log(1 / need(name, withDist, 'min'));
      if (!(hi >= lo) || !(need(name, withDist, 'min') > 0)) throw new DistributionError(`${name}: inv_log_uniform_values needs 0 < min (${p.min}) <= max (${p.max})`);
      return { kind: 'quantile', inverseCdf: (u) => 1 / Math.exp(lo + u * (hi - lo)) };
    }
    case 'log_uniform':
      return { kind: 'distribution', distribution: new FloatDistribution(Math.exp(need(name, withDist, 'min')), Math.exp(need(name, withDist, 'max')), { log: true }, name) };
    case 'q_log_uniform':
      return { kind: 'distribution', distribution: new FloatDistribution(Math.exp(need(name, withDist, 'min')), Math.exp(need(name, withDist, 'max')), { log: true }, name), map: (v) => qz(v as number) };
    case 'inv_log_uniform': {
      const lo = need(name, withDist, 'min');
      const hi = need(name, withDist, 'max');
      return { kind: 'quantile', inverseCdf: (u) => Math.exp(-(lo + u * (hi - lo))) };
    }
    case 'normal':
    case 'q_normal':
    case 'log_normal':
    case 'q_log_normal': {
      const mu = p.mu ?? 0;
      const sigma = p.sigma ?? 1;
      if (!(sigma > 0)) throw new DistributionError(`${name}: sigma (${sigma}) must be > 0`);
      const log = dist.includes('log');
      const quant = dist.startsWith('q_');
      return {
        kind: 'quantile',
        inverseCdf: (u) => {
          let v = normalPpf(u, mu, sigma);
          if (log) v = Math.exp(v);
          return quant ? qz(v) : v;
        },
      };
    }
    case 'beta':
    case 'q_beta': {
      // The schema's defaults: a = 1, b = 1 (the uniform distribution on [0, 1]).
      const a = p.a ?? 1;
      const b = p.b ?? 1;
      if (!(typeof a === 'number' && a > 0 && typeof b === 'number' && b > 0)) throw new DistributionError(`${name}: beta needs a (${JSON.stringify(p.a)}) > 0 and b (${JSON.stringify(p.b)}) > 0`);
      return { kind: 'quantile', inverseCdf: (u) => (dist === 'q_beta' ? qz(betaPpf(u, a, b)) : betaPpf(u, a, b)) };
    }
    default:
      throw new DistributionError(`${name}: unknown W&B distribution (${JSON.stringify(dist)})`);
  }
}

/**
 * NumPy's arange(start, stop, step) for floats, which W&B's grid uses for q_uniform: ceil((stop − start)/step)
 * values, the second start + step and the i-th start + i·((start + step) − start) (NumPy's DOUBLE_fill).
 */
export function numpyArange(start: number, stop: number, step: number): number[] {
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const second = start + step;
  const delta = second - start;
  return Array.from({ length: n }, (_, i) => (i === 0 ? start : i === 1 ? second : start + i * delta));
}

/** The values a grid sweep enumerates for one parameter (W&B's grid_search_next_runs). */
export function wandbGridValues(name: string, p: WandbParam): CategoricalChoice[] {
  convertWandbParam(name, p); // the same validation as the other methods
  const dist = inferDistribution(name, p);
  switch (dist) {
    case 'constant':
      return [p.value as CategoricalChoice];
    case 'categorical':
      return [...p.values!];
    case 'int_uniform': {
      const out: number[] = [];
      for (let v = p.min!; v <= p.max!; v++) out.push(v);
      return out;
    }
    case 'q_uniform': {
      const values = numpyArange(p.min!, p.max!, p.q ?? 1);
      if (values.length === 0) throw new DistributionError(`${name}: q_uniform [${p.min}, ${p.max}) with q ${p.q ?? 1} has no grid value`);
      return values;
    }
    default:
      throw new DistributionError(`${name}: grid search needs value, values, int_uniform or q_uniform (got ${dist})`);
  }
}

interface Leaf {
  /** The flat W&B name (nested keys joined by NESTING_DELIMITER). */
  name: string;
  /** Where the value goes in the dict the objective gets. */
  path: string[];
  param: WandbParam;
}

/** W&B's `_unnest`: a `{parameters}` entry is a dict of parameters, anything else a parameter; keys sorted. */
function flattenParameters(parameters: Record<string, WandbParam>, prefix: string[] = []): Leaf[] {
  const where = prefix.length ? `${prefix.join(NESTING_DELIMITER)}: ` : '';
  if (!parameters || typeof parameters !== 'object' || Array.isArray(parameters) || Object.keys(parameters).length === 0) {
    throw new StudyError(`${where}parameters (${JSON.stringify(parameters)}) must be a non-empty dict of parameters`);
  }
  const leaves: Leaf[] = [];
  for (const key of Object.keys(parameters).sort()) {
    const path = [...prefix, key];
    const name = path.join(NESTING_DELIMITER);
    const p = parameters[key];
    if (!NAME_PATTERN.test(key)) throw new DistributionError(`${name}: a W&B parameter name must match ${NAME_PATTERN.source}`);
    if (p === null || typeof p !== 'object' || Array.isArray(p)) throw new DistributionError(`${name}: a parameter must be a dict (got ${JSON.stringify(p)})`);
    if ('parameters' in p) {
      const extra = Object.keys(p).filter((k) => k !== 'parameters');
      if (extra.length > 0) throw new DistributionError(`${name}: a nested parameter holds only "parameters" (also got ${extra.join(', ')})`);
      leaves.push(...flattenParameters(p.parameters!, path));
    } else leaves.push({ name, path, param: p });
  }
  return leaves;
}

/** early_terminate → WandbHyperbandPruner (W&B's band rule, see pruners/wandb-hyperband.ts). */
export function wandbHyperbandPruner(et: WandbEarlyTerminate): WandbHyperbandPruner {
  if (!et || et.type !== 'hyperband') throw new StudyError(`early_terminate.type (${JSON.stringify(et?.type)}) must be "hyperband"`);
  return new WandbHyperbandPruner({ minIter: et.min_iter, maxIter: et.max_iter, s: et.s, eta: et.eta, strict: et.strict });
}

/** The value a W&B run's summary would hold: the objective, or the last reported value of a trial that did not complete. */
function summaryValue(trial: FrozenTrial): number | null {
  if (trial.state === 'COMPLETE' && trial.values && trial.values.length === 1) return trial.values[0];
  const steps = [...trial.intermediateValues.keys()].sort((a, b) => a - b);
  return steps.length ? trial.intermediateValues.get(steps[steps.length - 1])! : null;
}

/** metric.target as a study callback: a trial that reached it ends the search gracefully. */
export function stopAtTarget(target: number, direction: Direction): Callback {
  return (study: Study, trial: FrozenTrial) => {
    const v = summaryValue(trial);
    if (v === null || Number.isNaN(v)) return;
    if (direction === 'minimize' ? v <= target : v >= target) study.stop({ graceful: true });
  };
}

/**
 * Converts a sweep config. `direction`, when given, replaces metric.goal (Hugging Face's run_hp_search_wandb
 * does `sweep_config["metric"]["goal"] = direction`).
 */
export function wandbSweep(config: WandbSweepConfig, opts: { direction?: Direction } = {}): WandbSweep {
  if (!['grid', 'random', 'bayes'].includes(config.method)) throw new StudyError(`method (${JSON.stringify(config.method)}) must be grid, random or bayes`);
  if (!config.parameters || typeof config.parameters !== 'object') throw new StudyError('a sweep config needs parameters');
  const leaves = flattenParameters(config.parameters);
  const params: Record<string, ParamSpec> = {};
  for (const leaf of leaves) params[leaf.name] = convertWandbParam(leaf.name, leaf.param);
  const goal = opts.direction ?? config.metric?.goal ?? 'minimize';
  if (goal !== 'minimize' && goal !== 'maximize') throw new StudyError(`metric.goal (${JSON.stringify(goal)}) must be minimize or maximize`);
  const target = config.metric?.target;
  if (target !== undefined && (typeof target !== 'number' || !Number.isFinite(target))) throw new StudyError(`metric.target (${typeof target === 'number' ? target : JSON.stringify(target)}) must be a finite number`);
  const runCap = config.run_cap;
  if (runCap !== undefined && !(Number.isInteger(runCap) && runCap > 0)) throw new StudyError(`run_cap (${JSON.stringify(runCap)}) must be an integer > 0`);
  const grid = config.method === 'grid' ? Object.fromEntries(leaves.map((l) => [l.name, wandbGridValues(l.name, l.param)])) : null;
  const specs: Record<string, ParamSpec> = grid
    ? Object.fromEntries(Object.entries(grid).map(([n, vals]) => [n, vals.length === 1 ? { kind: 'constant', value: vals[0] } : { kind: 'distribution', distribution: new CategoricalDistribution(vals, n) }]))
    : params;
  return {
    direction: goal,
    metricName: config.metric?.name ?? null,
    target: target ?? null,
    runCap: runCap ?? null,
    params,
    hpSpace: (trial) => {
      const out: Record<string, SpaceValue> = {};
      for (const leaf of leaves) setNested(out, leaf.path, suggestParam(trial, leaf.name, specs[leaf.name]));
      return out;
    },
    sampler: (samplerOpts = {}) => {
      if (grid) return new GridSampler(grid, { seed: samplerOpts.seed });
      return config.method === 'random' ? new RandomSampler({ seed: samplerOpts.seed }) : new TPESampler({ seed: samplerOpts.seed });
    },
    pruner: config.early_terminate ? wandbHyperbandPruner(config.early_terminate) : new NopPruner(),
    trialCount: (requested, existing) => (runCap === undefined ? requested : Math.min(requested, Math.max(0, runCap - existing))),
    callbacks: target === undefined ? [] : [stopAtTarget(target, goal)],
  };
}
