/**
 * Hyperparameter importance by PED-ANOVA (Watanabe et al. 2023, "PED-ANOVA: Efficiently Quantifying Hyperparameter
 * Importance in Arbitrary Subspaces"), as Optuna's `PedAnovaImportanceEvaluator` (optuna/importance/_ped_anova):
 * for each parameter, the Pearson divergence between a Parzen estimate of the parameter's density among the top
 * `baselineQuantile` of the COMPLETE trials and its density among all of them ("local" evaluation, Optuna's default)
 * or the uniform density over its range (global). Importances are normalised to sum to 1.
 *
 * Optuna's default evaluator is fANOVA (a random forest); PED-ANOVA is the light one Optuna Dashboard uses. Pure
 * functions over frozen trials: no storage, no GPU.
 *
 * As Optuna: numerical parameters are discretised on `nSteps` (50) grid points of their (log-)range (fewer for
 * stepped or log-int ranges), each grid point gets a discrete truncated normal kernel whose width follows Scott's
 * rule (at least 0.5/1.64 grid steps), plus a wide prior kernel of weight `priorWeight`; categorical parameters
 * use TPE's categorical kernel (the observed choice plus priorWeight spread over all choices).
 */
import type { CategoricalDistribution, Distribution, FloatDistribution, IntDistribution, ParamValue } from '../distributions.js';
import type { Direction, FrozenTrial } from '../frozen-trial.js';

export interface PedAnovaOptions {
  /** Importance of reaching the top `baselineQuantile` of objective values (Optuna's default 0.1). */
  baselineQuantile?: number;
  /** Compare with the density of all trials (true, default) or with the uniform density over the range. */
  evaluateOnLocal?: boolean;
  /** Which parameters (default: those every COMPLETE trial has, with more than one possible value). */
  params?: string[];
  /** The value to rank trials by (lower is better when given); default the trial's value in `direction`. */
  target?: (t: FrozenTrial) => number;
  /** Direction of the trial's value (default minimize); ignored when `target` is given. */
  direction?: Direction;
}

const N_STEPS = 50;
const PRIOR_WEIGHT = 1.0;
const MIN_N_TOP_TRIALS = 2;

/**
 * Importance of each parameter, highest first (an insertion-ordered record). Trials used: COMPLETE, with every
 * parameter in `params` and a finite target. A parameter with a single possible value gets 0.
 */
export function pedAnovaImportance(trials: readonly FrozenTrial[], opts: PedAnovaOptions = {}): Record<string, number> {
  const q = opts.baselineQuantile ?? 0.1;
  if (!(q >= 0 && q <= 1)) throw new RangeError(`baselineQuantile (${q}) must be in [0, 1]`);
  const evaluateOnLocal = opts.evaluateOnLocal ?? true;
  const sign = opts.target ? 1 : opts.direction === 'maximize' ? -1 : 1;
  const targetOf = opts.target ?? ((t: FrozenTrial) => {
    if (t.values === null || t.values.length !== 1) throw new RangeError(`trial ${t.number}: has ${t.values?.length ?? 0} values; give a target for a multi-objective study`);
    return t.values[0];
  });

  const complete = trials.filter((t) => t.state === 'COMPLETE');
  const dists = searchSpace(complete, opts.params);
  const names = Object.keys(dists);
  const used = complete.filter((t) => names.every((n) => n in t.params) && Number.isFinite(targetOf(t)));
  const varying = names.filter((n) => !isSingle(dists[n]));
  const single = names.filter((n) => isSingle(dists[n]));
  if (varying.length === 0) return Object.fromEntries(single.map((n) => [n, 0]));

  let importances: Record<string, number> = {};
  if (used.length <= MIN_N_TOP_TRIALS) {
    for (const n of varying) importances[n] = 1 / varying.length;
  } else {
    const losses = used.map((t) => sign * targetOf(t));
    const top = quantileFilter(losses, q, MIN_N_TOP_TRIALS).map((i) => used[i]);
    let sum = 0;
    for (const n of varying) {
      importances[n] = pearsonDivergence(n, dists[n], top, used, evaluateOnLocal);
      sum += importances[n];
    }
    if (sum > 0) for (const n of varying) importances[n] /= sum;
    else for (const n of varying) importances[n] = 1 / varying.length;
  }
  for (const n of single) importances[n] = 0;
  importances = Object.fromEntries(Object.entries(importances).sort((a, b) => b[1] - a[1]));
  return importances;
}

