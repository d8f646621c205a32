/**
 * The W&B sweep dialect: `{method, metric: {name, goal}, parameters, early_terminate}` as documented in
 * "Sweep configuration options" (docs.wandb.ai) and implemented in github.com/wandb/sweeps (`params.py`).
 * Distributions (q defaults to 1):
 *   constant (value) · categorical (values, probabilities?) · int_uniform [min, max] · uniform [min, max] ·
 *   q_uniform round(U/q)·q · log_uniform_values: log-uniform on [min, max] · q_log_uniform_values ·
 *   inv_log_uniform_values: X = 1/Y with Y log-uniform on [1/max, 1/min] (so X is log-uniform on [min, max],
 *   with the quantile reversed) · normal (mu 0, sigma 1) · q_normal · log_normal exp(N(mu, sigma)) ·
 *   q_log_normal · beta (a, b) · q_beta · log_uniform: exp(U(min, max)), min/max are natural-log exponents ·
 *   q_log_uniform · inv_log_uniform: exp(−U(min, max)).
 * Without `distribution`, W&B infers: value → constant, values → categorical, integer min/max →
 * int_uniform, else uniform.
 * Mapping: uniform shapes become Optuna distributions (quantised ones are rounded after sampling); shapes
 * Optuna cannot express (normal, log_normal, beta, weighted categorical) are sampled as a quantile
 * u ∈ [0, 1] through their inverse CDF (see param-spec.ts), so every method can sample them.
 * Methods: grid → GridSampler (only value/values/int_uniform allowed, else an error naming the parameter);
 * random → RandomSampler; bayes → TPESampler. W&B's bayes is a Gaussian process; TPE is used because it
 * handles the conditional, categorical and integer mix of training hyperparameters natively and scales
 * linearly with the number of trials (Bergstra 2011, Watanabe 2023).
 * early_terminate {type: hyperband}: W&B stops a run at each "band" (min_iter·eta^k, or max_iter/eta^s …
 * max_iter/eta when max_iter and s are given) if its metric is not in the top 1/eta of the runs that
 * reached that band — the asynchronous successive-halving rule, so it maps to SuccessiveHalvingPruner with
 * minResource = the first band and reductionFactor = eta (default 3). `strict` is accepted and ignored.
 */
import { CategoricalDistribution, FloatDistribution, IntDistribution, type CategoricalChoice, type ParamValue } from '../distributions.js';
import { DistributionError, StudyError } from '../errors.js';
import type { Direction } from '../frozen-trial.js';
import type { Pruner } from '../pruners/pruner.js';
import { NopPruner } from '../pruners/nop.js';
import { SuccessiveHalvingPruner } from '../pruners/successive-halving.js';
import { GridSampler } from '../samplers/grid.js';
import { RandomSampler } from '../samplers/random.js';
import type { Sampler } from '../samplers/sampler.js';
import { TPESampler } from '../samplers/tpe/sampler.js';
import type { Trial } from '../trial.js';
import { suggestAll, type ParamSpec } from './param-spec.js';
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
}

export interface WandbSweepConfig {
  method: 'grid' | 'random' | 'bayes';
  metric?: { name: string; goal?: 'minimize' | 'maximize' };
  parameters: Record<string, WandbParam>;
  early_terminate?: { type: 'hyperband'; min_iter?: number; max_iter?: number; s?: number; eta?: number; strict?: boolean };
}

export interface WandbSweep {
  direction: Direction;
  metricName: string | null;
  params: Record<string, ParamSpec>;
  hpSpace: (trial: Trial) => Record<string, ParamValue>;
  sampler: (opts?: { seed?: number }) => Sampler;
  pruner: Pruner;
}

