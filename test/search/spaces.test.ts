/** Search-space dialects (Optuna, Ray Tune, W&B) and Hugging Face defaults. */
import { describe, expect, it } from 'vitest';
import { RandomSampler } from '../../src/search/samplers/random.js';
import { GridSampler } from '../../src/search/samplers/grid.js';
import { TPESampler } from '../../src/search/samplers/tpe/sampler.js';
import { WandbHyperbandPruner } from '../../src/search/pruners/wandb-hyperband.js';
import { createStudy } from '../../src/search/study.js';
import type { SpaceValue } from '../../src/search/spaces/param-spec.js';
import { raySpace, tune, type RayConfig } from '../../src/search/spaces/ray.js';
import { RayGridSampler } from '../../src/search/spaces/ray-grid-sampler.js';
import { wandbHyperbandPruner, wandbSweep, type WandbParam } from '../../src/search/spaces/wandb.js';
import { betaCdf, betaPpf, lnGamma, normalPpf } from '../../src/search/spaces/special.js';
import { defaultComputeObjective, defaultHpSpaceOptuna, defaultHpSpaceRay, defaultHpSpaceWandb } from '../../src/search/spaces/hf-defaults.js';

/** Runs n random trials of an hpSpace and returns what the objective received. */
async function draw(hpSpace: (t: never) => Record<string, SpaceValue>, n: number, seed = 1): Promise<Array<Record<string, SpaceValue>>> {
  const study = createStudy({ sampler: new RandomSampler({ seed }) });
  const seen: Array<Record<string, SpaceValue>> = [];
  await study.optimize((t) => {
    seen.push((hpSpace as (t: unknown) => Record<string, SpaceValue>)(t));
    return 0;
  }, { nTrials: n });
  return seen;
}

const isMultiple = (v: number, q: number): boolean => Math.abs(v / q - Math.round(v / q)) < 1e-9;
const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];

