/**
 * Standard test functions for sampler benchmarks, on their usual domains, with known minima, and a mixed
 * hyperparameter-like space. Source of the definitions, domains and optima: Surjanovic & Bingham, "Virtual
 * Library of Simulation Experiments: Test Functions and Datasets" (www.sfu.ca/~ssurjano), pages branin, camel6,
 * hart6, rosen, stybtang, ackley, spheref, rastr, levy, griewank.
 * bench/peers/optuna_samplers.py defines the same problems for Optuna (same parameter names, ranges and
 * suggestion order); test/search/bench.test.ts checks both give the same values where Python is present.
 */
export interface TestFunction {
  name: string;
  bounds: Array<[number, number]>;
  /** Known global minimum f*. */
  optimum: number;
  f: (x: number[]) => number;
}

/** Branin-Hoo on [−5, 10] × [0, 15]; f* = 0.397887 at (−π, 12.275), (π, 2.275), (9.42478, 2.475). */
export const branin: TestFunction = {
  name: 'Branin',
  bounds: [[-5, 10], [0, 15]],
  optimum: 0.39788735772973816,
  f: ([x1, x2]) => {
    const b = 5.1 / (4 * Math.PI ** 2);
    const c = 5 / Math.PI;
    const t = 1 / (8 * Math.PI);
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * Math.cos(x1) + 10;
  },
};

const H_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]];
const H_P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991], [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]].map((r) => r.map((v) => v * 1e-4));
const H_ALPHA = [1, 1.2, 3, 3.2];

/** Hartmann-6 on [0, 1]^6; f* = −3.32237 at (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573). */
export const hartmann6: TestFunction = {
  name: 'Hartmann-6',
  bounds: Array.from({ length: 6 }, () => [0, 1] as [number, number]),
  optimum: -3.32237,
  f: (x) => -H_ALPHA.reduce((acc, a, i) => acc + a * Math.exp(-x.reduce((s, xj, j) => s + H_A[i][j] * (xj - H_P[i][j]) ** 2, 0)), 0),
};

/** Rosenbrock in 4-d on [−5, 10]^4; f* = 0 at (1, 1, 1, 1). */
export const rosenbrock4: TestFunction = {
  name: 'Rosenbrock-4',
  bounds: Array.from({ length: 4 }, () => [-5, 10] as [number, number]),
  optimum: 0,
  f: (x) => x.slice(0, -1).reduce((acc, xi, i) => acc + 100 * (x[i + 1] - xi * xi) ** 2 + (xi - 1) ** 2, 0),
};

/** Styblinski-Tang in 8-d on [−5, 5]^8; f* = −39.16599·8 = −313.32792 at x_i = −2.903534. */
export const styblinskiTang8: TestFunction = {
  name: 'Styblinski-Tang-8',
  bounds: Array.from({ length: 8 }, () => [-5, 5] as [number, number]),
  optimum: -39.16616570377142 * 8,
  f: (x) => x.reduce((acc, xi) => acc + (xi ** 4 - 16 * xi * xi + 5 * xi) / 2, 0),
};

/** Ackley in 5-d on [−32.768, 32.768]^5; f* = 0 at the origin. */
export const ackley5: TestFunction = {
  name: 'Ackley-5',
  bounds: Array.from({ length: 5 }, () => [-32.768, 32.768] as [number, number]),
  optimum: 0,
  f: (x) => {
    const d = x.length;
    const s1 = x.reduce((a, v) => a + v * v, 0) / d;
    const s2 = x.reduce((a, v) => a + Math.cos(2 * Math.PI * v), 0) / d;
    return -20 * Math.exp(-0.2 * Math.sqrt(s1)) - Math.exp(s2) + 20 + Math.E;
  },
};

/** Six-hump camel on [−3, 3] × [−2, 2]; f* = −1.0316284534898774 at (±0.0898420131, ∓0.7126564030). */
export const sixHumpCamel: TestFunction = {
  name: 'Six-Hump-Camel',
  bounds: [[-3, 3], [-2, 2]],
  optimum: -1.0316284534898774,
  f: ([x1, x2]) => (4 - 2.1 * x1 * x1 + x1 ** 4 / 3) * x1 * x1 + x1 * x2 + (-4 + 4 * x2 * x2) * x2 * x2,
};

/** Sphere in 10-d on [−5.12, 5.12]^10; f* = 0 at the origin. */
export const sphere10: TestFunction = {
  name: 'Sphere-10',
  bounds: Array.from({ length: 10 }, () => [-5.12, 5.12] as [number, number]),
  optimum: 0,
  f: (x) => x.reduce((a, v) => a + v * v, 0),
};

/** Rastrigin in 6-d on [−5.12, 5.12]^6; f* = 0 at the origin (≈10^6 local minima). */
export const rastrigin6: TestFunction = {
  name: 'Rastrigin-6',
  bounds: Array.from({ length: 6 }, () => [-5.12, 5.12] as [number, number]),
  optimum: 0,
  f: (x) => 10 * x.length + x.reduce((a, v) => a + v * v - 10 * Math.cos(2 * Math.PI * v), 0),
};

