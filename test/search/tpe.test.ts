/**
 * TPE: the special functions against published values, the Parzen estimator against hand computations of
 * Optuna's rules on tiny histories, the trial split, and end-to-end behaviour.
 * Independent references: normal masses here are integrated numerically (composite Simpson) from the density.
 */
import { describe, expect, it } from 'vitest';
import { CategoricalDistribution, FloatDistribution, IntDistribution } from '../../src/search/distributions.js';
import { Rng } from '../../src/search/rng.js';
import { RandomSampler } from '../../src/search/samplers/random.js';
import { erf, erfc, logNdtr, ndtr, ndtriExp } from '../../src/search/samplers/tpe/erf.js';
import { buildParzenEstimator, defaultGamma, defaultWeights, parzenLogPdf, sampleParzen, type ParzenEstimatorParameters } from '../../src/search/samplers/tpe/parzen-estimator.js';
import { splitTrials, TPESampler } from '../../src/search/samplers/tpe/sampler.js';
import { truncnormLogPdf, truncnormPpf, truncnormSample } from '../../src/search/samplers/tpe/truncnorm.js';
import { createStudy } from '../../src/search/study.js';
import type { FrozenTrial } from '../../src/search/frozen-trial.js';

const phi = (z: number): number => Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
/** ∫_a^b φ by composite Simpson with 4000 panels: an independent normal mass. */
function mass(a: number, b: number): number {
  const n = 4000;
  const h = (b - a) / n;
  let s = phi(a) + phi(b);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * phi(a + i * h);
  return (s * h) / 3;
}

describe('special functions vs published values', () => {
  it('erf / erfc (A&S table 7.1, Wolfram values)', () => {
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 15);
    expect(erf(1)).toBeCloseTo(0.8427007929497149, 15);
    expect(erf(-2)).toBeCloseTo(-0.9953222650189527, 15);
    expect(erfc(3) / 2.209049699858544e-5).toBeCloseTo(1, 12);
    expect(erfc(5) / 1.5374597944280349e-12).toBeCloseTo(1, 12);
    expect(erfc(10) / 2.088487583762545e-45).toBeCloseTo(1, 12);
  });

  it('log Φ in the far tail matches the asymptotic series, and Φ(1.959963984540054) = 0.975', () => {
    // log Φ(z) ≈ log φ(z) − log|z| + log(1 − 1/z² + 3/z⁴ − 15/z⁶) for z → −∞.
    const z = -40;
    const asym = -0.5 * z * z - 0.5 * Math.log(2 * Math.PI) - Math.log(40) + Math.log(1 - 1 / 1600 + 3 / 1600 ** 2 - 15 / 1600 ** 3);
    expect(logNdtr(z)).toBeCloseTo(asym, 9);
    expect(ndtr(1.959963984540054)).toBeCloseTo(0.975, 14);
    expect(ndtriExp(Math.log(0.975))).toBeCloseTo(1.959963984540054, 12);
    for (const y of [-1e-12, -0.01, -0.5, -3, -50, -700, -5000]) expect(logNdtr(ndtriExp(y))).toBeCloseTo(y, 9);
  });

  it('truncated normal: log pdf, quantile and sample mean against Simpson integration', () => {
    const [a, b] = [-0.5, 2];
    expect(truncnormLogPdf(1.3, a, b, 0, 1)).toBeCloseTo(Math.log(phi(1.3) / mass(a, b)), 10);
    expect(truncnormLogPdf(4, a, b, 1, 2)).toBeCloseTo(Math.log(phi(1.5) / 2 / mass(a, b)), 10);
    expect(truncnormLogPdf(-0.6, a, b, 0, 1)).toBe(-Infinity);
    for (const q of [0.1, 0.5, 0.9]) expect(mass(a, truncnormPpf(q, a, b)) / mass(a, b)).toBeCloseTo(q, 9);
    // Far tail (a = 8): the naive Φ(b) − Φ(a) underflows to 0 in double precision; the log-space path does not.
    expect(truncnormPpf(0.5, 8, 9)).toBeGreaterThan(8);
    expect(truncnormPpf(0.5, 8, 9)).toBeLessThan(8.2);
    const rng = new Rng(1);
    let sum = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) sum += truncnormSample(rng, a, b, 0, 1);
    expect(sum / n).toBeCloseTo((phi(a) - phi(b)) / mass(a, b), 1.5);
  });
});

