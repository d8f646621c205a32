/** Random, Grid, QMC (Sobol') and NSGA-II samplers against independent references. */
import { describe, expect, it } from 'vitest';
import { CategoricalDistribution, FloatDistribution, IntDistribution } from '../../src/search/distributions.js';
import { crowdingDistance, nonDominatedSort } from '../../src/search/multi-objective.js';
import { Rng } from '../../src/search/rng.js';
import { GridSampler } from '../../src/search/samplers/grid.js';
import { NSGAIISampler } from '../../src/search/samplers/nsga2.js';
import { QMCSampler } from '../../src/search/samplers/qmc.js';
import { RandomSampler, sampleUniform } from '../../src/search/samplers/random.js';
import { Sobol } from '../../src/search/samplers/sobol.js';
import { createStudy } from '../../src/search/study.js';

describe('RandomSampler', () => {
  it('respects bounds, log scale, steps and choices', () => {
    const rng = new Rng(1);
    const n = 4000;
    const logs = Array.from({ length: n }, () => sampleUniform(rng, new FloatDistribution(1e-4, 1, { log: true })) as number);
    expect(logs.every((v) => v >= 1e-4 && v <= 1)).toBe(true);
    // Log-uniform: a quarter of the mass in each decade.
    expect(logs.filter((v) => v < 1e-3).length / n).toBeCloseTo(0.25, 1);
    const stepped = Array.from({ length: n }, () => sampleUniform(rng, new FloatDistribution(0, 1, { step: 0.25 })) as number);
    const counts = [0, 0.25, 0.5, 0.75, 1].map((g) => stepped.filter((v) => v === g).length / n);
    expect(counts.every((c) => Math.abs(c - 0.2) < 0.03)).toBe(true); // uniform over the 5 grid points, endpoints included
    const ints = Array.from({ length: n }, () => sampleUniform(rng, new IntDistribution(2, 10, { step: 4 })) as number);
    expect(new Set(ints)).toEqual(new Set([2, 6, 10]));
    const logInts = Array.from({ length: n }, () => sampleUniform(rng, new IntDistribution(1, 8, { log: true })) as number);
    expect(new Set(logInts)).toEqual(new Set([1, 2, 3, 4, 5, 6, 7, 8]));
    const cats = Array.from({ length: n }, () => sampleUniform(rng, new CategoricalDistribution(['a', 'b', null])));
    expect(new Set(cats)).toEqual(new Set(['a', 'b', null]));
  });

  it('same seed → same sequence', async () => {
    const run = async (seed: number): Promise<unknown[]> => {
      const s = createStudy({ sampler: new RandomSampler({ seed }) });
      await s.optimize((t) => t.suggestFloat('x', 0, 1) + t.suggestInt('n', 0, 9), { nTrials: 5 });
      return s.trials.map((t) => t.params);
    };
    expect(await run(3)).toEqual(await run(3));
    expect(await run(3)).not.toEqual(await run(4));
  });
});

describe('GridSampler', () => {
  it('runs each grid point exactly once, then stops the study', async () => {
    const s = createStudy({ sampler: new GridSampler({ x: [1, 2, 3], opt: ['a', 'b'] }, { seed: 0 }) });
    await s.optimize((t) => t.suggestInt('x', 1, 3) + (t.suggestCategorical('opt', ['a', 'b']) === 'a' ? 0 : 10), { nTrials: 100 });
    expect(s.trials).toHaveLength(6);
    const seen = s.trials.map((t) => `${t.params.x}${t.params.opt}`).sort();
    expect(seen).toEqual(['1a', '1b', '2a', '2b', '3a', '3b']);
  });

  it('re-runs a failed point; a parameter not in the grid is an error naming it', async () => {
    const s = createStudy({ sampler: new GridSampler({ x: [1, 2] }, { seed: 0 }) });
    let first = true;
    await s.optimize((t) => {
      const x = t.suggestInt('x', 1, 2);
      if (first) {
        first = false;
        throw new Error('flaky');
      }
      return x;
    }, { nTrials: 10 });
    // As Optuna: a failed grid point counts as visited and is not run again.
    expect(s.trials.map((t) => t.state)).toEqual(['FAIL', 'COMPLETE']);
    expect(new Set(s.trials.map((t) => t.params.x))).toEqual(new Set([1, 2]));
    const bad = createStudy({ sampler: new GridSampler({ x: [1] }) });
    expect(() => bad.ask().suggestFloat('y', 0, 1)).toThrow('y: not in the grid (grid parameters: x)');
    const out = createStudy({ sampler: new GridSampler({ x: [5] }) });
    expect(() => out.ask().suggestInt('x', 0, 3)).toThrow('x: grid value (5) is outside the suggested distribution');
  });
});

