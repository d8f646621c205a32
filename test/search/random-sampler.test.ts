/**
 * RandomSampler and GridSampler against real Optuna 3.1.0 (Debian's python3-optuna, NumPy 1.24.2): the expected
 * values below were printed by Optuna for the same seeds and the same sequence of suggestions, not by this code.
 * Plus statistical checks of the seeding: the first draw over 2,000 seeds is uniform (χ²), and the values drawn
 * for different parameters are uncorrelated.
 */
import { describe, expect, it } from 'vitest';
import { GridSampler } from '../../src/search/samplers/grid.js';
import { RandomSampler } from '../../src/search/samplers/random.js';
import { TPESampler } from '../../src/search/samplers/tpe/sampler.js';
import { InMemoryStorage } from '../../src/search/storage/index.js';
import { createStudy } from '../../src/search/study.js';
import type { Trial } from '../../src/search/trial.js';

function mixedSpace(t: Trial): number {
  t.suggestFloat('lr', 1e-5, 1e-1, { log: true });
  t.suggestFloat('x', -3.0, 2.0);
  t.suggestFloat('wd', 0.0, 0.3, { step: 0.05 });
  t.suggestInt('n', 1, 10);
  t.suggestInt('bs', 8, 64, { step: 8 });
  t.suggestInt('h', 16, 512, { log: true });
  t.suggestCategorical('opt', ['adam', 'sgd', null, 3]);
  return 0;
}

// Optuna 3.1.0:
//   s = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)); s.optimize(obj, n_trials=3)
//   [t.params for t in s.trials]   (obj suggests exactly as mixedSpace above)
const OPTUNA_RANDOM: Record<number, Array<Record<string, unknown>>> = {
  0: [
    { lr: 0.0015676677195506068, x: 0.5759468318620975, wd: 0.2, n: 6, bs: 32, h: 148, opt: null },
    { lr: 0.014685885989200861, x: -0.3555254012354778, wd: 0.15000000000000002, n: 10, bs: 8, h: 21, opt: 3 },
    { lr: 0.0821246192225687, x: 0.9957928210836178, wd: 0.15000000000000002, n: 8, bs: 8, h: 145, opt: 'sgd' },
  ],
  1: [
    { lr: 0.00046568046379195655, x: 0.6016224672107904, wd: 0.0, n: 4, bs: 16, h: 21, opt: 3 },
    { lr: 0.00047509237210306113, x: 0.4260975019837976, wd: 0.05, n: 9, bs: 8, h: 162, opt: 'sgd' },
    { lr: 0.015957993164212966, x: 1.8413078785969876, wd: 0.1, n: 7, bs: 64, h: 354, opt: 3 },
  ],
  42: [
    { lr: 0.00031489116479568613, x: 1.7535715320495804, wd: 0.25, n: 6, bs: 16, h: 27, opt: 'sgd' },
    { lr: 1.2087541473056957e-5, x: 1.8495492608099715, wd: 0.25, n: 3, bs: 16, h: 29, opt: 'sgd' },
    { lr: 0.0028016351587162596, x: -2.3025306967397907, wd: 0.1, n: 4, bs: 32, h: 242, opt: null },
  ],
};

/**
 * Equal values, except that a log-scaled float may differ in its last bit: V8's Math.exp is not glibc's exp
 * (e.g. exp(-6.458166293062679) is 0.0015676677195506066 in V8, ...068 in CPython), so allow 1e-15 relative.
 */
function expectSameParams(actual: Array<Record<string, unknown>>, expected: Array<Record<string, unknown>>): void {
  expect(actual.map((p) => Object.keys(p).sort())).toEqual(expected.map((p) => Object.keys(p).sort()));
  actual.forEach((p, i) => {
    for (const [k, v] of Object.entries(expected[i])) {
      if (k === 'lr') expect(Math.abs((p[k] as number) - (v as number))).toBeLessThanOrEqual(1e-15 * Math.abs(v as number));
      else expect([k, p[k]]).toEqual([k, v]);
    }
  });
}

describe('RandomSampler matches Optuna 3.1 draw for draw', () => {
  for (const seed of [0, 1, 42]) {
    it(`seed ${seed}: log/step/plain floats, step/log ints and a categorical`, async () => {
      const study = createStudy({ sampler: new RandomSampler({ seed }) });
      await study.optimize(mixedSpace, { nTrials: 3 });
      expectSameParams(study.trials.map((t) => t.params), OPTUNA_RANDOM[seed]);
    });
  }

  it("TPESampler's startup trials are Optuna's (its RandomSampler shares the seed)", async () => {
    // Optuna 3.1.0: TPESampler(seed=7), objective x = suggest_float("x", -5, 5), 4 trials → params["x"]
    const study = createStudy({ sampler: new TPESampler({ seed: 7 }) });
    await study.optimize((t) => t.suggestFloat('x', -5, 5) ** 2, { nTrials: 4 });
    expect(study.trials.map((t) => t.params.x)).toEqual([-4.236917106260428, 2.7991879224011464, -0.6159076855910648, 2.234651778309412]);
  });
});