const P: ParzenEstimatorParameters = { priorWeight: 1, considerMagicClip: true, considerEndpoints: false, weights: defaultWeights, multivariate: false };

describe('Parzen estimator vs hand computation of Optuna 4.9 rules', () => {
  it('float on [0, 10], observations 2, 5, 9', () => {
    // Sorted observations {2, 5, 9} within endpoints 0 … 10 (4.9: the prior is not in the list):
    //   σ(2) = max(2−0, 5−2) = 3, σ(5) = max(5−2, 9−5) = 4, σ(9) = max(9−5, 10−9) = 4;
    //   consider_endpoints=false replaces the first by 5−2 = 3 and the last by 9−5 = 4.
    // Magic clip: n_kernels = 4 → σ ∈ [10 / min(100, 5), 10] = [2, 10]: unchanged. Prior kernel: μ 5, σ 10.
    // Weights: [1, 1, 1] + prior 1, normalised → ¼ each.
    const space = { x: new FloatDistribution(0, 10) };
    const pe = buildParzenEstimator({ x: [2, 5, 9] }, space, P);
    const k = pe.kernels.x;
    expect(k.kind === 'numerical' && [k.mus, k.sigmas]).toEqual([[2, 5, 9, 5], [3, 4, 4, 10]]);
    expect(pe.weights).toEqual([0.25, 0.25, 0.25, 0.25]);
    const mus = [2, 5, 9, 5];
    const sig = [3, 4, 4, 10];
    for (const x of [0, 1.7, 5, 8.2, 10]) {
      const hand = mus.reduce((acc, m, i) => acc + (0.25 * phi((x - m) / sig[i])) / sig[i] / mass((0 - m) / sig[i], (10 - m) / sig[i]), 0);
      expect(parzenLogPdf(pe, { x: [x] })[0]).toBeCloseTo(Math.log(hand), 10);
    }
  });

  it('magic clip raises small bandwidths: observations 4.9, 5.1 on [0, 10]', () => {
    // Sorted {4.9, 5.1}: σ(4.9) = max(4.9, 0.2) → endpoint rule → 5.1 − 4.9 = 0.2; σ(5.1) → 0.2.
    // n_kernels = 3 → min σ = 10 / 4 = 2.5, so both become 2.5.
    const k = buildParzenEstimator({ x: [4.9, 5.1] }, { x: new FloatDistribution(0, 10) }, P).kernels.x;
    expect(k.kind === 'numerical' && k.sigmas).toEqual([2.5, 2.5, 10]);
  });

  it('int on [0, 4] (step 1), observations 1, 3: discretised truncated normal', () => {
    // Sorted {1, 3} within −0.5 … 4.5: σ = [max(1.5, 2), max(2, 1.5)], endpoint rule → [2, 2].
    // Clip: (4 − 0 + 1) / min(100, 1 + 3) = 1.25 ≤ 2: unchanged; prior μ 2, σ 5. Weights ⅓ each.
    // P(k) = Σ w_i · mass([k−½, k+½]) / mass([−½, 4.5]) in units of σ_i.
    const space = { n: new IntDistribution(0, 4) };
    const pe = buildParzenEstimator({ n: [1, 3] }, space, P);
    const mus = [1, 3, 2];
    const sig = [2, 2, 5];
    let total = 0;
    for (let v = 0; v <= 4; v++) {
      const hand = mus.reduce((acc, m, i) => acc + (mass((v - 0.5 - m) / sig[i], (v + 0.5 - m) / sig[i]) / mass((-0.5 - m) / sig[i], (4.5 - m) / sig[i])) / 3, 0);
      expect(parzenLogPdf(pe, { n: [v] })[0]).toBeCloseTo(Math.log(hand), 10);
      total += hand;
    }
    expect(total).toBeCloseTo(1, 10);
  });

  it('log-int on [1, 10], observations 2, 5: the 4.x discrete kernel on [log(k − ½), log(k + ½)]', () => {
    // L = log 0.5, H = log 10.5. Sorted {log 2, log 5}: σ = max(log 2 − log 0.5, log 5 − log 2) = log 4 → endpoint
    // rule → log 2.5 for both. Clip: log 21 / min(100, 4) = 0.761 < log 2.5 = 0.916: unchanged. Prior μ = (L + H)/2,
    // σ = log 21. P(k) = Σ_i ⅓ · mass([log(k − ½), log(k + ½)]) / mass([L, H]) in units of σ_i around μ_i.
    const pe = buildParzenEstimator({ n: [2, 5] }, { n: new IntDistribution(1, 10, { log: true }) }, P);
    const [L, H] = [Math.log(0.5), Math.log(10.5)];
    const mus = [Math.log(2), Math.log(5), (L + H) / 2];
    const sig = [Math.log(2.5), Math.log(2.5), Math.log(21)];
    const k = pe.kernels.n;
    expect(k.kind === 'numerical' && k.mus.map((v, i) => v - mus[i]).every((d) => Math.abs(d) < 1e-14)).toBe(true);
    expect(k.kind === 'numerical' && k.sigmas.map((v, i) => v - sig[i]).every((d) => Math.abs(d) < 1e-14)).toBe(true);
    let total = 0;
    for (let v = 1; v <= 10; v++) {
      const hand = mus.reduce((acc, m, i) => acc + mass((Math.log(v - 0.5) - m) / sig[i], (Math.log(v + 0.5) - m) / sig[i]) / mass((L - m) / sig[i], (H - m) / sig[i]) / 3, 0);
      expect(parzenLogPdf(pe, { n: [v] })[0]).toBeCloseTo(Math.log(hand), 10);
      total += hand;
    }
    expect(total).toBeCloseTo(1, 10);
    // Samples are integers in range, snapped after exp.
    expect(sampleParzen(pe, new Rng(4), 300).n.every((v) => Number.isInteger(v) && v >= 1 && v <= 10)).toBe(true);
  });

  it('log float: kernels live in log space', () => {
    // [1e-3, 1] log → [ln 1e-3, 0] = [−6.9078, 0]; prior μ = −3.4539. Observation ln 0.01 = −4.6052.
    // One observation: σ = max(−4.6052 + 6.9078, 0 + 4.6052) = 4.6052, and with 3 points in the bracketed
    // list (< 4) the endpoint rule does not apply. Clip: [6.9078 / 3, 6.9078] leaves it.
    const lo = Math.log(1e-3);
    const pe = buildParzenEstimator({ lr: [0.01] }, { lr: new FloatDistribution(1e-3, 1, { log: true }) }, P);
    const k = pe.kernels.lr;
    if (k.kind !== 'numerical') throw new Error('expected numerical');
    expect(k.mus[0]).toBeCloseTo(Math.log(0.01), 12);
    expect(k.sigmas[0]).toBeCloseTo(Math.max(Math.log(0.01) - lo, 0 - Math.log(0.01)), 12);
    expect(k.sigmas[1]).toBeCloseTo(-lo, 12);
    const x = 0.05;
    const hand = [0, 1].reduce((acc, i) => acc + (0.5 * phi((Math.log(x) - k.mus[i]) / k.sigmas[i])) / k.sigmas[i] / mass((lo - k.mus[i]) / k.sigmas[i], -k.mus[i] / k.sigmas[i]), 0);
    expect(parzenLogPdf(pe, { lr: [x] })[0]).toBeCloseTo(Math.log(hand), 10);
  });

  it('categorical with prior: observations [0, 0, 2] of 3 choices', () => {
    // n_kernels = 4; each kernel row = ¼ everywhere + 1 on its choice, normalised by 1.75; prior row uniform ⅓.
    const pe = buildParzenEstimator({ c: [0, 0, 2] }, { c: new CategoricalDistribution(['a', 'b', 'c']) }, P);
    const p0 = 0.25 * ((2 * 1.25) / 1.75 + 0.25 / 1.75 + 1 / 3);
    const p1 = 0.25 * ((3 * 0.25) / 1.75 + 1 / 3);
    const p2 = 0.25 * ((2 * 0.25) / 1.75 + 1.25 / 1.75 + 1 / 3);
    expect(parzenLogPdf(pe, { c: [0, 1, 2] })).toEqual([Math.log(p0), Math.log(p1), Math.log(p2)].map((v) => expect.closeTo(v, 12)));
    expect(p0 + p1 + p2).toBeCloseTo(1, 12);
  });

  it('multivariate bandwidth: σ = 0.2 · n^(−1/(d+4)) · (high − low + step) for every kernel', () => {
    // d = 2 params, n = 3 observations: σ_x = 0.2 · 3^(−1/6) · 10 = 1.6652…, then clipped to ≥ 10 / min(100, 1 + 4) = 2.
    // σ_n (int 0..4, step 1): 0.2 · 3^(−1/6) · 5 = 0.8326…, clipped to ≥ 5 / 5 = 1.
    const pe = buildParzenEstimator({ x: [1, 2, 3], n: [0, 1, 2] }, { x: new FloatDistribution(0, 10), n: new IntDistribution(0, 4) }, { ...P, multivariate: true });
    const kx = pe.kernels.x;
    const kn = pe.kernels.n;
    expect(kx.kind === 'numerical' && kx.sigmas).toEqual([2, 2, 2, 10]);
    expect(kn.kind === 'numerical' && kn.sigmas).toEqual([1, 1, 1, 5]);
    // With 40 observations the formula wins over the clip: 0.2 · 40^(−1/6) · 10 = 1.0823… > 10 / 42.
    const many = Array.from({ length: 40 }, (_, i) => i / 4);
    const k40 = buildParzenEstimator({ x: many, n: many.map(() => 1) }, { x: new FloatDistribution(0, 10), n: new IntDistribution(0, 4) }, { ...P, multivariate: true }).kernels.x;
    expect(k40.kind === 'numerical' && k40.sigmas[0]).toBeCloseTo(0.2 * 40 ** (-1 / 6) * 10, 12);
    // The joint density is a mixture of products: check one point by hand for the first small estimator.
    const x = 2.5;
    const v = 1;
    const sx = [2, 2, 2, 10];
    const sn = [1, 1, 1, 5];
    const mx = [1, 2, 3, 5];
    const mn = [0, 1, 2, 2];
    const hand = mx.reduce((acc, m, i) => {
      const px = phi((x - m) / sx[i]) / sx[i] / mass(-m / sx[i], (10 - m) / sx[i]);
      const pn = mass((v - 0.5 - mn[i]) / sn[i], (v + 0.5 - mn[i]) / sn[i]) / mass((-0.5 - mn[i]) / sn[i], (4.5 - mn[i]) / sn[i]);
      return acc + 0.25 * px * pn;
    }, 0);
    expect(parzenLogPdf(pe, { x: [x], n: [v] })[0]).toBeCloseTo(Math.log(hand), 10);
  });

  it('samples respect bounds, step and integrality', () => {
    const space = { f: new FloatDistribution(0, 1, { step: 0.25 }), i: new IntDistribution(1, 100, { log: true }), l: new FloatDistribution(1e-4, 1e-2, { log: true }) };
    const pe = buildParzenEstimator({ f: [0.25, 0.5], i: [3, 90], l: [1e-3, 5e-3] }, space, P);
    const s = sampleParzen(pe, new Rng(3), 500);
    expect(s.f.every((v) => [0, 0.25, 0.5, 0.75, 1].includes(v))).toBe(true);
    expect(s.i.every((v) => Number.isInteger(v) && v >= 1 && v <= 100)).toBe(true);
    expect(s.l.every((v) => v >= 1e-4 && v <= 1e-2)).toBe(true);
  });

  it('default weights and gamma as Optuna', () => {
    expect(defaultWeights(3)).toEqual([1, 1, 1]);
    const w = defaultWeights(30); // linspace(1/30, 1, 5) then 25 ones
    expect(w.slice(0, 5).map((v) => +v.toFixed(6))).toEqual([1 / 30, 1 / 30 + (29 / 30) / 4, 1 / 30 + (29 / 30) / 2, 1 / 30 + (3 * 29 / 30) / 4, 1].map((v) => +v.toFixed(6)));
    expect(w.slice(5)).toEqual(new Array(25).fill(1));
    expect([10, 11, 100, 251, 1000].map(defaultGamma)).toEqual([1, 2, 10, 25, 25]);
  });
});

