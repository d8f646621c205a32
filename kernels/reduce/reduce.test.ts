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
import { packParams, type Device } from '../../src/gpu/device.js';
import { gridFor } from '../common.js';
import { launchReduce, launchReduceSumBatched, reduceBatchCapacity, reduceColumns } from './reduce.js';
import { reduceWorkgroupWgsl } from './reduce.wgsl.js';
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

describe.each([true, false])('launchReduceSumBatched, CPU adapter: %s', (software) => {
  // A linear layer's bias gradients (short and long, narrow and wide, per trial), odd inner, a last column block
  // past inner, and more entries than one dispatch takes.
  const shapes: [number, number, number][] = [
    [1, 2048, 64], [1, 2048, 256], [1, 32, 2], [4, 300, 64], [3, 1500, 5], [2, 777, 3], [1, 16384, 1], [5, 300, 13],
    [1, 1, 7], [2, 513, 1000],
  ];
  it(`${shapes.length} entries: each has launchReduce v2's bits (one pass), and accumulates when asked`, async () => {
    const d = device();
    await asAdapter(software, async () => {
      const inputs = shapes.map(([outer, reduced, inner], k) => {
        const data = randomArray(outer * reduced * inner, 100 + k, -2, 2);
        const buffer = d.allocate(data.length * 4, `input ${k}`);
        d.write(buffer, data);
        return { data, buffer };
      });
      const starts = shapes.map(([outer, , inner], k) => randomArray(outer * inner, 200 + k, -1, 1));
      const outputs = shapes.map(([outer, , inner], k) => {
        const buffer = d.allocate(outer * inner * 4, `output ${k}`); // poisoned: written entries must overwrite it
        if (k % 2 === 1) d.write(buffer, starts[k]);
        return buffer;
      });
      const dispatches = d.dispatchCount;
      launchReduceSumBatched(
        d,
        shapes.map(([outer, reduced, inner], k) => ({
          input: inputs[k].buffer, output: outputs[k], outer, reduced, inner, accumulate: k % 2 === 1,
        })),
      );
      expect(d.dispatchCount - dispatches).toBe(Math.ceil(shapes.length / reduceBatchCapacity(d)));
      for (const [k, [outer, reduced, inner]] of shapes.entries()) {
        const got = new Float32Array(await d.read(outputs[k], outer * inner * 4));
        const alone = d.allocate(outer * inner * 4, 'alone');
        launchReduceV2(d, inputs[k].buffer, alone, outer, reduced, inner);
        const v2 = new Float32Array(await d.read(alone, outer * inner * 4));
        d.release(alone);
        const expected = k % 2 === 1 ? v2.map((v, i) => Math.fround(starts[k][i] + v)) : v2;
        expect(Buffer.from(got.buffer).equals(Buffer.from(expected.buffer)), `entry ${k} [${outer}, ${reduced}, ${inner}]`).toBe(true);
        const reference = reduceReference(inputs[k].data, outer, reduced, inner, 'sum').map((v, i) => (k % 2 === 1 ? v + starts[k][i] : v));
        expectClose(got, reference, 1e-4 * Math.max(1, Math.sqrt(reduced / 100)), `entry ${k}`);
        d.release(outputs[k]);
        d.release(inputs[k].buffer);
      }
    });
  });
});

/** launchReduce's v2 in one pass whatever the shape (the launcher picks v1 for short reductions). */
function launchReduceV2(d: Device, input: GPUBuffer, output: GPUBuffer, outer: number, reduced: number, inner: number): void {
  const columns = reduceColumns(d, inner);
  const columnBlocks = Math.ceil(inner / columns);
  d.dispatch({
    kernel: 'reduce_sum_v2',
    wgsl: reduceWorkgroupWgsl('sum', columns),
    buffers: [input, output],
    params: packParams([reduced, inner, reduced, 1, columnBlocks, outer * columnBlocks], [1]),
    workgroups: gridFor(outer * columnBlocks, 1),
    shapes: 'reference',
  });
}

it('launchReduceSumBatched names a bad entry', () => {
  const d = device();
  const input = d.allocate(64, 'input');
  const output = d.allocate(64, 'output');
  const entry = { input, output, outer: 1, reduced: 4, inner: 4, accumulate: false };
  expect(() => launchReduceSumBatched(d, [{ ...entry, reduced: 20000 }])).toThrow(/entry 0 .*reduced must be an integer in \[1, 16384\]/);
  expect(() => launchReduceSumBatched(d, [{ ...entry, inner: 1000 }])).toThrow(/entry 0 .*input holds \d+ values/);
  expect(() => launchReduceSumBatched(d, [entry, { ...entry }])).toThrow(/its own output/);
  d.release(input);
  d.release(output);
});
