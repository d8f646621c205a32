/**
 * Inverse CDFs for the non-uniform distributions of W&B sweeps and Ray Tune (normal, beta), so that they
 * can be sampled as a quantile u ∈ (0, 1) that any sampler (TPE included) models as a uniform dimension.
 * Beta: the regularised incomplete beta I_x(a, b) by its continued fraction (Numerical Recipes 3rd ed.
 * §6.4, modified Lentz), ln Γ by the Lanczos approximation (g = 7, n = 9 coefficients), inverted by bisection.
 */
import { ndtriExp } from '../samplers/tpe/erf.js';

/** Quantiles are kept inside (0, 1) so the inverse CDF of an unbounded distribution stays finite. */
export const U_EPS = 1e-12;
const clampU = (u: number): number => Math.min(Math.max(u, U_EPS), 1 - U_EPS);

export function normalPpf(u: number, mu: number, sigma: number): number {
  return mu + sigma * ndtriExp(Math.log(clampU(u)));
}

const LANCZOS = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];

export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  x -= 1;
  let a = LANCZOS[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

function betaCF(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m < 10000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** Regularised incomplete beta I_x(a, b), the Beta(a, b) CDF. */
export function betaCdf(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lnFront) * betaCF(a, b, x)) / a;
  return 1 - (Math.exp(lnFront) * betaCF(b, a, 1 - x)) / b;
}

export function betaPpf(u: number, a: number, b: number): number {
  const target = clampU(u);
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 100; i++) {
    const mid = 0.5 * (lo + hi);
    if (betaCdf(mid, a, b) < target) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

/** Index of the choice whose cumulative probability first exceeds u (probabilities must sum to 1). */
export function weightedChoicePpf(u: number, probabilities: readonly number[]): number {
  let acc = 0;
  for (let i = 0; i < probabilities.length; i++) {
    acc += probabilities[i];
    if (u < acc) return i;
  }
  return probabilities.length - 1;
}

/** W&B / Ray quantisation: round(x / q) · q, with float noise trimmed. */
export function quantize(x: number, q: number): number {
  return Number((Math.round(x / q) * q).toPrecision(12));
}