function ft(number: number, state: FrozenTrial['state'], value: number | null, iv: Array<[number, number]> = []): FrozenTrial {
  return { trialId: number, number, state, values: value === null ? null : [value], value, params: {}, distributions: {}, intermediateValues: new Map(iv), userAttrs: {}, systemAttrs: {}, datetimeStart: null, datetimeComplete: null };
}

describe('splitTrials', () => {
  it('best complete first, then pruned by (latest step, value), running always above', () => {
    const trials = [ft(0, 'COMPLETE', 3), ft(1, 'COMPLETE', 1), ft(2, 'PRUNED', null, [[0, 5], [4, 0.5]]), ft(3, 'PRUNED', null, [[0, 0.1]]), ft(4, 'RUNNING', null), ft(5, 'PRUNED', null, [[4, 0.2]])];
    const { below, above } = splitTrials(trials, 4, 'minimize');
    // complete sorted: 1 (1), 0 (3) → both below; 2 left: pruned ranked by −step then value: #5 (step 4, 0.2), #2 (step 4, 0.5), #3 (step 0).
    expect(below.map((t) => t.number)).toEqual([0, 1, 2, 5]);
    expect(above.map((t) => t.number)).toEqual([3, 4]);
    expect(splitTrials(trials, 1, 'maximize').below.map((t) => t.number)).toEqual([0]);
  });
});

