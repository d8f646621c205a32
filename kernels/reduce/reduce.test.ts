/** Reductions (sum, mean, max over any axes) against float64 loops; gradients against finite differences. */
import { describe, it } from 'vitest';
import { max, mean, sum } from '../../src/tensor/ops/reduce.js';
import { checkForwardAndGradients } from '../../test/helpers/gradcheck.js';
import { useDevice } from '../../test/helpers/gpu.js';
import { randomArray } from '../../test/helpers/random.js';
import { reduceReference } from './reference.js';

const device = useDevice();

/** Reference over arbitrary axes: reduce each axis in turn with the (outer, reduced, inner) loop. */
function referenceOver(x: Float64Array, shape: number[], axes: number[], op: 'sum' | 'mean' | 'max'): Float64Array {
  let data = x;
  let current = [...shape];
  for (const axis of axes) {
    const outer = current.slice(0, axis).reduce((p, d) => p * d, 1);
    const inner = current.slice(axis + 1).reduce((p, d) => p * d, 1);
    data = reduceReference(data, outer, current[axis], inner, op);
    current[axis] = 1;
  }
  return data;
}

const cases: [number[], number[]][] = [
  [[7], [0]],
  [[3, 33], [1]],
  [[3, 33], [0]],
  [[2, 5, 7], [0, 2]],
  [[4, 3, 2, 5], [1, 2]],
  [[2, 3, 4], [0, 1, 2]],
  [[3000], [0]], // Two-pass chunked path.
  [[2, 2500], [1]],
];

describe.each(['sum', 'mean', 'max'] as const)('%s', (op) => {
  const fn = { sum, mean, max }[op];
  for (const [shape, axes] of cases) {
    it(`[${shape}] over axes [${axes}]`, async () => {
      const size = shape.reduce((p, d) => p * d, 1);
      await checkForwardAndGradients(device(), {
        what: `${op} [${shape}] axes [${axes}]`,
        // Distinct values keep max's argmax unique, so its gradient is well defined.
        inputs: [{ shape, data: randomArray(size, size + axes.length, -2, 2) }],
        gpu: ([x]) => fn(x, axes),
        reference: ([x]) => referenceOver(x, shape, axes, op),
        // Long float32 sums carry rounding of order sqrt(n) ulps.
        forwardTolerance: size > 1000 ? 1e-3 : 1e-4,
      });
    });
  }
});