describe('Sobol', () => {
  it('unscrambled: first 8 points in 3 dims match the published sequence (Joe & Kuo; SciPy scramble=False)', () => {
    const s = new Sobol(3, { scramble: false });
    const published = [
      [0, 0, 0],
      [0.5, 0.5, 0.5],
      [0.75, 0.25, 0.25],
      [0.25, 0.75, 0.75],
      [0.375, 0.375, 0.625],
      [0.875, 0.875, 0.125],
      [0.625, 0.125, 0.875],
      [0.125, 0.625, 0.375],
    ];
    expect(published.map((_, i) => s.point(i))).toEqual(published);
  });

  it('every dimension of the first 2^m points is a permutation of the 2^m strata (also scrambled)', () => {
    for (const scramble of [false, true]) {
      const s = new Sobol(21, { scramble, seed: 5 });
      const pts = Array.from({ length: 64 }, (_, i) => s.point(i));
      for (let j = 0; j < 21; j++) expect(new Set(pts.map((p) => Math.floor(p[j] * 64))).size).toBe(64);
      // Dims 1–2 form a (0, m, 2)-net: one point in every 8×8 box.
      expect(new Set(pts.map((p) => `${Math.floor(p[0] * 8)},${Math.floor(p[1] * 8)}`)).size).toBe(64);
    }
    expect(() => new Sobol(22)).toThrow('Sobol dim (22) must be an integer in 1..21');
  });

  it('scrambled QMC integrates a smooth 5-d function far better than random points', () => {
    // Sobol's g-function: ∏ (|4x_i − 2| + a_i) / (1 + a_i) has integral exactly 1 over [0, 1]^5.
    const g = (x: number[]): number => x.reduce((acc, xi, i) => (acc * (Math.abs(4 * xi - 2) + i)) / (1 + i), 1);
    const n = 512;
    let qmcErr = 0;
    let mcErr = 0;
    for (let seed = 0; seed < 8; seed++) {
      const s = new Sobol(5, { seed });
      const rng = new Rng(seed);
      let q = 0;
      let m = 0;
      for (let i = 0; i < n; i++) {
        q += g(s.point(i));
        m += g(Array.from({ length: 5 }, () => rng.random()));
      }
      qmcErr += Math.abs(q / n - 1);
      mcErr += Math.abs(m / n - 1);
    }
    expect(qmcErr).toBeLessThan(mcErr / 4);
  });

  it('QMCSampler: after the first trial, points follow the scrambled sequence, seeded and in bounds', async () => {
    const run = async (seed: number): Promise<Array<Record<string, unknown>>> => {
      const s = createStudy({ sampler: new QMCSampler({ seed }) });
      await s.optimize((t) => t.suggestFloat('x', -1, 1) + t.suggestInt('k', 1, 100, { log: true }) + (t.suggestCategorical('c', ['u', 'v']) === 'u' ? 1 : 0), { nTrials: 17 });
      return s.trials.map((t) => t.params);
    };
    const a = await run(1);
    expect(a).toEqual(await run(1));
    expect(a.every((p) => (p.x as number) >= -1 && (p.x as number) <= 1 && Number.isInteger(p.k))).toBe(true);
    // Trials 1..16 are the first 16 Sobol' points: x (a 1-d projection) puts one point in each sixteenth of [−1, 1].
    // (Dimensions are ordered c's two one-hot columns, then k, then x, by sorted name.)
    expect(new Set(a.slice(1).map((p) => Math.floor((((p.x as number) + 1) / 2) * 16))).size).toBe(16);
  });
});

describe('multi-objective helpers and NSGA-II', () => {
  it('non-dominated sort and crowding distance on a hand example', () => {
    const pts = [[1, 5], [2, 3], [3, 1], [2, 5], [4, 4], [5, 5]];
    // Front 0: (1,5) (2,3) (3,1). (2,5) is dominated by (1,5) and (2,3); (4,4) by (2,3) and (3,1) → front 1. (5,5) → front 2.
    expect(nonDominatedSort(pts)).toEqual([[0, 1, 2], [3, 4], [5]]);
    // Crowding of front 0: the ends are ∞; the middle (2,3): (3−1)/(3−1) + (5−1)/(5−1) = 2.
    expect(crowdingDistance([[1, 5], [2, 3], [3, 1]])).toEqual([Infinity, 2, Infinity]);
  });

  // Pareto set of (x² + y², (x−2)² + y²) is y = 0, x ∈ [0, 2]. Distance of a point to it: |y| + how far x is
  // outside [0, 2]. Compare the median distance of trials 100..199 with random search's (same budget).
  const distance = (t: { params: Record<string, unknown> }): number => {
    const x = t.params.x as number;
    return Math.abs(t.params.y as number) + Math.max(0, -x, x - 2);
  };
  const medianLateDistance = async (sampler: NSGAIISampler | RandomSampler): Promise<number> => {
    const s = createStudy({ directions: ['minimize', 'minimize'], sampler });
    await s.optimize((t) => {
      const x = t.suggestFloat('x', -10, 10);
      const y = t.suggestFloat('y', -10, 10);
      return [x * x + y * y, (x - 2) ** 2 + y * y];
    }, { nTrials: 200 });
    return s.trials.slice(100).map(distance).sort((a, b) => a - b)[50];
  };

  it('converges towards the Pareto set of a 2-objective toy problem (uniform crossover, low mutation)', async () => {
    const random = await medianLateDistance(new RandomSampler({ seed: 2 }));
    expect(await medianLateDistance(new NSGAIISampler({ seed: 2, populationSize: 20, mutationProb: 0.1 }))).toBeLessThan(0.3 * random);
  });

  it('SBX crossover with the default mutation (each param resampled with prob 1/#params, as Optuna) also improves', async () => {
    const random = await medianLateDistance(new RandomSampler({ seed: 3 }));
    expect(await medianLateDistance(new NSGAIISampler({ seed: 3, populationSize: 20, crossover: 'sbx' }))).toBeLessThan(0.7 * random);
  });
});
