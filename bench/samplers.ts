/**
 * Sampler benchmark: Random, QMC (scrambled Sobol') and TPE (Optuna defaults) on Branin, Hartmann-6,
 * Rosenbrock-4, Styblinski-Tang-8 and Ackley-5 (bench/functions.ts), 30 seeds each, 100 trials.
 * Reported per (function, sampler, budget ∈ {25, 50, 100}):
 * - medianBest: the median over seeds of the best value found within the budget;
 * - normalisedScore = (medianBest(random) − f*) / (medianBest(sampler) − f*): random search = 1, higher is
 *   better (2 = half of random's remaining gap to the optimum);
 * - bayesmarkScore = 100 · (1 − (medianBest(sampler) − f*) / (medianBest(random) − f*)), the normalisation of
 *   Bayesmark (github.com/uber/bayesmark, "normalized score", with random search's median as the baseline
 *   instead of its expectation): random = 0, the optimum = 100, negative = worse than random.
 * Everything runs in-process with in-memory storage; timings are not measured here.
 */
import { QMCSampler } from '../src/search/samplers/qmc.js';
import { RandomSampler } from '../src/search/samplers/random.js';
import type { Sampler } from '../src/search/samplers/sampler.js';
import { TPESampler } from '../src/search/samplers/tpe/sampler.js';
import { createStudy } from '../src/search/study.js';
import { TEST_FUNCTIONS, type TestFunction } from './functions.js';

export interface BenchResult {
  function: string;
  sampler: string;
  trials: number;
  medianBest: number;
  normalisedScore: number;
  bayesmarkScore: number;
}

export interface Report {
  seeds: number;
  budgets: number[];
  results: BenchResult[];
  elapsedSeconds: number;
}

const SAMPLERS: Array<[string, (seed: number) => Sampler]> = [
  ['Random', (seed) => new RandomSampler({ seed })],
  ['QMC', (seed) => new QMCSampler({ seed })],
  ['TPE', (seed) => new TPESampler({ seed })],
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Best-so-far after each budget for one run. */
async function run(fn: TestFunction, sampler: Sampler, budgets: number[]): Promise<number[]> {
  const study = createStudy({ sampler });
  const maxTrials = Math.max(...budgets);
  await study.optimize((t) => fn.f(fn.bounds.map(([lo, hi], i) => t.suggestFloat(`x${i}`, lo, hi))), { nTrials: maxTrials });
  const values = study.trials.map((t) => t.values![0]);
  return budgets.map((b) => Math.min(...values.slice(0, b)));
}

export async function benchSamplers(opts: { seeds?: number; json?: boolean; quick?: boolean; silent?: boolean } = {}): Promise<Report> {
  const started = Date.now();
  const seeds = opts.seeds ?? (opts.quick ? 5 : 30);
  const budgets = opts.quick ? [25, 50] : [25, 50, 100];
  const results: BenchResult[] = [];
  for (const fn of TEST_FUNCTIONS) {
    const medians = new Map<string, number[]>();
    for (const [name, make] of SAMPLERS) {
      const perSeed: number[][] = [];
      for (let seed = 0; seed < seeds; seed++) perSeed.push(await run(fn, make(seed), budgets));
      medians.set(name, budgets.map((_, j) => median(perSeed.map((r) => r[j]))));
    }
    const random = medians.get('Random')!;
    for (const [name] of SAMPLERS) {
      budgets.forEach((b, j) => {
        const gapS = medians.get(name)![j] - fn.optimum;
        const gapR = random[j] - fn.optimum;
        results.push({ function: fn.name, sampler: name, trials: b, medianBest: medians.get(name)![j], normalisedScore: gapR / gapS, bayesmarkScore: 100 * (1 - gapS / gapR) });
      });
    }
  }
  const report: Report = { seeds, budgets, results, elapsedSeconds: (Date.now() - started) / 1000 };
  if (!opts.silent) console.log(opts.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return report;
}

/** A fixed-width table: one row per function and sampler, columns per budget. */
export function formatReport(report: Report): string {
  const fns = [...new Set(report.results.map((r) => r.function))];
  const samplers = [...new Set(report.results.map((r) => r.sampler))];
  const header = ['function', 'sampler', ...report.budgets.flatMap((b) => [`best@${b}`, `norm@${b}`, `bm@${b}`])];
  const rows = fns.flatMap((f) =>
    samplers.map((s) => [
      f,
      s,
      ...report.budgets.flatMap((b) => {
        const r = report.results.find((x) => x.function === f && x.sampler === s && x.trials === b)!;
        return [r.medianBest.toPrecision(5), r.normalisedScore.toFixed(2), r.bayesmarkScore.toFixed(1)];
      }),
    ]),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [
    `median over ${report.seeds} seeds; norm = (random gap)/(sampler gap), random = 1; bm = Bayesmark-style 100·(1 − gap/random gap)`,
    line(header),
    ...rows.map(line),
    `(${report.elapsedSeconds.toFixed(1)} s)`,
  ].join('\n');
}
