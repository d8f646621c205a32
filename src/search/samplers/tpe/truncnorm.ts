/**
 * The truncated standard normal on [a, b] (in units of σ around μ), as used by TPE's kernels.
 * Mirrors the algorithm of Optuna 4.9.0's `optuna/samplers/_tpe/_truncnorm.py` (itself after SciPy's
 * `scipy/stats/_continuous_distns.py` truncnorm): the normal mass of [a, b] is computed in log space
 * from the tail that keeps precision, sampling inverts the CDF (one uniform per draw), and the log density
 * includes − log σ (Optuna before 3.5.0, e.g. Debian's 3.1.0, left it out).
 */
import { logNdtr, logNormPdf, ndtr, ndtriExp } from './erf.js';
import type { Rng } from '../../rng.js';

/** log(e^a − e^b) for a ≥ b. */
function logDiff(a: number, b: number): number {
  if (b === -Infinity) return a;
  return a + Math.log(-Math.expm1(b - a));
}

/** log(e^a + e^b). */
function logSum(a: number, b: number): number {
  const m = Math.max(a, b);
  if (m === -Infinity) return -Infinity;
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

/** log(Φ(b) − Φ(a)) for a ≤ b, stable in both tails. */
export function logGaussMass(a: number, b: number): number {
  if (b <= 0) return logDiff(logNdtr(b), logNdtr(a));
  if (a > 0) return logGaussMass(-b, -a);
  // a ≤ 0 < b: the mass is 1 minus both tails.
  return Math.log1p(-ndtr(a) - ndtr(-b));
}

/** log density at x of N(loc, scale²) truncated to [loc + a·scale, loc + b·scale]. */
export function truncnormLogPdf(x: number, a: number, b: number, loc: number, scale: number): number {
  const z = (x - loc) / scale;
  if (z < a || z > b) return -Infinity;
  return logNormPdf(z) - logGaussMass(a, b) - Math.log(scale);
}

/** Quantile q ∈ [0, 1] of the standard normal truncated to [a, b]. */
export function truncnormPpf(q: number, a: number, b: number): number {
  if (a === b) return NaN;
  if (q === 0) return a;
  if (q === 1) return b;
  if (a < 0) {
    const logPhiX = logSum(logNdtr(a), Math.log(q) + logGaussMass(a, b));
    return ndtriExp(logPhiX);
  }
  const logPhiX = logSum(logNdtr(-b), Math.log1p(-q) + logGaussMass(a, b));
  return -ndtriExp(logPhiX);
}

/** One draw from N(loc, scale²) truncated to [loc + a·scale, loc + b·scale], by inverse CDF. */
export function truncnormSample(rng: Rng, a: number, b: number, loc: number, scale: number): number {
  const z = truncnormPpf(rng.random(), a, b);
  // Clip guards against the last ulp of rounding outside the support.
  return Math.min(Math.max(z * scale + loc, loc + a * scale), loc + b * scale);
}
