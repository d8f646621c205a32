/**
 * TPE against real Optuna: every expected value here was printed by Optuna, not by this code
 * (test/search/fixtures/optuna-tpe.json, made by fixtures/make_optuna_tpe.py): Optuna 4.9.0 run from its source
 * tag, and Debian's Optuna 3.1.0, both on NumPy 1.24.2.
 * - The Parzen estimator (weights, μ, σ, categorical rows, log densities, samples from RandomState(1)) equals
 *   4.9.0's on every case: univariate float (1, 3, 30 observations, none), consider_endpoints, no magic clip,
 *   prior_weight, int with tied observations, stepped int, log-int (4.x discrete kernel), log float, stepped
 *   float, categorical, and multivariate spaces.
 * - Where 3.1.0 and 4.9.0 agree (categorical kernels, multivariate bandwidths and samples) it equals 3.1 too;
 *   where they differ, the test pins the documented difference (3.1's σ rule with the prior, its density without 1/σ).
 * - Whole seeded TPE studies (univariate and multivariate, with PRUNED and FAIL trials) take Optuna 4.9.0's
 *   parameters trial for trial.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CategoricalDistribution, FloatDistribution, IntDistribution, type Distribution } from '../../src/search/distributions.js';
import { TrialPruned } from '../../src/search/errors.js';
import { Rng } from '../../src/search/rng.js';
import { argmax, argsort, pairwiseSum, roundHalfEven } from '../../src/search/samplers/tpe/numpy-compat.js';
import { buildParzenEstimator, defaultWeights, parzenLogPdf, sampleParzen, type ParzenEstimatorParameters } from '../../src/search/samplers/tpe/parzen-estimator.js';
import { TPESampler } from '../../src/search/samplers/tpe/sampler.js';
import { createStudy } from '../../src/search/study.js';
import type { Trial } from '../../src/search/trial.js';

interface DistJson {
  kind: 'float' | 'int' | 'categorical';
  low?: number;
  high?: number;
  log?: boolean;
  step?: number | null;
  choices?: string[];
}
interface ParzenCase {
  name: string;
  space: Record<string, DistJson>;
  observations: Record<string, number[]>;
  options: { prior_weight?: number; magic_clip?: boolean; endpoints?: boolean; multivariate?: boolean };
  points: Record<string, number[]>;
  weights: number[];
  kernels: Record<string, { mus?: number[]; sigmas?: number[]; weights?: number[][] }>;
  logPdf: number[];
  samples: Record<string, number[]>;
}
interface StudyTrial {
  number: number;
  state: string;
  params: Record<string, number>;
}
interface VersionFixture {
  numpy: string;
  parzen: ParzenCase[];
  argsort: Array<{ a: number[]; argsort: number[] }>;
  studies: { univariate: StudyTrial[]; multivariate: StudyTrial[] };
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/optuna-tpe.json', import.meta.url), 'utf8')) as Record<string, VersionFixture>;
const V49 = fixture['optuna-4.9.0'];
const V31 = fixture['optuna-3.1.0'];

function dist(d: DistJson): Distribution {
  if (d.kind === 'categorical') return new CategoricalDistribution(d.choices!);
  if (d.kind === 'int') return new IntDistribution(d.low!, d.high!, { log: d.log, step: d.step ?? 1 });
  return new FloatDistribution(d.low!, d.high!, { log: d.log, step: d.step ?? null });
}

function estimator(c: ParzenCase): ReturnType<typeof buildParzenEstimator> {
  const p: ParzenEstimatorParameters = {
    priorWeight: c.options.prior_weight ?? 1,
    considerMagicClip: c.options.magic_clip ?? true,
    considerEndpoints: c.options.endpoints ?? false,
    weights: defaultWeights,
    multivariate: c.options.multivariate ?? false,
  };
  const space = Object.fromEntries(Object.entries(c.space).map(([k, d]) => [k, dist(d)]));
  return buildParzenEstimator(c.observations, space, p);
}

/** Equal to a relative tolerance (exact for integers and zeros). */
function close(actual: number[], expected: number[], rel: number): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i];
    if (Math.abs(a - e) > rel * Math.max(Math.abs(e), 1e-300)) expect(a).toBe(e);
  });
}

describe('Parzen estimator = Optuna 4.9.0 _ParzenEstimator', () => {
  it.each(V49.parzen.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const pe = estimator(c);
    close(pe.weights, c.weights, 1e-14);
    for (const [name, k] of Object.entries(c.kernels)) {
      const mine = pe.kernels[name];
      if (k.weights) {
        expect(mine.kind).toBe('categorical');
        if (mine.kind === 'categorical') mine.weights.forEach((row, i) => close(row, k.weights![i], 1e-14));
      } else {
        expect(mine.kind).toBe('numerical');
        if (mine.kind === 'numerical') {
          close(mine.mus, k.mus!, 1e-14);
          close(mine.sigmas, k.sigmas!, 1e-13);
        }
      }
    }
    close(parzenLogPdf(pe, c.points), c.logPdf, 1e-11);
    const samples = sampleParzen(pe, new Rng(1), 10);
    for (const [name, xs] of Object.entries(c.samples)) close(samples[name], xs, 1e-11);
  });
});

