/**
 * Benchmark problems at their published minimisers (Surjanovic & Bingham), the Optuna helper's copies of them
 * (same values at the same points, where /usr/bin/python3 has Optuna), and the report's shape.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  ackley5,
  BENCH_PROBLEMS,
  branin,
  griewank8,
  hartmann6,
  hpoMlp,
  levy7,
  rastrigin6,
  rosenbrock4,
  sixHumpCamel,
  sphere10,
  styblinskiTang8,
  type SuggestApi,
} from '../../bench/functions.js';
import { benchSamplers, callOptunaPeer, formatReport, optunaPython } from '../../bench/samplers.js';
import { Rng } from '../../src/search/rng.js';

describe('test functions hit their published optima', () => {
  it.each([
    [branin, [-Math.PI, 12.275]],
    [branin, [Math.PI, 2.275]],
    [branin, [9.42478, 2.475]],
    [sixHumpCamel, [0.0898420131, -0.712656403]],
    [sixHumpCamel, [-0.0898420131, 0.712656403]],
    [hartmann6, [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]],
    [rosenbrock4, [1, 1, 1, 1]],
    [ackley5, [0, 0, 0, 0, 0]],
    [rastrigin6, new Array(6).fill(0)],
    [levy7, new Array(7).fill(1)],
    [styblinskiTang8, new Array(8).fill(-2.903534)],
    [griewank8, new Array(8).fill(0)],
    [sphere10, new Array(10).fill(0)],
  ])('%#', (fn, x) => {
    expect(fn.f(x)).toBeCloseTo(fn.optimum, 4);
    // And the optimum is a lower bound on a few spread points.
    for (let i = 0; i < 50; i++) expect(fn.f(fn.bounds.map(([lo, hi], j) => lo + ((hi - lo) * ((i * 7919 + j * 104729) % 1000)) / 1000))).toBeGreaterThanOrEqual(fn.optimum - 1e-4);
  });
});

/** A fixed assignment of parameters (Optuna's FixedTrial). */
function fixed(params: Record<string, string | number>): SuggestApi {
  const get = (name: string): never => {
    if (!(name in params)) throw new Error(`no value for ${name}`);
    return params[name] as never;
  };
  return { suggestFloat: get, suggestInt: get, suggestCategorical: get };
}

/** Random valid HPO-MLP assignments (momentum only with sgd), plus the optimum. */
function hpoPoints(n: number): Array<Record<string, string | number>> {
  const rng = new Rng(11);
  const pts: Array<Record<string, string | number>> = [{ optimizer: 'adamw', lr: 3e-3, batch_size: 32, layers: 3, hidden: 256, dropout: 0.1, weight_decay: 1e-4 }];
  for (let i = 0; i < n; i++) {
    const optimizer = ['sgd', 'adam', 'adamw'][rng.int(0, 2)];
    pts.push({
      optimizer,
      lr: Math.exp(rng.uniform(Math.log(1e-5), 0)),
      ...(optimizer === 'sgd' ? { momentum: rng.uniform(0, 0.99) } : {}),
      batch_size: [16, 32, 64, 128, 256][rng.int(0, 4)],
      layers: rng.int(1, 8),
      hidden: rng.int(16, 1024),
      dropout: 0.05 * rng.int(0, 10),
      weight_decay: Math.exp(rng.uniform(Math.log(1e-6), Math.log(0.1))),
    });
  }
  return pts;
}

describe('the mixed HPO-like problem', () => {
  it('is 0.25 at its stated optimum and above it elsewhere', () => {
    const [opt, ...rest] = hpoPoints(200);
    expect(hpoMlp.objective(fixed(opt))).toBeCloseTo(0.25, 12);
    for (const p of rest) expect(hpoMlp.objective(fixed(p))).toBeGreaterThan(0.25);
    // The conditional parameter is asked for only with sgd.
    expect(() => hpoMlp.objective(fixed({ ...opt, optimizer: 'sgd' }))).toThrow('momentum');
  });
});