/** Levy in 7-d on [−10, 10]^7; f* = 0 at (1, …, 1). */
export const levy7: TestFunction = {
  name: 'Levy-7',
  bounds: Array.from({ length: 7 }, () => [-10, 10] as [number, number]),
  optimum: 0,
  f: (x) => {
    const w = x.map((v) => 1 + (v - 1) / 4);
    const d = w.length;
    let s = Math.sin(Math.PI * w[0]) ** 2;
    for (let i = 0; i < d - 1; i++) s += (w[i] - 1) ** 2 * (1 + 10 * Math.sin(Math.PI * w[i] + 1) ** 2);
    return s + (w[d - 1] - 1) ** 2 * (1 + Math.sin(2 * Math.PI * w[d - 1]) ** 2);
  },
};

/** Griewank in 8-d on [−600, 600]^8; f* = 0 at the origin. */
export const griewank8: TestFunction = {
  name: 'Griewank-8',
  bounds: Array.from({ length: 8 }, () => [-600, 600] as [number, number]),
  optimum: 0,
  f: (x) => x.reduce((a, v) => a + (v * v) / 4000, 0) - x.reduce((a, v, i) => a * Math.cos(v / Math.sqrt(i + 1)), 1) + 1,
};

export const TEST_FUNCTIONS: TestFunction[] = [branin, sixHumpCamel, rosenbrock4, ackley5, rastrigin6, hartmann6, levy7, styblinskiTang8, griewank8, sphere10];

/** What a bench objective may ask of a trial (a webtrainer Trial, or a fixed assignment). */
export interface SuggestApi {
  suggestFloat(name: string, low: number, high: number, opts?: { log?: boolean; step?: number | null }): number;
  suggestInt(name: string, low: number, high: number, opts?: { log?: boolean; step?: number }): number;
  suggestCategorical<T extends string | number>(name: string, choices: readonly T[]): T;
}

/** One benchmark problem: an objective over a search space, with its known minimum. */
export interface BenchProblem {
  name: string;
  /** Number of parameters (the conditional one included). */
  dim: number;
  optimum: number;
  objective: (t: SuggestApi) => number;
}

/** A box-bounded test function as a problem: parameters x0, x1, … suggested as uniform floats in order. */
export function boxProblem(fn: TestFunction): BenchProblem {
  return { name: fn.name, dim: fn.bounds.length, optimum: fn.optimum, objective: (t) => fn.f(fn.bounds.map(([lo, hi], i) => t.suggestFloat(`x${i}`, lo, hi))) };
}

const HPO_BASE_LR: Record<string, number> = { sgd: 0.1, adam: 1e-3, adamw: 3e-3 };
const HPO_OPT_PENALTY: Record<string, number> = { sgd: 0.05, adam: 0.02, adamw: 0 };
const HPO_BATCH_PENALTY: Record<number, number> = { 16: 0.03, 32: 0, 64: 0.01, 128: 0.04, 256: 0.08 };

/**
 * A synthetic "validation loss" over a real-looking MLP search space (not from a library; made for this bench):
 * optimizer ∈ {sgd, adam, adamw} (categorical), lr ∈ [1e-5, 1] (log float), momentum ∈ [0, 0.99] (float,
 * only for sgd: conditional), batch_size ∈ {16, 32, 64, 128, 256} (categorical of numbers), layers ∈ 1..8 (int),
 * hidden ∈ 16..1024 (log int), dropout ∈ {0, 0.05, …, 0.5} (stepped float), weight_decay ∈ [1e-6, 0.1] (log float).
 * Interactions as in practice: the best lr scales linearly with the batch size (base_lr(optimizer)·batch/32) and
 * the best dropout grows with depth (0.05·(layers − 1)). Loss = 0.25 + the sum of the quadratic penalties below;
 * f* = 0.25 at (adamw, lr 3e-3, batch 32, layers 3, hidden 256, dropout 0.1, weight_decay 1e-4).
 */
export const hpoMlp: BenchProblem = {
  name: 'HPO-MLP',
  dim: 8,
  optimum: 0.25,
  objective: (t) => {
    const opt = t.suggestCategorical('optimizer', ['sgd', 'adam', 'adamw']);
    const lr = t.suggestFloat('lr', 1e-5, 1, { log: true });
    let loss = 0.25 + HPO_OPT_PENALTY[opt];
    if (opt === 'sgd') loss += 0.3 * (t.suggestFloat('momentum', 0, 0.99) - 0.9) ** 2;
    const batch = t.suggestCategorical('batch_size', [16, 32, 64, 128, 256]);
    const layers = t.suggestInt('layers', 1, 8);
    const hidden = t.suggestInt('hidden', 16, 1024, { log: true });
    const dropout = t.suggestFloat('dropout', 0, 0.5, { step: 0.05 });
    const wd = t.suggestFloat('weight_decay', 1e-6, 0.1, { log: true });
    loss += 0.08 * (Math.log10(lr) - Math.log10((HPO_BASE_LR[opt] * batch) / 32)) ** 2;
    loss += HPO_BATCH_PENALTY[batch];
    loss += 0.01 * (layers - 3) ** 2;
    loss += 0.02 * (Math.log2(hidden) - 8) ** 2;
    loss += 0.5 * (dropout - 0.05 * (layers - 1)) ** 2;
    loss += (opt === 'adamw' ? 0.01 : 0.005) * (Math.log10(wd) + 4) ** 2;
    return loss;
  },
};

/** Every problem of `bench samplers`, in report order. */
export const BENCH_PROBLEMS: BenchProblem[] = [...TEST_FUNCTIONS.map(boxProblem), hpoMlp];
