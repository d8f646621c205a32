/**
 * Error function, complementary error function, log of the standard normal CDF and its inverse, to
 * near double precision, for the truncated normal kernels of TPE.
 * Provenance (written from the formulas, not ported):
 * - erf(x) = 2/√π · e^{−x²} · Σ 2ⁿ x^{2n+1} / (1·3·…·(2n+1)) — Abramowitz & Stegun 7.1.6 (all terms
 *   positive, so no cancellation), used for |x| < 2.
 * - erfc(x) = e^{−x²}/√π · 1/(x+ ½/(x+ 1/(x+ 3/2/(x+ …)))) — A&S 7.1.14, evaluated with the modified
 *   Lentz algorithm (Numerical Recipes 3rd ed. §5.2), for x ≥ 2; this also gives log erfc without underflow.
 * - The inverse of log Φ starts from P. J. Acklam's rational approximation of Φ⁻¹ (2003, rel. err. 1.15e-9)
 *   and is refined by Newton steps on log Φ, as the role of SciPy's `ndtri_exp` used by Optuna's
 *   `optuna/samplers/_tpe/_truncnorm.py`.
 */

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);
export const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** erf(x) for |x| < 2 by the positive series A&S 7.1.6. */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (Math.abs(term) < 1e-17 * Math.abs(sum)) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

/** log(√π · e^{x²} · erfc(x)) for x ≥ 2: the continued fraction of A&S 7.1.14 (modified Lentz). */
function logErfcScaledCF(x: number): number {
  // erfc(x) = e^{-x²}/√π · 1/(x + a1/(x + a2/(x + ...))) with a_k = k/2.
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 5000; k++) {
    const a = k / 2;
    d = x + a * d;
    if (d === 0) d = tiny;
    c = x + a / c;
    if (c === 0) c = tiny;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return -Math.log(f);
}

export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (Math.abs(x) < 2) return erfSeries(x);
  const r = 1 - erfc(Math.abs(x));
  return x < 0 ? -r : r;
}

export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 2) return x < -2 ? 2 - erfc(-x) : 1 - erfSeries(x);
  return Math.exp(-x * x - LOG_SQRT_PI + logErfcScaledCF(x));
}

/** log erfc(x), finite for large x where erfc underflows. */
export function logErfc(x: number): number {
  if (x < 2) return Math.log(erfc(x));
  return -x * x - LOG_SQRT_PI + logErfcScaledCF(x);
}

/** Standard normal CDF Φ(z). */
export function ndtr(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** log Φ(z), accurate in both tails. */
export function logNdtr(z: number): number {
  if (z === Infinity) return 0;
  if (z === -Infinity) return -Infinity;
  if (z < -1) return logErfc(-z / Math.SQRT2) - Math.LN2;
  return Math.log1p(-0.5 * erfc(z / Math.SQRT2));
}

/** log φ(z) of the standard normal density. */
export function logNormPdf(z: number): number {
  return -0.5 * z * z - LOG_SQRT_2PI;
}

const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];

/** Acklam's approximation of Φ⁻¹(p) for p ≤ 0.5 given log p (a starting point for Newton). */
function acklamLower(logP: number): number {
  const p = Math.exp(logP);
  if (p > 0.02425) {
    const q = p - 0.5;
    const r = q * q;
    return ((((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q) / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1);
  }
  const q = Math.sqrt(-2 * logP);
  return (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
}

/** x with log Φ(x) = y (y ≤ 0): the inverse of logNdtr, like SciPy's `ndtri_exp`. */
export function ndtriExp(y: number): number {
  if (Number.isNaN(y) || y > 0) return NaN;
  if (y === 0) return Infinity;
  if (y === -Infinity) return -Infinity;
  if (y > -Math.LN2) {
    // Upper half: solve in the other tail for accuracy, Φ(x) = p ⇔ Φ(−x) = 1 − p.
    return -ndtriExp(Math.log(-Math.expm1(y)));
  }
  let x = acklamLower(y);
  for (let i = 0; i < 100; i++) {
    const f = logNdtr(x) - y;
    const slope = Math.exp(logNormPdf(x) - logNdtr(x));
    const dx = f / slope;
    x -= dx;
    if (Math.abs(dx) <= 1e-15 * Math.max(1, Math.abs(x))) break;
  }
  return x;
}
