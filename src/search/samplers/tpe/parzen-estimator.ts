/**
 * TPE's Parzen estimator as pure functions of observations: build the mixture (one kernel per observation
 * plus a prior kernel), sample from it, evaluate its log density.
 *
 * Follows Optuna 4.9.0 (`optuna/samplers/_tpe/parzen_estimator.py` and `probability_distributions.py`, tag
 * v4.9.0), rule for rule and draw for draw: with the same observations and a `RandomState` in the same state,
 * `sampleParzen` returns Optuna's samples and `parzenLogPdf` its log densities (to rounding; checked against
 * Optuna 4.9.0 run from its source, test/search/fixtures/optuna-tpe.json). Background: Watanabe 2023,
 * "Tree-structured Parzen estimator: understanding its algorithm components and their roles for better
 * empirical performance" (arXiv:2304.11127), after Bergstra et al. 2011.
 *
 * Numerical parameters (Float, Int; log and/or step). Let [L, H] be the bounds widened by step/2 when there is
 * a step (every Int, log-scaled ones included), then log-transformed when log-scaled:
 * - μ_i = the (log-)observations; the prior kernel has μ = (L + H)/2 and σ = H − L.
 * - Univariate σ_i (neighbour rule; the prior's μ is no longer in the list since Optuna 4.9.0): sort the observations alone,
 *   bracket them with L and H, σ_i = the larger of the distances to its two neighbours; unless
 *   consider_endpoints, the first and last observation (when there are ≥ 2) take the distance to their only
 *   inner neighbour. Multivariate σ = 0.2 · max(n, 1)^(−1/(d+4)) · (H − L) for every observation kernel
 *   (BOHB's Scott-style rule, d = number of parameters in the joint space).
 * - Magic clip: σ_i clipped to [(H − L) / min(100, 1 + n_kernels), H − L], n_kernels = n + 1 (EPS floor when
 *   off); the prior keeps σ = H − L.
 * - Kernels: continuous → normal truncated to [L, H] (in log space for log floats, density of log x);
 *   with a step s → the discrete kernel: mass of x is the normal mass of [x − s/2, x + s/2] (of
 *   [log(x − s/2), log(x + s/2)] for log-int) over the mass of [L, H]; samples are drawn from the truncated
 *   normal, exponentiated when log, then snapped to low + round((x − low)/s)·s and clipped to [low, high].
 * - Mixture weights: weights(n) for the observations then prior_weight, normalised; [1] with no observation.
 * Categorical: kernel i puts prior_weight/(n + 1) on every choice plus 1 on its observed choice, normalised per
 * row; no observation → one uniform row. (Optuna's deprecated `categorical_distance_func` is not supported.)
 * Sampling order (matters for the random stream): n_samples kernel indices (`rng.choice(p=weights)`), then per
 * categorical parameter n_samples uniforms, then per numerical parameter n_samples uniforms through the
 * truncated-normal quantile — categoricals first, each group in search-space order.
 *
 * Differences from Optuna 3.1.0 (Debian's python3-optuna, the bench peer), each an upstream change since:
 * - 3.1's continuous kernel density lacks the 1/σ factor (`_truncnorm.logpdf` omitted − log σ; fixed in 3.5.0),
 *   which favoured wide kernels in l(x)/g(x);
 * - 3.1 treated log-int as continuous on [log(low − ½), log(high + ½)], rounded after exp (discrete log kernel
 *   since 4.7.0);
 * - 3.1 (up to 4.8) put the prior's μ into the sorted list of the univariate σ rule (removed in 4.9.0);
 * - 3.1's sampling interleaves categorical and numerical draws in parameter order.
 * Multivariate bandwidths, the magic clip, categorical kernels and weights are the same in 3.1.
 */
import type { Distribution } from '../../distributions.js';
import type { Rng } from '../../rng.js';
import { argsort, pairwiseSum, roundHalfEven } from './numpy-compat.js';
import { logGaussMass, truncnormPpf } from './truncnorm.js';
import { logNormPdf } from './erf.js';

