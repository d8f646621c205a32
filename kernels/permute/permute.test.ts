/** Permute and transpose against float64 multi-index loops; gradients against finite differences; bad axes. */
import { describe, expect, it } from 'vitest';
import { tensor } from '../../src/tensor/create.js';
import { ShapeError } from '../../src/gpu/errors.js';
import { permute, transpose } from '../../src/tensor/ops/permute.js';
import { checkForwardAndGradients } from '../../test/helpers/gradcheck.js';
import { useDevice } from '../../test/helpers/gpu.js';
import { randomInts } from '../../test/helpers/random.js';
import { inverseAxes, mergePermutation } from './permute.js';
import { permuteReference } from './reference.js';

const device = useDevice();

const cases: [number[], number[]][] = [
  [[7], [0]],
  [[3, 5], [1, 0]],
  [[1, 33], [1, 0]],
  [[2, 3, 5, 4, 7], [0, 1, 3, 2, 4]], // (T, B, S, heads, d) → (T, B, heads, S, d)
  [[2, 3, 4, 5, 7], [0, 1, 3, 2, 4]], // and back
  [[3, 2, 1, 5, 2, 3], [5, 3, 0, 4, 2, 1]],
  [[2, 257], [1, 0]],
  [[2, 3, 4], [2, 0, 1]],
  // v2 (vec4): the innermost axis stays innermost with a length divisible by 4.
  [[2, 3, 5, 2, 8], [0, 1, 3, 2, 4]],
  [[3, 5, 4], [1, 0, 2]],
  [[3, 4], [0, 1]], // identity: one merged axis, a vec4 copy
  [[2, 2, 3, 12], [2, 0, 1, 3]],
];

describe('permute', () => {
  for (const [shape, axes] of cases) {
    it(`[${shape}] by [${axes}]`, async () => {
      await checkForwardAndGradients(device(), {
        what: `permute [${shape}] [${axes}]`,
        inputs: [{ shape }],
        gpu: ([x]) => permute(x, axes),
        reference: ([x]) => permuteReference(x, shape, axes),
      });
    });
  }

  it('moves i32 values unchanged', async () => {
    const ids = randomInts(2 * 3 * 5, 3, -1000, 1000);
    const x = tensor(device(), ids, [2, 3, 5]);
    const y = permute(x, [2, 0, 1]);
    expect(y.dtype).toBe('i32');
    expect(Array.from(await y.toArray())).toEqual(Array.from(permuteReference(ids, [2, 3, 5], [2, 0, 1])));
    x.release();
    y.release();
  });

  it('picks v2 (vec4) when the innermost axis stays innermost with a length divisible by 4', () => {
    const d = device();
    const kernels: string[] = [];
    const original = d.dispatch.bind(d);
    d.dispatch = (dispatch) => {
      kernels.push(dispatch.kernel);
      original(dispatch);
    };
    try {
      const x = tensor(d, new Float32Array(2 * 3 * 5 * 2 * 8), [2, 3, 5, 2, 8]);
      const y = tensor(d, new Float32Array(2 * 3 * 5 * 2 * 7), [2, 3, 5, 2, 7]);
      for (const t of [permute(x, [0, 1, 3, 2, 4]), permute(y, [0, 1, 3, 2, 4]), transpose(x, 3, 4), x, y]) t.release();
    } finally {
      d.dispatch = original;
    }
    expect(kernels).toEqual(['permute_v2', 'permute_v1', 'permute_v1']);
  });

  it('merges axes that move together', () => {
    expect(mergePermutation([2, 3, 5, 4, 7], [0, 1, 3, 2, 4])).toEqual({ outShape: [6, 4, 5, 7], inStrides: [140, 7, 28, 1] });
    expect(mergePermutation([1, 4, 1], [2, 0, 1])).toEqual({ outShape: [4], inStrides: [1] });
    expect(inverseAxes([2, 0, 1])).toEqual([1, 2, 0]);
  });

  it('rejects bad axes before dispatching', () => {
    const x = tensor(device(), new Float32Array(6), [2, 3]);
    expect(() => permute(x, [0, 0])).toThrow(ShapeError);
    expect(() => permute(x, [0])).toThrow(/axes \[0\] are not a permutation/);
    const big = tensor(device(), new Float32Array(1), [1, 1, 1, 1, 1, 1, 1]);
    expect(() => permute(big, [0, 1, 2, 3, 4, 5, 6])).toThrow(/rank 7/);
    x.release();
    big.release();
  });
});

describe('transpose', () => {
  for (const [shape, d0, d1] of [
    [[5, 3], 0, 1],
    [[2, 7, 33], -1, -2],
    [[3, 4, 5, 2], 0, 2],
  ] as [number[], number, number][]) {
    it(`[${shape}] dims ${d0}, ${d1}`, async () => {
      const axes = [...shape.keys()];
      const a = d0 < 0 ? d0 + shape.length : d0;
      const b = d1 < 0 ? d1 + shape.length : d1;
      [axes[a], axes[b]] = [axes[b], axes[a]];
      await checkForwardAndGradients(device(), {
        what: `transpose [${shape}]`,
        inputs: [{ shape }],
        gpu: ([x]) => transpose(x, d0, d1),
        reference: ([x]) => permuteReference(x, shape, axes),
      });
    });
  }

  it('rejects a dim out of range', () => {
    const x = tensor(device(), new Float32Array(6), [2, 3]);
    expect(() => transpose(x, 0, 2)).toThrow(/transpose: dims \(0, 2\)/);
    x.release();
  });
});
