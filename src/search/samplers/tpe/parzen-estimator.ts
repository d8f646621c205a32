/**
 * TPE's Parzen estimator as pure functions of observations: build the mixture (one kernel per observation
 * plus a prior kernel), sample from it, evaluate its log density. Follows the rules of Optuna's
 * `optuna/samplers/_tpe/parzen_estimator.py` and `probability_distributions.py` (Optuna ≥ 3.x), described in
 * Watanabe 2023, "Tree-structured Parzen estimator: understanding its algorithm components and their roles
 * for better empirical performance" (arXiv:2304.11127), after Bergstra et al. 2011, "Algorithms for
 * hyper-parameter optimization".
 *
 * Rules (numerical parameters, in the transformed space: log for log scale):
 * - μ_i = observations; the prior kernel has μ = (low+high)/2, σ = high − low + step.
 * - Univariate σ_i = max distance to the neighbours among the sorted {μ_i} ∪ {prior μ} bracketed by
 *   low − step/2 and high + step/2; without consider_endpoints the first and last σ are the distance to
 *   their only inner neighbour. Multivariate σ = 0.2 · n^(−1/(d+4)) · (high − low + step) for all kernels.
 * - Magic clip: σ is clipped to [(high − low + step) / min(100, 1 + n_kernels), high − low + step].
 * - A step s (int, or float with step) gives a discretised truncated normal on [low − s/2, high + s/2]
 *   whose mass at x is the normal mass of [x − s/2, x + s/2]; log-int is treated as continuous on
 *   [log(low − ½), log(high + ½)] and rounded.
 * - Kernel weights: weights(n) for observations then prior_weight for the prior, normalised to sum 1.
 * Categorical: kernel i puts prior_weight/n_kernels on every choice plus 1 on its observed choice,
 * normalised per kernel; the prior kernel is uniform.
 */
import type { Distribution } from '../../distributions.js';
import type { Rng } from '../../rng.js';
import { logGaussMass, truncnormLogPdf, truncnormSample } from './truncnorm.js';

export interface ParzenEstimatorParameters {
  considerPrior: boolean;
  priorWeight: number;
  considerMagicClip: boolean;
  considerEndpoints: boolean;
  weights: (n: number) => number[];
  multivariate: boolean;
}

export interface NumericalKernels {
  kind: 'numerical';
  mus: number[];
  sigmas: number[];
  /** Bounds in the transformed space (before any ±step/2 widening). */
  low: number;
  high: number;
  /** Grid step in the transformed space, or null for continuous (incl. log-int). */
  step: number | null;
}

export interface CategoricalKernels {
  kind: 'categorical';
  /** weights[kernel][choice], each row sums to 1. */
  weights: number[][];
}

export type Kernels = NumericalKernels | CategoricalKernels;

export interface ParzenEstimator {
  searchSpace: Record<string, Distribution>;
  /** Mixture weights, one per kernel (observations, then prior). */
  weights: number[];
  kernels: Record<string, Kernels>;
}

const EPS = 1e-12;

/** Optuna's default_weights: all ones below 25 observations, else a ramp from 1/n up to 1 for the oldest n − 25. */
export function defaultWeights(n: number): number[] {
  if (n === 0) return [];
  if (n < 25) return new Array<number>(n).fill(1);
  const rampLen = n - 25;
  const ramp = Array.from({ length: rampLen }, (_, i) => (rampLen === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (rampLen - 1)));
  return [...ramp, ...new Array<number>(25).fill(1)];
}

