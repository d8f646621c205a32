/**
 * Sampler benchmark, webtrainer side by side with real Optuna in the same run.
 * Problems (bench/functions.ts): Branin-2, Six-Hump-Camel-2, Rosenbrock-4, Ackley-5, Rastrigin-6, Hartmann-6,
 * Levy-7, Styblinski-Tang-8, Griewank-8, Sphere-10, and HPO-MLP (a mixed 8-parameter space: log floats, ints,
 * a log int, a stepped float, categoricals, a conditional parameter).
 * Samplers: Random, QMC (scrambled Sobol'), TPE (Optuna's defaults, univariate) and TPE-mv (multivariate),
 * each as webtrainer's and as Optuna's (`impl`).
 * Protocol, identical on both sides: seeds 0..S−1 (S = 30, 5 with `quick`), one study of max(budgets) trials per
 * (problem, sampler, seed) with that seed, budgets {25, 50, 100} ({25, 50} quick); per budget the median over
 * seeds of the best value found within it (`medianBest`) and its distance to the known optimum
 * (`gapToOptimum` = medianBest − f*). normalisedScore = random's gap / this gap (same impl; random = 1),
 * bayesmarkScore = 100·(1 − gap/random gap) (Bayesmark's normalisation with random's median as baseline).
 * Optuna's column comes from bench/peers/optuna_samplers.py run by `/usr/bin/python3` (Debian's python3-optuna,
 * 3.1.0; another interpreter with WEBTRAINER_BENCH_PYTHON, extra module paths such as an Optuna source tree with
 * WEBTRAINER_BENCH_PYTHONPATH). It runs concurrently with webtrainer's side; where Python or Optuna is missing
 * the column is skipped and the report says why (Optuna's QMC needs SciPy, skipped likewise).
 * Everything runs in-process with in-memory storage; timings are not measured here.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { QMCSampler } from '../src/search/samplers/qmc.js';
import { RandomSampler } from '../src/search/samplers/random.js';
import type { Sampler } from '../src/search/samplers/sampler.js';
import { TPESampler } from '../src/search/samplers/tpe/sampler.js';
import { createStudy } from '../src/search/study.js';
import { BENCH_PROBLEMS, type BenchProblem } from './functions.js';

export type Impl = 'webtrainer' | 'optuna';

export interface BenchResult {
  function: string;
  dim: number;
  sampler: string;
  impl: Impl;
  trials: number;
  medianBest: number;
  gapToOptimum: number;
  normalisedScore: number;
  bayesmarkScore: number;
}

export interface OptunaPeer {
  available: boolean;
  python: string;
  version?: string;
  numpy?: string;
  /** Why the column (or some of its samplers) is missing. */
  note?: string;
}

export interface Report {
  seeds: number;
  budgets: number[];
  results: BenchResult[];
  optuna: OptunaPeer;
  elapsedSeconds: number;
}

export interface BenchOptions {
  seeds?: number;
  quick?: boolean;
  json?: boolean;
  /** No progress lines on stderr. */
  silent?: boolean;
  /** Run the Optuna column (default true). */
  optuna?: boolean;
  /** Only these problems (names as in the report). */
  problems?: string[];
  /** Only these samplers (Random, QMC, TPE, TPE-mv). */
  samplers?: string[];
  budgets?: number[];
}

const SAMPLERS: Array<[string, (seed: number) => Sampler]> = [
  ['Random', (seed) => new RandomSampler({ seed })],
  ['QMC', (seed) => new QMCSampler({ seed })],
  ['TPE', (seed) => new TPESampler({ seed })],
  ['TPE-mv', (seed) => new TPESampler({ seed, multivariate: true })],
];

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Best-so-far at each budget for one study. */
async function run(problem: BenchProblem, sampler: Sampler, budgets: number[]): Promise<number[]> {
  const study = createStudy({ sampler });
  await study.optimize((t) => problem.objective(t), { nTrials: Math.max(...budgets) });
  const values = study.trials.map((t) => t.values![0]);
  return budgets.map((b) => Math.min(...values.slice(0, b)));
}