/** The parameters every trial has (Optuna's intersection search space), with the latest trial's distribution. */
export function searchSpace(trials: readonly FrozenTrial[], only?: string[]): Record<string, Distribution> {
  if (trials.length === 0) return {};
  const out: Record<string, Distribution> = {};
  const names = only ?? Object.keys(trials[0].distributions).filter((n) => trials.every((t) => n in t.distributions));
  for (const n of [...names].sort()) {
    const holder = [...trials].reverse().find((t) => n in t.distributions);
    if (!holder) throw new RangeError(`no COMPLETE trial has the parameter "${n}"`);
    out[n] = holder.distributions[n];
  }
  return out;
}

function isSingle(d: Distribution): boolean {
  if (d.kind === 'categorical') return d.choices.length === 1;
  return d.low === d.high;
}

/** Indices of the losses at or below the `q` quantile (inverted CDF), and at least the `minTop` smallest. */
export function quantileFilter(losses: readonly number[], q: number, minTop: number): number[] {
  const sorted = [...losses].sort((a, b) => a - b);
  const atQuantile = sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
  const cutoff = Math.max(sorted[Math.min(minTop, sorted.length) - 1], atQuantile);
  const keep: number[] = [];
  losses.forEach((v, i) => {
    if (v <= cutoff) keep.push(i);
  });
  return keep;
}

function pearsonDivergence(name: string, dist: Distribution, top: FrozenTrial[], all: FrozenTrial[], local: boolean): number {
  const pdfTop = parzenPdf(dist, counts(name, dist, top));
  const pdfLocal = local ? parzenPdf(dist, counts(name, dist, all)) : new Array<number>(pdfTop.length).fill(1 / pdfTop.length);
  let d = 0;
  for (let i = 0; i < pdfTop.length; i++) {
    const pt = pdfTop[i] + 1e-12;
    const pl = pdfLocal[i] + (local ? 1e-12 : 0);
    d += pl * (pt / pl - 1) ** 2;
  }
  return d;
}

/** How many trials fall on each grid point (numerical) or choice (categorical). */
function counts(name: string, dist: Distribution, trials: FrozenTrial[]): number[] {
  if (dist.kind === 'categorical') {
    const c = new Array<number>(dist.choices.length).fill(0);
    for (const t of trials) c[choiceIndex(dist, t.params[name])]++;
    return c;
  }
  const n = gridSize(dist);
  const scale = (v: number) => (dist.log ? Math.log(v) : v);
  const lo = scale(dist.low);
  const hi = scale(dist.high);
  const grid = Array.from({ length: n }, (_, i) => (n === 1 ? lo : lo + ((hi - lo) * i) / (n - 1)));
  const stepSize = n > 1 ? grid[1] - grid[0] : 0;
  const c = new Array<number>(n).fill(0);
  for (const t of trials) {
    const x = scale(t.params[name] as number) - stepSize / 2;
    // searchsorted (left): the first grid point >= x.
    let idx = grid.findIndex((g) => g >= x);
    if (idx < 0) idx = n - 1; // numerically past the last point
    c[idx]++;
  }
  return c;
}

