/**
 * Standard test functions for sampler benchmarks, on their usual domains, with known minima.
 * Source of the definitions, domains and optima: Surjanovic & Bingham, "Virtual Library of Simulation
 * Experiments: Test Functions and Datasets" (www.sfu.ca/~ssurjano), pages branin, hart6, rosen, stybtang, ackley.
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

export const TEST_FUNCTIONS: TestFunction[] = [branin, hartmann6, rosenbrock4, styblinskiTang8, ackley5];