function need(name: string, p: WandbParam, key: keyof WandbParam): number {
  const v = p[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new DistributionError(`${name}: ${p.distribution} needs a finite number ${key} (got ${JSON.stringify(v)})`);
  return v;
}

function inferDistribution(name: string, p: WandbParam): string {
  if (p.distribution) return p.distribution;
  if ('value' in p) return 'constant';
  if (p.values) return 'categorical';
  if (p.min !== undefined && p.max !== undefined) return Number.isInteger(p.min) && Number.isInteger(p.max) ? 'int_uniform' : 'uniform';
  throw new DistributionError(`${name}: cannot infer a distribution from ${JSON.stringify(p)}`);
}

export function convertWandbParam(name: string, p: WandbParam): ParamSpec {
  const dist = inferDistribution(name, p);
  const q = p.q ?? 1;
  if (!(q > 0)) throw new DistributionError(`${name}: q (${q}) must be > 0`);
  const qz = (v: number): number => quantize(v, q);
  const withDist = { ...p, distribution: dist };
  switch (dist) {
    case 'constant':
      if (!('value' in p)) throw new DistributionError(`${name}: constant needs value`);
      return { kind: 'constant', value: p.value as ParamValue };
    case 'categorical': {
      if (!p.values || p.values.length === 0) throw new DistributionError(`${name}: categorical needs a non-empty values list (got ${JSON.stringify(p.values)})`);
      if (!p.probabilities) return { kind: 'distribution', distribution: new CategoricalDistribution(p.values, name) };
      const probs = p.probabilities;
      const sum = probs.reduce((a, b) => a + b, 0);
      if (probs.length !== p.values.length || probs.some((x) => !(x >= 0)) || Math.abs(sum - 1) > 1e-6) {
        throw new DistributionError(`${name}: probabilities (${JSON.stringify(probs)}) must be ${p.values.length} non-negative numbers summing to 1`);
      }
      const values = p.values;
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
      const a = need(name, withDist, 'a');
      const b = need(name, withDist, 'b');
      if (!(a > 0 && b > 0)) throw new DistributionError(`${name}: beta needs a (${a}) > 0 and b (${b}) > 0`);
      return { kind: 'quantile', inverseCdf: (u) => (dist === 'q_beta' ? qz(betaPpf(u, a, b)) : betaPpf(u, a, b)) };
    }
    default:
      throw new DistributionError(`${name}: unknown W&B distribution (${JSON.stringify(dist)})`);
  }
}

function gridValues(name: string, p: WandbParam): CategoricalChoice[] {
  const dist = inferDistribution(name, p);
  if (dist === 'constant') return [p.value as CategoricalChoice];
  if (dist === 'categorical' && !p.probabilities) return [...p.values!];
  if (dist === 'int_uniform') {
    const out: number[] = [];
    for (let v = need(name, { ...p, distribution: dist }, 'min'); v <= p.max!; v++) out.push(v);
    return out;
  }
  throw new DistributionError(`${name}: grid search needs value, values or int_uniform (got ${dist})`);
}

/** Bands → SuccessiveHalvingPruner (see the header). */
export function wandbHyperbandPruner(et: NonNullable<WandbSweepConfig['early_terminate']>): SuccessiveHalvingPruner {
  if (et.type !== 'hyperband') throw new StudyError(`early_terminate.type (${JSON.stringify(et.type)}) must be "hyperband"`);
  const eta = et.eta ?? 3;
  let minIter: number;
  if (et.min_iter !== undefined) minIter = et.min_iter;
  else if (et.max_iter !== undefined && et.s !== undefined) minIter = et.max_iter / eta ** et.s;
  else throw new StudyError('early_terminate hyperband needs min_iter, or max_iter and s');
  const rounded = Math.round(minIter);
  if (!(rounded >= 1) || Math.abs(rounded - minIter) > 1e-9) throw new StudyError(`early_terminate: the first band (${minIter}) must be a whole number of iterations >= 1`);
  return new SuccessiveHalvingPruner({ minResource: rounded, reductionFactor: eta, minEarlyStoppingRate: 0 });
}

export function wandbSweep(config: WandbSweepConfig): WandbSweep {
  if (!['grid', 'random', 'bayes'].includes(config.method)) throw new StudyError(`method (${JSON.stringify(config.method)}) must be grid, random or bayes`);
  if (!config.parameters || typeof config.parameters !== 'object') throw new StudyError('a sweep config needs parameters');
  const params: Record<string, ParamSpec> = {};
  for (const [name, p] of Object.entries(config.parameters)) params[name] = convertWandbParam(name, p);
  const goal = config.metric?.goal ?? 'minimize';
  if (goal !== 'minimize' && goal !== 'maximize') throw new StudyError(`metric.goal (${JSON.stringify(goal)}) must be minimize or maximize`);
  const grid = config.method === 'grid' ? Object.fromEntries(Object.entries(config.parameters).map(([n, p]) => [n, gridValues(n, p)])) : null;
  const gridSpecs: Record<string, ParamSpec> | null = grid
    ? Object.fromEntries(Object.entries(grid).map(([n, vals]) => [n, vals.length === 1 ? { kind: 'constant', value: vals[0] } : { kind: 'distribution', distribution: new CategoricalDistribution(vals, n) }]))
    : null;
  return {
    direction: goal,
    metricName: config.metric?.name ?? null,
    params,
    hpSpace: (trial) => suggestAll(trial, gridSpecs ?? params),
    sampler: (opts = {}) => {
      if (grid) return new GridSampler(grid, { seed: opts.seed });
      return config.method === 'random' ? new RandomSampler({ seed: opts.seed }) : new TPESampler({ seed: opts.seed });
    },
    pruner: config.early_terminate ? wandbHyperbandPruner(config.early_terminate) : new NopPruner(),
  };
}
