/** Elementwise kernels and ops against float64 references; gradients against finite differences. */
import { describe, expect, it } from 'vitest';
import { tensor } from '../../src/tensor/create.js';
import * as ew from '../../src/tensor/ops/elementwise.js';
import { expectClose } from '../../test/helpers/compare.js';
import { checkForwardAndGradients } from '../../test/helpers/gradcheck.js';
import { useDevice } from '../../test/helpers/gpu.js';
import { randomArray } from '../../test/helpers/random.js';
import { broadcastReference, binaryReference, unaryReference } from './reference.js';

const device = useDevice();

// Odd sizes (not multiples of the workgroup), broadcasting on leading, trailing and middle axes, scalars.
const binaryShapes: [number[], number[]][] = [
  [[1], [1]],
  [[7], [7]],
  [[257], [1]],
  [[3, 33], [33]],
  [[2, 5, 7], [2, 1, 7]],
  [[4, 1, 3], [1, 6, 1]],
  [[2, 3, 4, 5], [3, 1, 5]],
];

describe('binary ops with broadcasting', () => {
  for (const op of ['add', 'sub', 'mul', 'div'] as const) {
    for (const [aShape, bShape] of binaryShapes) {
      it(`${op} [${aShape}] x [${bShape}]`, async () => {
        const outShape = aShape.map((_, i) => Math.max(aShape[i] ?? 1, bShape[i - (aShape.length - bShape.length)] ?? 1));
        const count = (s: number[]) => s.reduce((p, d) => p * d, 1);
        // Keep divisors away from zero so finite differences are well conditioned.
        const bData = op === 'div' ? randomArray(count(bShape), 5, 0.5, 2) : undefined;
        await checkForwardAndGradients(device(), {
          what: op,
          inputs: [{ shape: aShape }, { shape: bShape, data: bData }],
          gpu: ([a, b]) => ew[op](a, b),
          reference: ([a, b]) => broadcastReference(a, aShape, b, bShape, outShape.length ? outShape : [1], binaryReference[op]),
        });
      });
    }
  }
});

describe('unary ops', () => {
  const cases: [keyof typeof unaryReference, (x: import('../../src/tensor/tensor.js').Tensor) => import('../../src/tensor/tensor.js').Tensor, number, number][] = [
    ['neg', ew.neg, -3, 3],
    ['exp', ew.exp, -3, 3],
    ['log', ew.log, 0.2, 4],
    ['sqrt', ew.sqrt, 0.2, 4],
    ['tanh', ew.tanh, -4, 4],
    ['gelu', ew.gelu, -4, 4],
    ['relu', ew.relu, -3, 3],
  ];
  for (const [name, fn, low, high] of cases) {
    for (const size of [1, 7, 33, 1000]) {
      it(`${name} over ${size} values`, async () => {
        await checkForwardAndGradients(device(), {
          what: name,
          inputs: [{ shape: [size], data: randomArray(size, size, low, high) }],
          gpu: ([x]) => fn(x),
          reference: ([x]) => x.map((v) => unaryReference[name](v, 1, 0)),
        });
      });
    }
  }
  it('scale (alpha x + beta)', async () => {
    await checkForwardAndGradients(device(), {
      what: 'scale',
      inputs: [{ shape: [3, 5] }],
      gpu: ([x]) => ew.scale(x, -2.5, 0.75),
      reference: ([x]) => x.map((v) => -2.5 * v + 0.75),
    });
  });
  it('tanh and gelu stay finite for large inputs', async () => {
    const x = tensor(device(), [-1e4, -100, 100, 1e4]);
    expect(Array.from(await ew.tanh(x).toArray())).toEqual([-1, -1, 1, 1]);
    expectClose(await ew.gelu(x).toArray(), [0, 0, 100, 1e4], 1e-6);
  });
});

describe('large element counts use a 2D grid', () => {
  it('adds 17 million values (over 65,535 workgroups of 256)', async () => {
    const count = 65535 * 256 + 1001;
    const a = randomArray(count, 3);
    const b = randomArray(count, 4);
    const out = ew.add(tensor(device(), a), tensor(device(), b));
    const result = await out.toArray();
    for (const i of [0, 1, 65535 * 256 - 1, 65535 * 256, count - 1]) {
      expect(result[i]).toBe(Math.fround(a[i] + b[i]));
    }
  });
});