/** The Python helper, from bench/ (sources) or dist/bench/ (built). */
export function optunaScriptPath(): string {
  for (const rel of ['./peers/optuna_samplers.py', '../../bench/peers/optuna_samplers.py']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  return fileURLToPath(new URL('./peers/optuna_samplers.py', import.meta.url));
}

export function optunaPython(): string {
  return process.env.WEBTRAINER_BENCH_PYTHON ?? '/usr/bin/python3';
}

/** Runs the Python helper with a JSON request; resolves with its parsed output, or rejects with a readable reason. */
export function callOptunaPeer<T>(request: unknown, opts: { onStderrLine?: (line: string) => void } = {}): Promise<T> {
  const python = optunaPython();
  const env = { ...process.env };
  if (process.env.WEBTRAINER_BENCH_PYTHONPATH) env.PYTHONPATH = [process.env.WEBTRAINER_BENCH_PYTHONPATH, env.PYTHONPATH].filter(Boolean).join(':');
  return new Promise((resolve, reject) => {
    const child = spawn(python, [optunaScriptPath()], { stdio: ['pipe', 'pipe', 'pipe'], env });
    const out: Buffer[] = [];
    let err = '';
    let pending = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const l of lines) opts.onStderrLine?.(l);
    });
    child.on('error', (e: NodeJS.ErrnoException) => reject(new Error(e.code === 'ENOENT' ? `${python} not found` : `${python}: ${e.message}`)));
    child.on('close', (code) => {
      if (code === 3) return reject(new Error(`${python} cannot import Optuna (Debian: apt-get install python3-optuna): ${err.trim().split('\n').pop()}`));
      if (code !== 0) return reject(new Error(`${python} ${optunaScriptPath()} exited with ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      try {
        resolve(JSON.parse(Buffer.concat(out).toString()) as T);
      } catch (e) {
        reject(new Error(`unreadable output from the Optuna helper: ${(e as Error).message}`));
      }
    });
    child.stdin.end(JSON.stringify(request));
  });
}

interface PeerOutput {
  optuna: string;
  numpy: string;
  python: string;
  skipped: Record<string, string>;
  runs: Array<{ problem: string; sampler: string; seed: number; best: number[] }>;
}

function rows(problem: BenchProblem, impl: Impl, medians: Map<string, number[]>, budgets: number[]): BenchResult[] {
  const random = medians.get('Random');
  const out: BenchResult[] = [];
  for (const [sampler, meds] of medians) {
    budgets.forEach((trials, j) => {
      const gap = meds[j] - problem.optimum;
      const gapR = random ? random[j] - problem.optimum : NaN;
      out.push({ function: problem.name, dim: problem.dim, sampler, impl, trials, medianBest: meds[j], gapToOptimum: gap, normalisedScore: gapR / gap, bayesmarkScore: 100 * (1 - gap / gapR) });
    });
  }
  return out;
}

export async function benchSamplers(opts: BenchOptions = {}): Promise<Report> {
  const started = Date.now();
  const seeds = opts.seeds ?? (opts.quick ? 5 : 30);
  const budgets = opts.budgets ?? (opts.quick ? [25, 50] : [25, 50, 100]);
  const problems = opts.problems ? BENCH_PROBLEMS.filter((p) => opts.problems!.includes(p.name)) : BENCH_PROBLEMS;
  const samplers = opts.samplers ? SAMPLERS.filter(([n]) => opts.samplers!.includes(n)) : SAMPLERS;
  const log = (line: string): void => {
    if (!opts.silent) process.stderr.write(line + '\n');
  };
  const peer: OptunaPeer = { available: false, python: optunaPython() };
  // Optuna's side runs in a child process while webtrainer's runs here.
  const optunaRun: Promise<PeerOutput | null> =
    opts.optuna === false
      ? Promise.resolve(null)
      : callOptunaPeer<PeerOutput>(
          { mode: 'run', problems: problems.map((p) => p.name), samplers: samplers.map(([n]) => n), seeds, budgets, progress: !opts.silent },
          { onStderrLine: (l) => log(l) },
        ).catch((e: Error) => {
          peer.note = `Optuna column skipped: ${e.message}`;
          return null;
        });
  if (opts.optuna === false) peer.note = 'Optuna column not requested';
  const results: BenchResult[] = [];
  for (const problem of problems) {
    const medians = new Map<string, number[]>();
    for (const [name, make] of samplers) {
      const perSeed: number[][] = [];
      for (let seed = 0; seed < seeds; seed++) {
        perSeed.push(await run(problem, make(seed), budgets));
        await new Promise((r) => setImmediate(r)); // let the child's pipes drain
      }
      medians.set(name, budgets.map((_, j) => median(perSeed.map((r) => r[j]))));
    }
    results.push(...rows(problem, 'webtrainer', medians, budgets));
    log(`webtrainer: ${problem.name} done (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  const out = await optunaRun;
  if (out) {
    Object.assign(peer, { available: true, version: out.optuna, numpy: out.numpy });
    const skipped = Object.entries(out.skipped).map(([s, why]) => `${s}: ${why}`);
    if (skipped.length) peer.note = `Optuna samplers skipped: ${skipped.join('; ')}`;
    for (const problem of problems) {
      const medians = new Map<string, number[]>();
      for (const [name] of samplers) {
        const runs = out.runs.filter((r) => r.problem === problem.name && r.sampler === name);
        if (runs.length) medians.set(name, budgets.map((_, j) => median(runs.map((r) => r.best[j]))));
      }
      results.push(...rows(problem, 'optuna', medians, budgets));
    }
  }
  return { seeds, budgets, results, optuna: peer, elapsedSeconds: (Date.now() - started) / 1000 };
}

function fmtGap(g: number | undefined): string {
  if (g === undefined) return '-';
  return Math.abs(g) < 1e-3 && g !== 0 ? g.toExponential(2) : g.toPrecision(4);
}

/**
 * A fixed-width table: one row per problem and sampler; per budget webtrainer's and Optuna's median gap to the
 * optimum, and at the largest budget their ratio (≤ 1: webtrainer at least as close).
 */
export function formatReport(report: Report): string {
  const problems = [...new Set(report.results.map((r) => r.function))];
  const samplers = [...new Set(report.results.map((r) => r.sampler))];
  const last = report.budgets[report.budgets.length - 1];
  const header = ['function', 'dim', 'sampler', ...report.budgets.flatMap((b) => [`wt gap@${b}`, `optuna gap@${b}`]), `wt/optuna@${last}`];
  const find = (f: string, s: string, impl: Impl, b: number): BenchResult | undefined => report.results.find((x) => x.function === f && x.sampler === s && x.impl === impl && x.trials === b);
  const table = problems.flatMap((f) =>
    samplers
      .filter((s) => find(f, s, 'webtrainer', last) || find(f, s, 'optuna', last))
      .map((s) => {
        const wt = find(f, s, 'webtrainer', last);
        const op = find(f, s, 'optuna', last);
        const ratio = wt && op ? (op.gapToOptimum === 0 ? (wt.gapToOptimum === 0 ? 1 : Infinity) : wt.gapToOptimum / op.gapToOptimum) : undefined;
        return [
          f,
          String((wt ?? op)!.dim),
          s,
          ...report.budgets.flatMap((b) => [fmtGap(find(f, s, 'webtrainer', b)?.gapToOptimum), fmtGap(find(f, s, 'optuna', b)?.gapToOptimum)]),
          ratio === undefined ? '-' : ratio.toFixed(2),
        ];
      }),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 || i === 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const peer = report.optuna.available
    ? `Optuna ${report.optuna.version} (NumPy ${report.optuna.numpy}, ${report.optuna.python})`
    : 'Optuna: not run';
  return [
    `median over ${report.seeds} seeds of the best value's gap to the optimum (lower is better); wt = webtrainer; ${peer}`,
    ...(report.optuna.note ? [report.optuna.note] : []),
    line(header),
    ...table.map(line),
    `(${report.elapsedSeconds.toFixed(1)} s)`,
  ].join('\n') + '\n';
}