it('benchSamplers returns JSON-able rows for every problem, sampler and budget (webtrainer only)', async () => {
  const r = await benchSamplers({ seeds: 1, budgets: [11, 13], silent: true, optuna: false });
  expect(r.budgets).toEqual([11, 13]);
  expect(r.results).toHaveLength(BENCH_PROBLEMS.length * 4 * 2);
  expect(new Set(r.results.map((x) => x.function)).size).toBeGreaterThanOrEqual(10);
  expect(new Set(r.results.map((x) => x.dim))).toEqual(new Set([2, 4, 5, 6, 7, 8, 10]));
  for (const x of r.results) {
    expect(Object.keys(x).sort()).toEqual(['bayesmarkScore', 'dim', 'function', 'gapToOptimum', 'impl', 'medianBest', 'normalisedScore', 'sampler', 'trials']);
    expect(x.impl).toBe('webtrainer');
    expect(x.gapToOptimum).toBeGreaterThanOrEqual(-1e-4);
    if (x.sampler === 'Random') expect([x.normalisedScore, x.bayesmarkScore]).toEqual([1, 0]);
  }
  expect(r.optuna).toMatchObject({ available: false, note: 'Optuna column not requested' });
  expect(JSON.parse(JSON.stringify(r)).results[0]).toHaveProperty('medianBest');
  const lines = formatReport(r).trimEnd().split('\n');
  expect(lines).toHaveLength(2 + 1 + BENCH_PROBLEMS.length * 4 + 1);
  expect(lines[2]).toContain('optuna gap@13');
});

it('without Python the Optuna column is skipped with a clear note', async () => {
  const before = process.env.WEBTRAINER_BENCH_PYTHON;
  process.env.WEBTRAINER_BENCH_PYTHON = '/nonexistent/python3';
  try {
    const r = await benchSamplers({ seeds: 1, budgets: [3], silent: true, problems: ['Branin'], samplers: ['Random'] });
    expect(r.optuna.available).toBe(false);
    expect(r.optuna.note).toBe('Optuna column skipped: /nonexistent/python3 not found');
    expect(r.results.every((x) => x.impl === 'webtrainer')).toBe(true);
    expect(formatReport(r)).toContain('Optuna column skipped');
  } finally {
    if (before === undefined) delete process.env.WEBTRAINER_BENCH_PYTHON;
    else process.env.WEBTRAINER_BENCH_PYTHON = before;
  }
});

const hasOptuna = spawnSync(optunaPython(), ['-c', 'import optuna, numpy'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!hasOptuna)('the Optuna column (Python with Optuna present)', () => {
  it('the helper defines the same problems: same values at the same points', async () => {
    const rng = new Rng(5);
    const points: Array<{ problem: string; params: Record<string, string | number> }> = [];
    for (const p of BENCH_PROBLEMS) {
      if (p.name === 'HPO-MLP') {
        for (const params of hpoPoints(20)) points.push({ problem: p.name, params });
        continue;
      }
      // Read the box's bounds back through the objective's suggestions.
      const bounds: Array<[number, number]> = [];
      p.objective({ suggestFloat: (_n, lo, hi) => (bounds.push([lo, hi]), lo), suggestInt: () => 0, suggestCategorical: (_n, c) => c[0] });
      for (let i = 0; i < 20; i++) points.push({ problem: p.name, params: Object.fromEntries(bounds.map(([lo, hi], j) => [`x${j}`, rng.uniform(lo, hi)])) });
    }
    const { values } = await callOptunaPeer<{ values: number[] }>({ mode: 'eval', points });
    const mine = points.map(({ problem, params }) => BENCH_PROBLEMS.find((p) => p.name === problem)!.objective(fixed(params)));
    mine.forEach((v, i) => expect(v).toBeCloseTo(values[i], 9));
  });

  it('runs in the same call: rows for both impls, and RandomSampler is draw for draw the same', async () => {
    const r = await benchSamplers({ seeds: 2, budgets: [11, 14], silent: true, problems: ['Branin', 'HPO-MLP'], samplers: ['Random', 'TPE'] });
    expect(r.optuna.available).toBe(true);
    expect(r.optuna.version).toMatch(/^\d+\.\d+/);
    const optunaRows = r.results.filter((x) => x.impl === 'optuna');
    expect(optunaRows).toHaveLength(2 * 2 * 2);
    for (const o of optunaRows.filter((x) => x.sampler === 'Random')) {
      const w = r.results.find((x) => x.impl === 'webtrainer' && x.function === o.function && x.sampler === 'Random' && x.trials === o.trials)!;
      expect(w.medianBest).toBeCloseTo(o.medianBest, 9);
    }
    expect(formatReport(r)).toContain(`Optuna ${r.optuna.version}`);
  });
});
