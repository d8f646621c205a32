/** Benchmark functions at their published minimisers (Surjanovic & Bingham), and the report's shape. */
import { describe, expect, it } from 'vitest';
import { ackley5, branin, hartmann6, rosenbrock4, styblinskiTang8 } from '../../bench/functions.js';
import { benchSamplers, formatReport } from '../../bench/samplers.js';

describe('test functions hit their published optima', () => {
  it.each([
    [branin, [-Math.PI, 12.275]],
    [branin, [Math.PI, 2.275]],
    [branin, [9.42478, 2.475]],
    [hartmann6, [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]],
    [rosenbrock4, [1, 1, 1, 1]],
    [styblinskiTang8, new Array(8).fill(-2.903534)],
    [ackley5, [0, 0, 0, 0, 0]],
  ])('%#', (fn, x) => {
    expect(fn.f(x)).toBeCloseTo(fn.optimum, 4);
    // And the optimum is a lower bound on a few random points.
    for (let i = 0; i < 50; i++) expect(fn.f(fn.bounds.map(([lo, hi], j) => lo + ((hi - lo) * ((i * 7919 + j * 104729) % 1000)) / 1000))).toBeGreaterThanOrEqual(fn.optimum - 1e-4);
  });
});

it('benchSamplers returns a JSON-able report with random normalised to 1', async () => {
  const r = await benchSamplers({ quick: true, seeds: 1, silent: true });
  expect(r.budgets).toEqual([25, 50]);
  expect(r.results).toHaveLength(5 * 3 * 2);
  for (const x of r.results.filter((x) => x.sampler === 'Random')) {
    expect(x.normalisedScore).toBe(1);
    expect(x.bayesmarkScore).toBe(0);
  }
  expect(JSON.parse(JSON.stringify(r)).results[0]).toHaveProperty('medianBest');
  expect(formatReport(r).split('\n')).toHaveLength(2 + 15 + 1);
});