export interface ParzenEstimatorParameters {
  priorWeight: number;
  considerMagicClip: boolean;
  considerEndpoints: boolean;
  weights: (n: number) => number[];
  multivariate: boolean;
}

export interface NumericalKernels {
  kind: 'numerical';
  /** One per observation, then the prior; in the transformed (log for log scale) space. */
  mus: number[];
  sigmas: number[];
  /** The distribution's own bounds and step (untransformed); step null = continuous. */
  low: number;
  high: number;
  step: number | null;
  log: boolean;
  /** Per kernel: the log normal mass of [L, H] in units of its σ (the truncation's normaliser). */
  logMass: number[];
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

/** Optuna's default_weights: all ones below 25 observations, else linspace(1/n, 1, n − 25) then 25 ones. */
export function defaultWeights(n: number): number[] {
  if (n === 0) return [];
  if (n < 25) return new Array<number>(n).fill(1);
  return [...linspace(1 / n, 1, n - 25), ...new Array<number>(25).fill(1)];
}

/** `np.linspace(start, stop, num)` (endpoint included, last value exactly `stop`). */
function linspace(start: number, stop: number, num: number): number[] {
  if (num <= 0) return [];
  if (num === 1) return [start];
  const div = num - 1;
  const step = (stop - start) / div;
  const out = Array.from({ length: num }, (_, i) => start + i * step);
  out[num - 1] = stop;
  return out;
}

/** Optuna's default_gamma: the number of "good" trials is min(ceil(0.1·n), 25). */
export function defaultGamma(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

/** [L, H] of a numerical distribution: widened by step/2 when stepped, then logged when log-scaled. */
function kernelRange(dist: Exclude<Distribution, { kind: 'categorical' }>): { lo: number; hi: number } {
  let lo = dist.low;
  let hi = dist.high;
  if (dist.step !== null) {
    lo -= dist.step / 2;
    hi += dist.step / 2;
  }
  return dist.log ? { lo: Math.log(lo), hi: Math.log(hi) } : { lo, hi };
}

function numericalKernels(observations: number[], dist: Exclude<Distribution, { kind: 'categorical' }>, p: ParzenEstimatorParameters, nParams: number): NumericalKernels {
  const { lo, hi } = kernelRange(dist);
  const mus = dist.log ? observations.map(Math.log) : [...observations];
  const n = mus.length;
  let sigmas: number[];
  if (p.multivariate) {
    const sigma = 0.2 * Math.max(n, 1) ** (-1 / (nParams + 4)) * (hi - lo);
    sigmas = new Array<number>(n).fill(sigma);
  } else {
    const order = argsort(mus);
    const s = [lo, ...order.map((i) => mus[i]), hi];
    const sorted = order.map((_, k) => Math.max(s[k + 1] - s[k], s[k + 2] - s[k + 1]));
    if (!p.considerEndpoints && s.length >= 4) {
      sorted[0] = s[2] - s[1];
      sorted[sorted.length - 1] = s[s.length - 2] - s[s.length - 3];
    }
    sigmas = new Array<number>(n);
    order.forEach((i, k) => (sigmas[i] = sorted[k]));
  }
  const maxSigma = hi - lo;
  const minSigma = p.considerMagicClip ? (hi - lo) / Math.min(100, 1 + (n + 1)) : EPS;
  // np.clip(sigmas, min, max) = minimum(maximum(σ, min), max).
  sigmas = sigmas.map((v) => Math.min(Math.max(v, minSigma), maxSigma));
  mus.push(0.5 * (lo + hi));
  sigmas.push(hi - lo);
  const step = dist.step;
  const f = dist.log ? Math.log : (x: number): number => x;
  const logMass = mus.map((mu, i) => {
    const sigma = sigmas[i];
    if (step === null) return logGaussMass((lo - mu) / sigma, (hi - mu) / sigma);
    return logGaussMass((f(dist.low - step / 2) - mu) / sigma, (f(dist.high + step / 2) - mu) / sigma);
  });
  return { kind: 'numerical', mus, sigmas, low: dist.low, high: dist.high, step, log: dist.log, logMass };
}

function categoricalKernels(observations: number[], nChoices: number, p: ParzenEstimatorParameters): CategoricalKernels {
  if (observations.length === 0) return { kind: 'categorical', weights: [new Array<number>(nChoices).fill(1 / nChoices)] };
  const nKernels = observations.length + 1;
  const rows = Array.from({ length: nKernels }, () => new Array<number>(nChoices).fill(p.priorWeight / nKernels));
  observations.forEach((c, i) => (rows[i][Math.trunc(c)] += 1));
  for (const r of rows) {
    const sum = pairwiseSum(r);
    const d = sum === 0 ? 1 : sum;
    for (let j = 0; j < r.length; j++) r[j] /= d;
  }
  return { kind: 'categorical', weights: rows };
}

/** Optuna's `_call_weights_func`: weights(n)[:n], non-negative, finite, with a positive sum. */
function callWeights(weights: (n: number) => number[], n: number): number[] {
  const w = Array.from(weights(n)).slice(0, n);
  if (w.some((v) => v < 0)) throw new RangeError(`TPE weights(${n}) must not be negative, got ${JSON.stringify(w)}`);
  if (w.length > 0 && !(w.reduce((a, b) => a + b, 0) > 0)) throw new RangeError(`TPE weights(${n}) must not be all zero, got ${JSON.stringify(w)}`);
  if (!w.every((v) => Number.isFinite(v))) throw new RangeError(`TPE weights(${n}) must be finite, got ${JSON.stringify(w)}`);
  return w;
}

/**
 * Builds the estimator from observations in internal representation (all arrays of the same length, one
 * entry per trial that has every parameter of the search space).
 */
export function buildParzenEstimator(
  observations: Record<string, number[]>,
  searchSpace: Record<string, Distribution>,
  p: ParzenEstimatorParameters,
  predeterminedWeights?: number[],
): ParzenEstimator {
  if (p.priorWeight < 0) throw new RangeError(`A non-negative value must be specified for prior_weight, but got ${p.priorWeight}.`);
  const names = Object.keys(searchSpace);
  const n = names.length === 0 ? 0 : (observations[names[0]]?.length ?? 0);
  let weights: number[];
  if (n === 0) weights = [1];
  else {
    weights = predeterminedWeights ? [...predeterminedWeights] : callWeights(p.weights, n);
    if (weights.length !== n) throw new RangeError(`TPE weights(${n}) must give ${n} numbers, got ${weights.length}`);
    weights.push(p.priorWeight);
  }
  const total = pairwiseSum(weights);
  weights = weights.map((w) => w / total);
  const kernels: Record<string, Kernels> = {};
  for (const name of names) {
    const dist = searchSpace[name];
    const obs = observations[name] ?? [];
    kernels[name] = dist.kind === 'categorical' ? categoricalKernels(obs, dist.choices.length, p) : numericalKernels(obs, dist, p, names.length);
  }
  return { searchSpace, weights, kernels };
}

/**
 * Log density of the mixture at each sample (internal representation, one array per parameter), accumulated in
 * the order of Optuna 4.9's `_MixtureOfProductDistribution.log_pdf` so that equal scores stay equal to the bit
 * where Optuna's do (ties between categorical choices are then broken the same way): per kernel, categorical
 * and discrete terms added in parameter order (a discrete term as + log mass(x) − log mass([L, H])), then the
 * pairwise sum of the continuous terms ((log φ(z) − log mass) − log σ), then + log weight; log-sum-exp over
 * kernels with NumPy's pairwise sum.
 */
export function parzenLogPdf(pe: ParzenEstimator, samples: Record<string, number[]>): number[] {
  const names = Object.keys(pe.searchSpace);
  const m = names.length === 0 ? 0 : samples[names[0]].length;
  const nk = pe.weights.length;
  const logW = pe.weights.map(Math.log);
  const ordered = names.map((name) => ({ k: pe.kernels[name], xs: samples[name] }));
  const continuous = ordered.filter(({ k }) => k.kind === 'numerical' && k.step === null);
  const cont = new Float64Array(continuous.length);
  const out = new Array<number>(m);
  const terms = new Float64Array(nk);
  for (let s = 0; s < m; s++) {
    let max = -Infinity;
    for (let i = 0; i < nk; i++) {
      let lp = 0;
      for (const { k, xs } of ordered) {
        const x = xs[s];
        if (k.kind === 'categorical') lp += Math.log(k.weights[k.weights.length === 1 ? 0 : i][x]);
        else if (k.step !== null) {
          const half = k.step / 2;
          const mu = k.mus[i];
          const sigma = k.sigmas[i];
          const xl = k.log ? Math.log(x - half) : x - half;
          const xu = k.log ? Math.log(x + half) : x + half;
          lp += logGaussMass((xl - mu) / sigma, (xu - mu) / sigma);
          lp -= k.logMass[i];
        }
      }
      if (continuous.length > 0) {
        continuous.forEach(({ k, xs }, j) => {
          const kk = k as NumericalKernels;
          const mu = kk.mus[i];
          const sigma = kk.sigmas[i];
          const z = ((kk.log ? Math.log(xs[s]) : xs[s]) - mu) / sigma;
          const lo = kk.log ? Math.log(kk.low) : kk.low;
          const hi = kk.log ? Math.log(kk.high) : kk.high;
          cont[j] = z < (lo - mu) / sigma || z > (hi - mu) / sigma ? -Infinity : logNormPdf(z) - kk.logMass[i] - Math.log(sigma);
        });
        lp += pairwiseSum(cont);
      }
      lp += logW[i];
      terms[i] = lp;
      if (lp > max) max = lp;
    }
    if (max === -Infinity || Number.isNaN(max)) max = 0;
    for (let i = 0; i < nk; i++) terms[i] = Math.exp(terms[i] - max);
    out[s] = Math.log(pairwiseSum(terms)) + max;
  }
  return out;
}

/** Draws `size` points as Optuna 4.9's `_MixtureOfProductDistribution.sample`. Internal representation. */
export function sampleParzen(pe: ParzenEstimator, rng: Rng, size: number): Record<string, number[]> {
  const active = Array.from({ length: size }, () => rng.choiceIndex(pe.weights));
  const out: Record<string, number[]> = {};
  const entries = Object.entries(pe.searchSpace);
  // Categoricals first: one uniform per sample, the choice is the number of cumulative weights below it.
  for (const [name] of entries) {
    const k = pe.kernels[name];
    if (k.kind !== 'categorical') continue;
    const u = Array.from({ length: size }, () => rng.random());
    out[name] = active.map((a, s) => {
      const row = k.weights[k.weights.length === 1 ? 0 : a];
      let cum = 0;
      let c = 0;
      for (let j = 0; j < row.length; j++) {
        cum = j === row.length - 1 ? 1 : cum + row[j];
        if (cum < u[s]) c++;
      }
      return c;
    });
  }
  for (const [name] of entries) {
    const k = pe.kernels[name];
    if (k.kind === 'categorical') continue;
    const half = k.step === null ? 0 : k.step / 2;
    const f = k.log ? Math.log : (x: number): number => x;
    const lo = f(k.low - half);
    const hi = f(k.high + half);
    const u = Array.from({ length: size }, () => rng.random());
    out[name] = active.map((a, s) => {
      const mu = k.mus[a];
      const sigma = k.sigmas[a];
      // The clip guards against a last-ulp excursion outside the support (Optuna has none; it never binds in practice).
      let x = Math.min(Math.max(truncnormPpf(u[s], (lo - mu) / sigma, (hi - mu) / sigma) * sigma + mu, lo), hi);
      if (k.log) x = Math.exp(x);
      if (k.step !== null) x = Math.min(Math.max(k.low + roundHalfEven((x - k.low) / k.step) * k.step, k.low), k.high);
      return x;
    });
  }
  // Keep the search-space key order in the result.
  return Object.fromEntries(entries.map(([name]) => [name, out[name]]));
}