function gridSize(dist: FloatDistribution | IntDistribution): number {
  if (dist.kind === 'int' && dist.log) return Math.min(Math.ceil(Math.log(dist.high - dist.low + 1) / Math.log(2)) + 1, N_STEPS);
  if (dist.step !== null && !dist.log) return Math.min(Math.round((dist.high - dist.low) / dist.step) + 1, N_STEPS);
  return N_STEPS;
}

function choiceIndex(dist: CategoricalDistribution, v: ParamValue): number {
  const i = dist.choices.findIndex((c) => c === v || (typeof c === 'number' && typeof v === 'number' && Number.isNaN(c) && Number.isNaN(v)));
  if (i < 0) throw new RangeError(`value ${String(v)} is not one of the choices ${JSON.stringify(dist.choices)}`);
  return i;
}

/** The Parzen estimator's probability of each grid point / choice, given how many trials fell on each. */
function parzenPdf(dist: Distribution, count: number[]): number[] {
  const n = count.length;
  const observed = count.map((c, i) => [i, c] as const).filter(([, c]) => c > 0);
  const total = observed.reduce((s, [, c]) => s + c, 0);
  const mixWeights = [...observed.map(([, c]) => c), PRIOR_WEIGHT];
  const wsum = mixWeights.reduce((s, w) => s + w, 0);
  const pdf = new Array<number>(n).fill(0);
  if (dist.kind === 'categorical') {
    // TPE's categorical kernel: 1 on the observed choice plus priorWeight / nKernels on every choice, normalised.
    const nKernels = observed.length + 1;
    const kernels = [...observed.map(([i]) => i), -1];
    kernels.forEach((obs, k) => {
      const row = new Array<number>(n).fill(PRIOR_WEIGHT / nKernels);
      if (obs >= 0) row[obs] += 1;
      const rsum = row.reduce((s, v) => s + v, 0);
      for (let j = 0; j < n; j++) pdf[j] += (mixWeights[k] / wsum) * (row[j] / rsum);
    });
    return pdf;
  }
  // Scott's rule on the grid indices, as Optuna's _ScottParzenEstimator.
  const mus = observed.map(([i]) => i);
  const ws = observed.map(([, c]) => c / total);
  const mean = mus.reduce((s, m, k) => s + m * ws[k], 0);
  let sigma = Math.sqrt(mus.reduce((s, m, k) => s + (m - mean) ** 2 * observed[k][1], 0) / Math.max(1, total - 1));
  const cum: number[] = [];
  observed.reduce((s, [, c]) => (cum.push(s + c), s + c), 0);
  const idx25 = searchSorted(cum, Math.floor(total / 4), 'left');
  const idx75 = searchSorted(cum, Math.floor((total * 3) / 4), 'right');
  const iqr = mus[Math.min(mus.length - 1, idx75)] - mus[idx25];
  sigma = 1.059 * Math.min(iqr / 1.34, sigma) * total ** -0.2;
  const sigmaMin = 0.5 / 1.64;
  const kernels = [...mus.map((mu) => [mu, Math.max(sigma, sigmaMin)] as const), [0.5 * (n - 1), n] as const];
  kernels.forEach(([mu, s], k) => {
    // A normal truncated to [-0.5, n - 0.5], discretised on the integers 0..n-1.
    const z = normCdf((n - 0.5 - mu) / s) - normCdf((-0.5 - mu) / s);
    if (!(z > 0)) return;
    for (let j = 0; j < n; j++) {
      const mass = Math.max(0, normCdf((j + 0.5 - mu) / s) - normCdf((j - 0.5 - mu) / s));
      pdf[j] += (mixWeights[k] / wsum) * (mass / z);
    }
  });
  return pdf;
}

function searchSorted(a: number[], v: number, side: 'left' | 'right'): number {
  let i = 0;
  while (i < a.length && (side === 'left' ? a[i] < v : a[i] <= v)) i++;
  return i;
}

/** Standard normal CDF through erfc (the Chebyshev fit of Numerical Recipes' erfcc: relative error < 1.2e-7). */
export function normCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}
