/**
 * Reductions (sum, mean, max over any axes) against float64 loops; gradients against finite differences. The
 * launcher on its own: v1 and v2 (one dispatch, and two for a reduction past ROWS_PER_WORKGROUP rows) with v2's
 * columns chosen as for a CPU and for a GPU adapter, odd shapes, poisoned outputs, bit-identical repeats.
 */
import { describe, expect, it } from 'vitest';
import { max, mean, sum } from '../../src/tensor/ops/reduce.js';
import { checkForwardAndGradients } from '../../test/helpers/gradcheck.js';
import { useDevice } from '../../test/helpers/gpu.js';
import { expectClose } from '../../test/helpers/compare.js';
import { randomArray } from '../../test/helpers/random.js';
import { launchReduce } from './reduce.js';
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
  [[3000], [0]], // v2: a workgroup per block of outputs.
  [[2, 2500], [1]],
  [[300, 5], [0]], // v2, inner 5: 8 columns a workgroup, 3 past the end.
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

/** Runs `body` with the device taken for a GPU (true) or CPU adapter, which sets v2's columns per workgroup. */
async function asAdapter<T>(software: boolean, body: () => Promise<T>): Promise<T> {
  const info = device().info as { isSoftware: boolean };
  const saved = info.isSoftware;
  info.isSoftware = software;
  try {
    return await body();
  } finally {
    info.isSoftware = saved;
  }
}

describe.each([true, false])('launchReduce, CPU adapter: %s', (software) => {
  // [outer, reduced, inner]: v1 (short, or many outputs), v2 (bias-gradient shapes, odd inner, several outer, a last
  // column block past inner), v2 in two passes (reduced past 16384 rows, uneven chunks).
  const shapes: [number, number, number][] = [
    [3, 256, 7], [2, 40, 3000], [1, 2048, 64], [1, 2048, 256], [1, 3000, 1], [3, 1500, 5], [2, 777, 3], [5, 300, 13],
    [4, 257, 1000], [2, 600, 40], [1, 40000, 2], [2, 16385, 3],
  ];
  for (const op of ['sum', 'max'] as const) {
    for (const [outer, reduced, inner] of shapes) {
      it(`${op} outer=${outer} reduced=${reduced} inner=${inner}, repeated bit for bit`, async () => {
        const d = device();
        const size = outer * reduced * inner;
        const data = randomArray(size, size + 3, -2, 2);
        const input = d.allocate(size * 4, 'input');
        d.write(input, data);
        const run = () =>
          asAdapter(software, async () => {
            const output = d.allocate(outer * inner * 4, 'output'); // poisoned: every output must be written
            const dispatches = d.dispatchCount;
            launchReduce(d, op, input, output, outer, reduced, inner, op === 'sum' ? 0.5 : 1);
            expect(d.dispatchCount - dispatches).toBe(reduced > 16384 ? 2 : 1);
            const result = new Float32Array(await d.read(output, outer * inner * 4));
            d.release(output);
            return result;
          });
        const first = await run();
        const expected = reduceReference(data, outer, reduced, inner, op).map((v) => (op === 'sum' ? v * 0.5 : v));
        expectClose(first, expected, op === 'sum' ? 1e-4 * Math.max(1, Math.sqrt(reduced / 100)) : 1e-9, `${op}`);
        const second = await run();
        expect(Buffer.from(second.buffer).equals(Buffer.from(first.buffer))).toBe(true);
        d.release(input);
      });
    }
  }
});