/** Optuna's default_gamma: the number of "good" trials is min(ceil(0.1·n), 25). */
export function defaultGamma(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

function transform(dist: Distribution, x: number): number {
  return dist.kind !== 'categorical' && dist.log ? Math.log(x) : x;
}

/** Bounds and step of a numerical distribution in the transformed space, with the log-int widening. */
function transformedRange(dist: Exclude<Distribution, { kind: 'categorical' }>): { low: number; high: number; step: number | null } {
  const step = dist.step;
  if (dist.log) {
    if (step !== null) return { low: Math.log(dist.low - step / 2), high: Math.log(dist.high + step / 2), step: null };
    return { low: Math.log(dist.low), high: Math.log(dist.high), step: null };
  }
  return { low: dist.low, high: dist.high, step };
}

function numericalKernels(obs: number[], low: number, high: number, step: number | null, p: ParzenEstimatorParameters, nParams: number): NumericalKernels {
  const s = step ?? 0;
  const n = obs.length;
  let sigmas: number[];
  if (p.multivariate) {
    const sigma = 0.2 * Math.max(n, 1) ** (-1 / (nParams + 4)) * (high - low + s);
    sigmas = new Array<number>(n).fill(sigma);
  } else {
    const withPrior = [...obs, 0.5 * (low + high)];
    const order = withPrior.map((_, i) => i).sort((i, j) => withPrior[i] - withPrior[j]);
    const sorted = [low - s / 2, ...order.map((i) => withPrior[i]), high + s / 2];
    const sortedSigmas = order.map((_, k) => Math.max(sorted[k + 1] - sorted[k], sorted[k + 2] - sorted[k + 1]));
    if (!p.considerEndpoints && sorted.length >= 4) {
      sortedSigmas[0] = sorted[2] - sorted[1];
      sortedSigmas[sortedSigmas.length - 1] = sorted[sorted.length - 2] - sorted[sorted.length - 3];
    }
    const byIndex = new Array<number>(withPrior.length);
    order.forEach((i, k) => (byIndex[i] = sortedSigmas[k]));
    sigmas = byIndex.slice(0, n);
  }
  const maxSigma = high - low + s;
  const minSigma = p.considerMagicClip ? (high - low + s) / Math.min(100, 1 + n + (p.considerPrior ? 1 : 0)) : EPS;
  sigmas = sigmas.map((v) => Math.min(Math.max(v, minSigma), maxSigma));
  const mus = [...obs];
  if (p.considerPrior) {
    mus.push(0.5 * (low + high));
    sigmas.push(high - low + s);
  }
  return { kind: 'numerical', mus, sigmas, low, high, step };
}

function categoricalKernels(obs: number[], nChoices: number, p: ParzenEstimatorParameters): CategoricalKernels {
  if (obs.length === 0) return { kind: 'categorical', weights: [new Array<number>(nChoices).fill(1 / nChoices)] };
  const nKernels = obs.length + (p.considerPrior ? 1 : 0);
  const rows = Array.from({ length: nKernels }, () => new Array<number>(nChoices).fill(p.priorWeight / nKernels));
  obs.forEach((c, i) => (rows[i][c] += 1));
  for (const r of rows) {
    const sum = r.reduce((a, b) => a + b, 0);
    for (let j = 0; j < r.length; j++) r[j] /= sum;
  }
  return { kind: 'categorical', weights: rows };
}

/**
 * Builds the estimator from observations in internal representation (all arrays of the same length,
 * one entry per trial that has every parameter of the search space).
 */
export function buildParzenEstimator(
  observations: Record<string, number[]>,
  searchSpace: Record<string, Distribution>,
  p: ParzenEstimatorParameters,
  predeterminedWeights?: number[],
): ParzenEstimator {
  const names = Object.keys(searchSpace);
  const n = names.length === 0 ? 0 : (observations[names[0]]?.length ?? 0);
  let weights: number[];
  if (n === 0) weights = [1];
  else {
    weights = predeterminedWeights ? [...predeterminedWeights] : p.weights(n).slice(0, n);
    if (weights.length !== n || weights.some((w) => !(w >= 0) || !Number.isFinite(w))) {
      throw new RangeError(`TPE weights(${n}) must give ${n} finite non-negative numbers, got ${JSON.stringify(weights)}`);
    }
    if (p.considerPrior) weights.push(p.priorWeight);
  }
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new RangeError(`TPE weights must have a positive sum, got ${total}`);
  weights = weights.map((w) => w / total);
  const kernels: Record<string, Kernels> = {};
  for (const name of names) {
    const dist = searchSpace[name];
    const obs = (observations[name] ?? []).map((x) => transform(dist, x));
    if (dist.kind === 'categorical') kernels[name] = categoricalKernels(obs, dist.choices.length, p);
    else {
      const r = transformedRange(dist);
      kernels[name] = numericalKernels(obs, r.low, r.high, r.step, p, names.length);
    }
  }
  return { searchSpace, weights, kernels };
}

/** Log density of one kernel at x (transformed space). */
function kernelLogPdf(k: Kernels, i: number, x: number): number {
  if (k.kind === 'categorical') return Math.log(k.weights[k.weights.length === 1 ? 0 : i][x]);
  const mu = k.mus[i];
  const sigma = k.sigmas[i];
  if (k.step === null) return truncnormLogPdf(x, (k.low - mu) / sigma, (k.high - mu) / sigma, mu, sigma);
  const lower = k.low - k.step / 2;
  const upper = k.high + k.step / 2;
  const xl = Math.max(x - k.step / 2, lower);
  const xu = Math.min(x + k.step / 2, upper);
  return logGaussMass((xl - mu) / sigma, (xu - mu) / sigma) - logGaussMass((lower - mu) / sigma, (upper - mu) / sigma);
}

/** Log density of the mixture at each sample (internal representation, one array per parameter). */
export function parzenLogPdf(pe: ParzenEstimator, samples: Record<string, number[]>): number[] {
  const names = Object.keys(pe.searchSpace);
  const m = names.length === 0 ? 0 : samples[names[0]].length;
  const out = new Array<number>(m);
  for (let s = 0; s < m; s++) {
    const terms = pe.weights.map((w, i) => {
      let lp = Math.log(w);
      for (const name of names) lp += kernelLogPdf(pe.kernels[name], i, transform(pe.searchSpace[name], samples[name][s]));
      return lp;
    });
    let max = Math.max(...terms);
    if (max === -Infinity) max = 0;
    out[s] = Math.log(terms.reduce((acc, t) => acc + Math.exp(t - max), 0)) + max;
  }
  return out;
}

/** Draws `size` points: pick a kernel by weight, then draw every parameter from that kernel. Internal representation. */
export function sampleParzen(pe: ParzenEstimator, rng: Rng, size: number): Record<string, number[]> {
  const active = Array.from({ length: size }, () => rng.choiceIndex(pe.weights));
  const out: Record<string, number[]> = {};
  for (const [name, dist] of Object.entries(pe.searchSpace)) {
    const k = pe.kernels[name];
    out[name] = active.map((i) => {
      if (k.kind === 'categorical') return rng.choiceIndex(k.weights[k.weights.length === 1 ? 0 : i]);
      const mu = k.mus[i];
      const sigma = k.sigmas[i];
      const half = k.step === null ? 0 : k.step / 2;
      let x = truncnormSample(rng, (k.low - half - mu) / sigma, (k.high + half - mu) / sigma, mu, sigma);
      if (k.step !== null) x = Math.min(Math.max(k.low + Math.round((x - k.low) / k.step) * k.step, k.low), k.high);
      if (dist.kind === 'categorical') return x;
      if (dist.log) x = Math.exp(x);
      if (dist.kind === 'int') x = Math.min(Math.max(dist.low + Math.round((x - dist.low) / dist.step) * dist.step, dist.low), dist.high);
      return x;
    });
  }
  return out;
}