describe('GridSampler picks points as Optuna 3.1 does', () => {
  it('order of a 3×2 grid under seed 0, and of an 8-point grid under seeds 1, 2, 3', async () => {
    // Optuna 3.1.0: GridSampler({"x": [1, 2, 3], "opt": ["a", "b"]}, seed=0), trials' params in order
    const s = createStudy({ sampler: new GridSampler({ x: [1, 2, 3], opt: ['a', 'b'] }, { seed: 0 }) });
    await s.optimize((t) => t.suggestInt('x', 1, 3) + (t.suggestCategorical('opt', ['a', 'b']) === 'a' ? 0 : 10), { nTrials: 100 });
    expect(s.trials.map((t) => t.params)).toEqual([
      { x: 2, opt: 'b' },
      { x: 1, opt: 'a' },
      { x: 3, opt: 'b' },
      { x: 3, opt: 'a' },
      { x: 1, opt: 'b' },
      { x: 2, opt: 'a' },
    ]);
    // Optuna 3.1.0: GridSampler({"lr": [1..8]}, seed=s), suggest_int("lr", 1, 8)
    const optuna: Record<number, number[]> = { 1: [6, 4, 7, 1, 8, 3, 5, 2], 2: [1, 7, 2, 6, 5, 3, 8, 4], 3: [3, 1, 4, 7, 2, 5, 6, 8] };
    for (const seed of [1, 2, 3]) {
      const g = createStudy({ sampler: new GridSampler({ lr: [1, 2, 3, 4, 5, 6, 7, 8] }, { seed }) });
      await g.optimize((t) => t.suggestInt('lr', 1, 8), { nTrials: 100 });
      expect(g.trials.map((t) => t.params.lr)).toEqual(optuna[seed]);
    }
  });

  it('an enqueued trial takes no grid point, so every point still runs (as Optuna)', async () => {
    // Optuna 3.1.0: GridSampler({"x": [1, 2, 3]}, seed=0); enqueue_trial({"x": 2}); optimize(n_trials=100)
    // → params x: 2 (no grid_id), 1, 3, 2
    const s = createStudy({ sampler: new GridSampler({ x: [1, 2, 3] }, { seed: 0 }) });
    s.enqueueTrial({ x: 2 });
    await s.optimize((t) => t.suggestInt('x', 1, 3), { nTrials: 100 });
    expect(s.trials.map((t) => t.params.x)).toEqual([2, 1, 3, 2]);
    expect(s.trials.map((t) => t.systemAttrs.grid_id)).toEqual([undefined, 0, 2, 1]);
  });

  it('does not always start at the last grid point', async () => {
    const first = new Set<number>();
    for (let seed = 0; seed < 20; seed++) {
      const g = createStudy({ sampler: new GridSampler({ lr: [1, 2, 3, 4] }, { seed }) });
      await g.optimize((t) => t.suggestInt('lr', 1, 4), { nTrials: 1 });
      first.add(g.trials[0].params.lr as number);
    }
    expect(first).toEqual(new Set([1, 2, 3, 4]));
  });
});

/** One trial's params from a fresh RandomSampler(seed). */
function firstTrial(seed: number | undefined, storage: InMemoryStorage): Record<string, number> {
  const study = createStudy({ storage, sampler: new RandomSampler({ seed }) });
  const t = study.ask();
  return { x: t.suggestFloat('x', 0, 1), y: t.suggestFloat('y', 0, 1) };
}

function pearson(a: number[], b: number[]): number {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n;
  const mb = b.reduce((s, v) => s + v, 0) / n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

describe('seeding quality', () => {
  it("the first draw over seeds 0..1999 is uniform: χ² with 20 bins below 36.19 (df 19, α = 0.01)", () => {
    const storage = new InMemoryStorage();
    const bins = new Array<number>(20).fill(0);
    for (let seed = 0; seed < 2000; seed++) bins[Math.floor(firstTrial(seed, storage).x * 20)]++;
    const expected = 2000 / 20;
    const chi2 = bins.reduce((s, o) => s + (o - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(36.191); // χ²(19) upper 1% point, from standard tables
  });

  it('unseeded samplers put the first draw in the lower half about half the time', () => {
    const storage = new InMemoryStorage();
    let lower = 0;
    for (let i = 0; i < 400; i++) if (firstTrial(undefined, storage).x < 0.5) lower++;
    // Binomial(400, 0.5): mean 200, sd 10; ±60 is 6 sd.
    expect(Math.abs(lower - 200)).toBeLessThan(60);
  });

  it('values drawn for different parameters are uncorrelated (|r| < 4/√n)', () => {
    const storage = new InMemoryStorage();
    const n = 2000;
    const bound = 4 / Math.sqrt(n); // 4 standard errors of r under independence
    // Across seeds: trial 0's x and y.
    const firsts = Array.from({ length: n }, (_, seed) => firstTrial(seed, storage));
    expect(Math.abs(pearson(firsts.map((p) => p.x), firsts.map((p) => p.y)))).toBeLessThan(bound);
    // Across seeds: trial 0's x against the seed's neighbour (seed s vs s + 1).
    expect(Math.abs(pearson(firsts.slice(0, -1).map((p) => p.x), firsts.slice(1).map((p) => p.x)))).toBeLessThan(bound);
    // Within one stream: successive trials' x and y.
    const study = createStudy({ storage, sampler: new RandomSampler({ seed: 123 }) });
    const xs: number[] = [];
    const ys: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = study.ask();
      xs.push(t.suggestFloat('x', 0, 1));
      ys.push(t.suggestFloat('y', 0, 1));
      study.tell(t, 0);
    }
    expect(Math.abs(pearson(xs, ys))).toBeLessThan(bound);
  });
});