describe('special functions', () => {
  it('lnΓ, the Beta CDF and its inverse against closed forms', () => {
    expect(lnGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(lnGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
    // Beta(2, 2): CDF 3x² − 2x³. Beta(1, 3): CDF 1 − (1 − x)³.
    for (const x of [0.1, 0.25, 0.7]) {
      expect(betaCdf(x, 2, 2)).toBeCloseTo(3 * x * x - 2 * x ** 3, 12);
      expect(betaCdf(x, 1, 3)).toBeCloseTo(1 - (1 - x) ** 3, 12);
    }
    expect(betaPpf(0.15625, 2, 2)).toBeCloseTo(0.25, 10);
    expect(normalPpf(0.975, 1, 2)).toBeCloseTo(1 + 2 * 1.959963984540054, 10);
  });
});

describe('Ray Tune dialect', () => {
  const config: RayConfig = {
    u: tune.uniform(-1, 1),
    lu: tune.loguniform(1e-5, 1e-1),
    qu: tune.quniform(0, 1, 0.25),
    qlu: tune.qloguniform(1, 1000, 5),
    ri: tune.randint(0, 3),
    qri: tune.qrandint(-21, 12, 3),
    lri: tune.lograndint(1, 10),
    qlri: tune.qlograndint(1, 100, 10),
    rn: tune.randn(5, 2),
    qrn: tune.qrandn(0, 10, 2),
    c: tune.choice(['a', 'b', 'c']),
    k: 42,
  };
  it('every domain respects its bounds, log scale and quantisation (Ray semantics)', async () => {
    const s = raySpace(config);
    const xs = await draw(s.hpSpace, 400);
    const col = (k: string): number[] => xs.map((x) => x[k] as number);
    expect(col('u').every((v) => v >= -1 && v <= 1)).toBe(true);
    expect(col('lu').every((v) => v >= 1e-5 && v <= 1e-1)).toBe(true);
    expect(col('lu').filter((v) => v < 1e-3).length / 400).toBeCloseTo(0.5, 1); // log-uniform: half below the geometric middle
    expect(new Set(col('qu'))).toEqual(new Set([0, 0.25, 0.5, 0.75, 1]));
    expect(col('qlu').every((v) => isMultiple(v, 5) && v >= 5 && v <= 1000)).toBe(true);
    expect(new Set(col('ri'))).toEqual(new Set([0, 1, 2])); // upper bound 3 excluded
    expect(new Set(col('qri'))).toEqual(new Set([-21, -18, -15, -12, -9, -6, -3, 0, 3, 6, 9, 12])); // 12 included
    expect(col('lri').every((v) => Number.isInteger(v) && v >= 1 && v <= 9)).toBe(true);
    expect(col('qlri').every((v) => isMultiple(v, 10) && v >= 10 && v <= 100)).toBe(true);
    expect(Math.abs(med(col('rn')) - 5)).toBeLessThan(0.4);
    expect(col('qrn').every((v) => isMultiple(v, 2))).toBe(true);
    expect(new Set(xs.map((x) => x.c))).toEqual(new Set(['a', 'b', 'c']));
    expect(xs.every((x) => x.k === 42)).toBe(true);
  });

  it('grid_search crosses its axes (once per sample) with the others sampled', async () => {
    const s = raySpace({ lr: tune.grid_search([0.1, 0.01]), bs: tune.grid_search([16, 32]), wd: tune.uniform(0, 0.1) });
    const sampler = s.sampler({ seed: 0, fallback: new RandomSampler({ seed: 0 }) });
    expect(sampler).toBeInstanceOf(RayGridSampler);
    const study = createStudy({ sampler });
    const seen: Array<Record<string, SpaceValue>> = [];
    await study.optimize((t) => {
      seen.push(s.hpSpace(t));
      return 0;
    }, { nTrials: s.trialCount(1) });
    expect(s.trialCount(1)).toBe(4);
    expect(seen.map((x) => `${x.lr}/${x.bs}`).sort()).toEqual(['0.01/16', '0.01/32', '0.1/16', '0.1/32']);
    expect(seen.every((x) => (x.wd as number) >= 0 && (x.wd as number) <= 0.1)).toBe(true);
    expect(raySpace({ x: tune.uniform(0, 1) }).sampler({ seed: 1 })).toBeInstanceOf(TPESampler);
  });

  it('errors name the parameter', () => {
    expect(() => raySpace({ lr: tune.loguniform(0, 1) })).toThrow('lr: low (0) must be > 0 for a log scale');
    expect(() => raySpace({ q: tune.quniform(0.1, 0.2, 1) })).toThrow('q: no multiple of q (1) lies in [0.1, 0.2]');
    expect(() => raySpace({ n: { nested: [1, 2] } as never })).toThrow('n/nested: unsupported Ray Tune config value ([1,2])');
    expect(() => raySpace({ g: tune.grid_search([]) })).toThrow('g: grid_search values ([]) must be a non-empty array');
  });
});

describe('W&B sweep dialect', () => {
  const params: Record<string, WandbParam> = {
    const: { value: 'x' },
    cat: { values: [1, 2, 3] },
    wcat: { values: ['a', 'b'], probabilities: [0.9, 0.1] },
    iu: { distribution: 'int_uniform', min: 1, max: 6 },
    inferredInt: { min: 2, max: 4 },
    u: { distribution: 'uniform', min: 0, max: 2 },
    qu: { distribution: 'q_uniform', min: 0, max: 1, q: 0.2 },
    luv: { distribution: 'log_uniform_values', min: 1e-4, max: 1e-1 },
    qluv: { distribution: 'q_log_uniform_values', min: 1, max: 256, q: 4 },
    iluv: { distribution: 'inv_log_uniform_values', min: 0.01, max: 1 },
    n: { distribution: 'normal', mu: 10, sigma: 2 },
    qn: { distribution: 'q_normal', mu: 0, sigma: 5, q: 0.5 },
    ln: { distribution: 'log_normal', mu: 0, sigma: 1 },
    qln: { distribution: 'q_log_normal', mu: 2, sigma: 0.5, q: 1 },
    b: { distribution: 'beta', a: 2, b: 5 },
    qb: { distribution: 'q_beta', a: 2, b: 2, q: 0.1 },
    lu: { distribution: 'log_uniform', min: -3, max: 0 },
    qlu: { distribution: 'q_log_uniform', min: 0, max: 5, q: 2 },
    ilu: { distribution: 'inv_log_uniform', min: 0, max: 3 },
  };

  it('every W&B distribution respects bounds, log, q and shape', async () => {
    const sweep = wandbSweep({ method: 'random', metric: { name: 'acc', goal: 'maximize' }, parameters: params });
    expect(sweep.direction).toBe('maximize');
    expect(sweep.metricName).toBe('acc');
    const xs = await draw(sweep.hpSpace, 600);
    const col = (k: string): number[] => xs.map((x) => x[k] as number);
    expect(xs.every((x) => x.const === 'x')).toBe(true);
    expect(new Set(col('cat'))).toEqual(new Set([1, 2, 3]));
    expect(xs.filter((x) => x.wcat === 'a').length / 600).toBeCloseTo(0.9, 1);
    expect(new Set(col('iu'))).toEqual(new Set([1, 2, 3, 4, 5, 6])); // max inclusive
    expect(new Set(col('inferredInt'))).toEqual(new Set([2, 3, 4]));
    expect(col('u').every((v) => v >= 0 && v <= 2)).toBe(true);
    expect(col('qu').every((v) => isMultiple(v, 0.2) && v >= 0 && v <= 1)).toBe(true);
    expect(col('luv').every((v) => v >= 1e-4 && v <= 1e-1)).toBe(true);
    expect(col('luv').filter((v) => v < 1e-3).length / 600).toBeCloseTo(1 / 3, 1); // one decade of three
    expect(col('qluv').every((v) => isMultiple(v, 4) && v >= 0 && v <= 256)).toBe(true);
    expect(col('iluv').every((v) => v >= 0.01 && v <= 1)).toBe(true);
    expect(col('iluv').filter((v) => v < 0.1).length / 600).toBeCloseTo(0.5, 1);
    expect(Math.abs(med(col('n')) - 10)).toBeLessThan(0.4);
    expect(col('qn').every((v) => isMultiple(v, 0.5))).toBe(true);
    expect(col('ln').every((v) => v > 0)).toBe(true);
    expect(Math.abs(med(col('ln')) - 1)).toBeLessThan(0.2); // median of lognormal(0, 1) is e⁰
    expect(col('qln').every((v) => Number.isInteger(v))).toBe(true);
    expect(col('b').every((v) => v > 0 && v < 1)).toBe(true);
    expect(Math.abs(col('b').reduce((a, v) => a + v, 0) / 600 - 2 / 7)).toBeLessThan(0.03); // Beta mean a/(a+b)
    expect(col('qb').every((v) => isMultiple(v, 0.1) && v >= 0 && v <= 1)).toBe(true);
    expect(col('lu').every((v) => v >= Math.exp(-3) && v <= 1)).toBe(true); // bounds are ln exponents
    expect(col('qlu').every((v) => isMultiple(v, 2) && v <= Math.exp(5) + 1)).toBe(true);
    expect(col('ilu').every((v) => v >= Math.exp(-3) && v <= 1)).toBe(true);
    // Values that differ from the stored param are recorded on the trial.
  });

  it('records the value the objective received for mapped / quantile params', async () => {
    const sweep = wandbSweep({ method: 'bayes', parameters: { n: { distribution: 'normal', mu: 0, sigma: 1 } } });
    const study = createStudy({ sampler: sweep.sampler({ seed: 1 }) });
    let got = 0;
    await study.optimize((t) => {
      got = sweep.hpSpace(t).n as number;
      return got;
    }, { nTrials: 1 });
    expect(study.trials[0].userAttrs.param_n).toBe(got);
    expect(Object.keys(study.trials[0].params)).toEqual(['n__quantile']);
  });

  it('methods map to samplers: grid covers the product once, random, bayes → TPE', async () => {
    const grid = wandbSweep({ method: 'grid', parameters: { a: { values: [1, 2] }, e: { distribution: 'int_uniform', min: 1, max: 3 }, c: { value: 'k' } } });
    const study = createStudy({ sampler: grid.sampler({ seed: 0 }) });
    const seen: string[] = [];
    await study.optimize((t) => {
      const p = grid.hpSpace(t);
      seen.push(`${p.a}${p.e}${p.c}`);
      return 0;
    }, { nTrials: 100 });
    expect(seen.sort()).toEqual(['11k', '12k', '13k', '21k', '22k', '23k']);
    expect(grid.sampler()).toBeInstanceOf(GridSampler);
    expect(wandbSweep({ method: 'random', parameters: { a: { values: [1] } } }).sampler()).toBeInstanceOf(RandomSampler);
    expect(wandbSweep({ method: 'bayes', parameters: { a: { values: [1] } } }).sampler()).toBeInstanceOf(TPESampler);
    expect(() => wandbSweep({ method: 'grid', parameters: { u: { distribution: 'uniform', min: 0, max: 1 } } })).toThrow('u: grid search needs value, values, int_uniform or q_uniform (got uniform)');
    expect(() => wandbSweep({ method: 'random', parameters: { z: { distribution: 'zipf' } } })).toThrow('z: unknown W&B distribution ("zipf")');
    expect(() => wandbSweep({ method: 'random', parameters: { b: { distribution: 'beta', a: -2 } } })).toThrow('b: beta needs a (-2) > 0 and b (undefined) > 0');
  });

  it('early_terminate hyperband → WandbHyperbandPruner with W&B\'s bands', () => {
    // min_iter 3, eta 3: bands int(3·3^i) = 3, 9, 27, … (wandb/sweeps test_hyperband_min_iter_bands).
    const p = wandbHyperbandPruner({ type: 'hyperband', min_iter: 3 });
    expect(p).toBeInstanceOf(WandbHyperbandPruner);
    expect([p.bands.slice(0, 3), p.eta, p.strict]).toEqual([[3, 9, 27], 3, true]);
    // max_iter 27, s 2, eta 3: 27/3 = 9, 9/3 = 3 → sorted [3, 9].
    expect(wandbHyperbandPruner({ type: 'hyperband', max_iter: 27, s: 2, eta: 3 }).bands).toEqual([3, 9]);
    // The valid {max_iter: 10, s: 2, eta: 3}: 10/3 = 3.33 → 3, 3.33/3 = 1.11 → 1 → [1, 3].
    expect(wandbHyperbandPruner({ type: 'hyperband', max_iter: 10, s: 2, eta: 3 }).bands).toEqual([1, 3]);
    expect(() => wandbHyperbandPruner({ type: 'hyperband', max_iter: 10 })).toThrow('early_terminate hyperband needs min_iter, or max_iter and s');
  });
});

describe('Hugging Face defaults', () => {
  it('default_hp_space_optuna / _ray / _wandb spaces', async () => {
    const xs = await draw(defaultHpSpaceOptuna, 200);
    expect(xs.every((x) => (x.learning_rate as number) >= 1e-6 && (x.learning_rate as number) <= 1e-4)).toBe(true);
    expect(new Set(xs.map((x) => x.num_train_epochs))).toEqual(new Set([1, 2, 3, 4, 5]));
    expect(xs.every((x) => Number.isInteger(x.seed) && (x.seed as number) >= 1 && (x.seed as number) <= 40)).toBe(true);
    expect(new Set(xs.map((x) => x.per_device_train_batch_size))).toEqual(new Set([4, 8, 16, 32, 64]));
    const ray = await draw(raySpace(defaultHpSpaceRay()).hpSpace, 100);
    expect(ray.every((x) => (x.seed as number) >= 1 && (x.seed as number) <= 40)).toBe(true);
    const wb = defaultHpSpaceWandb();
    expect(wb.metric).toEqual({ name: 'objective', goal: 'minimize' });
    const wandb = await draw(wandbSweep(wb).hpSpace, 200);
    expect(new Set(wandb.map((x) => x.num_train_epochs))).toEqual(new Set([1, 2, 3, 4, 5, 6]));
  });

  it('default_compute_objective', () => {
    expect(defaultComputeObjective({ eval_loss: 0.5, epoch: 3, eval_runtime: 12, eval_samples_per_second: 100 })).toBe(0.5);
    expect(defaultComputeObjective({ eval_loss: 0.5, eval_accuracy: 0.8, eval_f1: 0.7, epoch: 1, eval_steps_per_second: 3 })).toBeCloseTo(1.5, 12);
    expect(defaultComputeObjective({ eval_loss: 0.5, eval_compilation_time: 2 })).toBe(2);
    expect(defaultComputeObjective({ eval_loss: 0.5, eval_compilation_time: 2 }, { dropCompilationTime: true })).toBe(0.5);
    expect(() => defaultComputeObjective({ epoch: 1 })).toThrow('need eval_loss or another metric');
  });
});