describe('Optuna 3.1.0 (the bench peer): same where the algorithm is the same, documented differences elsewhere', () => {
  const v31 = (name: string): ParzenCase => V31.parzen.find((c) => c.name === name)!;
  const v49 = (name: string): ParzenCase => V49.parzen.find((c) => c.name === name)!;

  it('categorical kernels, weights, log densities and samples are 3.1.0s', () => {
    for (const name of ['categorical', 'categorical-priorweight']) {
      const c = v31(name);
      const pe = estimator(c);
      close(pe.weights, c.weights, 1e-14);
      const k = pe.kernels.c;
      if (k.kind === 'categorical') k.weights.forEach((row, i) => close(row, c.kernels.c.weights![i], 1e-14));
      close(parzenLogPdf(pe, c.points), c.logPdf, 1e-12);
      close(sampleParzen(pe, new Rng(1), 10).c, c.samples.c, 0);
    }
  });

  it('multivariate bandwidths and samples over continuous, log and stepped parameters are 3.1.0s', () => {
    const c = v31('multivariate-numeric');
    const pe = estimator(c);
    for (const name of ['x', 'y', 's']) {
      const k = pe.kernels[name];
      if (k.kind === 'numerical') {
        close(k.mus, c.kernels[name].mus!, 1e-14);
        close(k.sigmas, c.kernels[name].sigmas!, 1e-13);
      }
    }
    const s = sampleParzen(pe, new Rng(1), 10);
    for (const name of ['x', 'y', 's']) close(s[name], c.samples[name], 1e-11);
  });

  it('3.1 put the prior into the univariate σ rule (4.9.0 does not)', () => {
    // Observations 2, 5, 9 on [0, 10]. 3.1 sorts {2, 5, 5 (prior), 9}: σ(5) = max(5 − 2, 5 − 5) = 3;
    // 4.9 sorts {2, 5, 9}: σ(5) = max(3, 4) = 4. The other σ and the prior's agree.
    expect(v31('float-3').kernels.x.sigmas).toEqual([3, 3, 4, 10]);
    expect(v49('float-3').kernels.x.sigmas).toEqual([3, 4, 4, 10]);
    const k = estimator(v49('float-3')).kernels.x;
    expect(k.kind === 'numerical' && k.sigmas).toEqual([3, 4, 4, 10]);
  });

  it('3.1s continuous density lacks the 1/σ factor (fixed upstream in 3.5.0)', () => {
    // No observation: one prior kernel, μ = −1, σ = 4 on [−3, 1]; 3.1s log density is higher by exactly log 4.
    const mine = parzenLogPdf(estimator(v49('float-empty')), v49('float-empty').points);
    close(mine.map((v) => v + Math.log(4)), v31('float-empty').logPdf, 1e-12);
  });
});

describe('NumPy behaviours TPE depends on', () => {
  it('np.argsort breaks ties as NumPy 1.24 does (introsort, not a stable sort)', () => {
    for (const { a, argsort: expected } of V49.argsort) expect(argsort(a)).toEqual(expected);
    // A stable sort would differ on at least one of these.
    expect(V49.argsort.some(({ a, argsort: e }) => JSON.stringify([...a.keys()].sort((i, j) => a[i] - a[j])) !== JSON.stringify(e))).toBe(true);
  });

  it('np.round is half to even; np.argmax takes the first maximum (or NaN); np.sum is pairwise', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2]);
    expect(argmax([1, 3, 3, 2])).toBe(1);
    expect(argmax([1, NaN, 3])).toBe(1);
    // Pairwise: 8 accumulators from 8 terms on. Sequentially, 1e16 + 1 + 1 + … loses every 1.
    const xs = [1e16, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
    expect(xs.reduce((a, b) => a + b, 0)).toBe(1e16);
    expect(pairwiseSum(xs)).toBe(1e16 + 14); // r0 = 1e16 + 1 rounds to 1e16; r1..r7 hold 2 each, summed in pairs: + 14
  });
});

describe('seeded TPE studies take Optuna 4.9.0s parameters trial for trial', () => {
  const objective = (t: Trial): number => {
    const x = t.suggestFloat('x', -5, 5);
    const y = t.suggestFloat('y', 1e-3, 10, { log: true });
    const n = t.suggestInt('n', 1, 64, { log: true });
    const k = t.suggestInt('k', 0, 10, { step: 2 });
    const v = (x - 1) ** 2 + Math.log(y) ** 2 + Math.abs(Math.log(n) - 2) + Math.abs(k - 4);
    if (t.number % 9 === 4) return NaN; // FAIL
    if (t.number % 6 === 5) {
      t.report(v + 1, 0);
      t.report(v + 0.5, 1);
      throw new TrialPruned();
    }
    return v;
  };

  it.each([['univariate', false], ['multivariate', true]] as const)('%s, 40 trials with PRUNED and FAIL ones', async (mode, multivariate) => {
    const study = createStudy({ sampler: new TPESampler({ seed: 3, multivariate }) });
    await study.optimize(objective, { nTrials: 40 });
    const expected = V49.studies[mode];
    expect(study.trials.map((t) => t.state)).toEqual(expected.map((t) => t.state));
    study.trials.forEach((t, i) => {
      for (const [name, v] of Object.entries(expected[i].params)) {
        const mine = t.params[name] as number;
        if (Math.abs(mine - v) > 1e-9 * Math.max(1, Math.abs(v))) expect({ trial: t.number, name, mine }).toEqual({ trial: t.number, name, mine: v });
      }
    });
    // The 10 startup trials are RandomSampler(seed) draws: 3.1.0 gives the same.
    for (let i = 0; i < 10; i++) for (const [name, v] of Object.entries(V31.studies[mode][i].params)) expect(study.trials[i].params[name]).toBeCloseTo(v, 12);
  });
});