describe('TPESampler end to end', () => {
  const objective = (t: { suggestFloat: (n: string, l: number, h: number) => number }): number => (t.suggestFloat('x', -5, 5) - 1.5) ** 2 + (t.suggestFloat('y', -5, 5) + 2) ** 2;

  it('same seed → same sequence; different seeds differ', async () => {
    const run = async (seed: number, multivariate = false): Promise<number[]> => {
      const s = createStudy({ sampler: new TPESampler({ seed, multivariate }) });
      await s.optimize(objective, { nTrials: 20 });
      return s.trials.map((t) => t.values![0]);
    };
    expect(await run(7)).toEqual(await run(7));
    expect(await run(7, true)).toEqual(await run(7, true));
    expect(await run(7)).not.toEqual(await run(8));
  });

  it('beats random search on a 2-d quadratic (median over 5 seeds, 60 trials)', async () => {
    const best = async (sampler: () => TPESampler | RandomSampler): Promise<number> => {
      const s = createStudy({ sampler: sampler() });
      await s.optimize(objective, { nTrials: 60 });
      return s.bestValue;
    };
    const med = (xs: number[]): number => xs.sort((a, b) => a - b)[2];
    const tpe: number[] = [];
    const rnd: number[] = [];
    for (let seed = 0; seed < 5; seed++) {
      tpe.push(await best(() => new TPESampler({ seed })));
      rnd.push(await best(() => new RandomSampler({ seed })));
    }
    expect(med(tpe)).toBeLessThan(med(rnd));
  });

  it('handles conditional spaces, categorical, int-log and pruned trials; constant liar sees running trials', async () => {
    const s = createStudy({ sampler: new TPESampler({ seed: 1, nStartupTrials: 5, constantLiar: true }) });
    await s.optimize(async (t) => {
      const kind = t.suggestCategorical('kind', ['a', 'b']);
      const v = kind === 'a' ? t.suggestFloat('u', 0, 1) : t.suggestInt('w', 1, 1000, { log: true }) / 1000;
      if (t.number % 7 === 3) {
        t.report(v, 0);
        return Promise.reject(new (await import('../../src/search/errors.js')).TrialPruned());
      }
      return v;
    }, { nTrials: 30, concurrency: 2 });
    expect(s.trials.filter((t) => t.state === 'PRUNED').length).toBeGreaterThan(0);
    expect(s.trials.every((t) => t.state === 'COMPLETE' || t.state === 'PRUNED')).toBe(true);
  });

  it('constant liar + multivariate: relative params are shared through system attrs (Optuna 4.9 tpe:relative_params)', async () => {
    const s = createStudy({ sampler: new TPESampler({ seed: 2, multivariate: true, constantLiar: true, nStartupTrials: 3 }) });
    await s.optimize((t) => (t.suggestFloat('x', 0, 1) - 0.3) ** 2 + t.suggestInt('n', 1, 9), { nTrials: 5 });
    const t = s.ask();
    const shared = JSON.parse(s.storage.getTrial(t.trialId).systemAttrs['tpe:relative_params:0'] as string) as Record<string, number>;
    expect(Object.keys(shared).sort()).toEqual(['n', 'x']);
    expect([t.suggestFloat('x', 0, 1), t.suggestInt('n', 1, 9)]).toEqual([shared.x, shared.n]);
    // A second trial asked while the first runs still samples (the running one is in "above" with its shared params).
    const u = s.ask();
    expect(typeof u.suggestFloat('x', 0, 1)).toBe('number');
  });

  it('refuses multi-objective studies with a clear error', () => {
    const s = createStudy({ directions: ['minimize', 'minimize'], sampler: new TPESampler() });
    expect(() => s.ask().suggestFloat('x', 0, 1)).toThrow('use NSGAIISampler');
  });
});
