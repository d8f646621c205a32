/**
 * The kernel-level checks every layer-normalisation variant must pass, shared by kernels/layernorm/layernorm.test.ts
 * (the shipped variants) and test/experiments/layernorm-subgroup.test.ts (v2, v3): y, mean, rstd, dx, dweight and
 * dbias against the float64 reference on poisoned outputs, parameter gradients over many rows and several slots
 * (vec4 and scalar rows, rows narrower than a workgroup's column block), odd shapes, bit-identical repeats.
 */
import { describe, expect, it } from 'vitest';
import type { Device } from '../../src/gpu/device.js';
import { layerNormDxReference, layerNormReference } from '../../kernels/layernorm/reference.js';
import { expectClose } from './compare.js';
import { randomArray } from './random.js';

type Forward = (
  device: Device, x: GPUBuffer, weight: GPUBuffer, bias: GPUBuffer, y: GPUBuffer, mean: GPUBuffer, rstd: GPUBuffer,
  rows: number, hidden: number, slots: number, eps: number,
) => void;
type Backward = (
  device: Device, x: GPUBuffer, weight: GPUBuffer, mean: GPUBuffer, rstd: GPUBuffer, dy: GPUBuffer, dx: GPUBuffer | null,
  dweight: GPUBuffer | null, dbias: GPUBuffer | null, rows: number, hidden: number, slots: number,
) => void;

/** Runs one variant's forward and backward (dx, dweight, dbias); returns y, mean, rstd, dx, dweight, dbias. */
export async function runLayerNormKernels(
  d: Device,
  forward: Forward,
  backward: Backward,
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  dy: Float32Array,
  rows: number,
  hidden: number,
  slots: number,
): Promise<Float32Array[]> {
  const upload = (data: Float32Array) => {
    const buffer = d.allocate(data.length * 4, 'test');
    d.write(buffer, data);
    return buffer;
  };
  const [xb, wb, bb, dyb] = [upload(x), upload(w), upload(b), upload(dy)];
  const sizes = [rows * hidden, rows, rows, rows * hidden, slots * hidden, slots * hidden];
  const out = sizes.map((n) => d.allocate(n * 4, 'out'));
  const [y, mean, rstd, dx, dw, db] = out;
  forward(d, xb, wb, bb, y, mean, rstd, rows, hidden, slots, 1e-5);
  backward(d, xb, wb, mean, rstd, dyb, dx, dw, db, rows, hidden, slots);
  const results = await Promise.all(out.map(async (buffer, k) => new Float32Array(await d.read(buffer, sizes[k] * 4))));
  for (const buffer of [xb, wb, bb, dyb, ...out]) d.release(buffer);
  return results;
}

type Run = (
  x: Float32Array, w: Float32Array, b: Float32Array, dy: Float32Array, rows: number, hidden: number, slots: number,
) => Promise<Float32Array[]>;

/** `extraShapes`: [rows, hidden] checked for this variant only (v4: hidden 770, which v1's running sum misses). */
export function defineLayerNormKernelTests(name: string, run: Run, extraShapes: [number, number][] = []): void {
  describe(`layerNorm kernels, variant ${name}`, () => {
    // [slots, rowsPerSlot, hidden]: many rows per slot and several slots, vec4 rows (hidden 36: 9 lanes, the last of
    // 3 column blocks partial; 64: the training shape) and scalar ones (37: 5 blocks of 8, the last partial; 5: fewer
    // columns than a block). Rows per slot stay multiples of 4 for v3 (test/experiments).
    for (const [slots, perSlot, hidden] of [[3, 200, 36], [2, 1000, 37], [1, 2048, 64], [4, 76, 4], [3, 12, 5]]) {
      it(`mean, rstd and parameter gradients: T = ${slots}, ${perSlot} rows per slot, hidden ${hidden}`, async () => {
        const rows = slots * perSlot;
        const x = randomArray(rows * hidden, 1, -3, 3);
        const w = randomArray(slots * hidden, 2, 0.5, 1.5);
        const b = randomArray(slots * hidden, 3);
        const dy = randomArray(rows * hidden, 4);
        const [y, mean, rstd, dx, dw, db] = await run(x, w, b, dy, rows, hidden, slots);
        const ref = layerNormReference(x, w, b, rows, hidden, slots, 1e-5);
        expectClose(y, ref.y, 1e-4, 'y');
        // The means are near 0: judged against the scale of x (|x| ≤ 3), as v1's running sum rounds at that scale.
        expectClose(mean, ref.mean, 1e-4, 'mean', 0.03);
        expectClose(rstd, ref.rstd, 1e-4, 'rstd');
        const dwRef = new Float64Array(slots * hidden);
        const dbRef = new Float64Array(slots * hidden);
        for (let r = 0; r < rows; r++) {
          const t = Math.floor(r / perSlot);
          for (let c = 0; c < hidden; c++) {
            const g = dy[r * hidden + c];
            dwRef[t * hidden + c] += g * (x[r * hidden + c] - ref.mean[r]) * ref.rstd[r];
            dbRef[t * hidden + c] += g;
          }
        }
        expectClose(dx, layerNormDxReference(x, w, dy, rows, hidden, slots, 1e-5), 1e-4, 'dx');
        expectClose(dw, dwRef, 1e-4, 'dweight');
        expectClose(db, dbRef, 1e-4, 'dbias');
      });
    }

    // v4 also: hidden 3, 129, 770 (scalar lanes, part of the last step past the row's end), 768 (24 vec4s per lane);
    // 16 and 24 rows (16 and 8 rows per subgroup), 12 (4 rows per subgroup), 64 and 96 (64 and 32 rows per subgroup,
    // 2 and 4 subgroups per workgroup), 192 (3 blocks of 64: the last workgroup's second subgroup is past the end). Hidden 770 only for v4: v1's single
    // scalar running sum over 770 values reached 1.2e-4 relative error (v4 sums per lane, then across the subgroup).
    for (const [rows, hidden] of [[4, 1], [4, 7], [8, 33], [4, 257], [4, 1000], [12, 35], [4, 3], [16, 129], [24, 768], [16, 256], [64, 768], [96, 36], [192, 100], ...extraShapes]) {
      it(`rows=${rows} hidden=${hidden}: y and dx`, async () => {
        const x = randomArray(rows * hidden, rows + hidden, -2, 2);
        const w = randomArray(hidden, 2, 0.5, 1.5);
        const b = randomArray(hidden, 3);
        const dy = randomArray(rows * hidden, 4);
        const [y, , , dx] = await run(x, w, b, dy, rows, hidden, 1);
        const ref = layerNormReference(x, w, b, rows, hidden, 1, 1e-5);
        expectClose(y, ref.y, 1e-4, 'y');
        // dx = rstd·(g − mean g − x̂·mean(g·x̂)), g = dy·w: judged against the size of the terms that cancel. At
        // hidden 1 they cancel exactly (dx ≡ 0), and a GPU that fuses dy·w − mean g into one FMA (NVIDIA does; SPIR-V
        // allows it) leaves a rounding residual of ~1 ulp of g times rstd, which is right, not an error.
        const cancelled = Math.max(...ref.rstd) * Math.sqrt(dy.reduce((sum, v, i) => sum + (v * w[i % hidden]) ** 2, 0) / dy.length);
        expectClose(dx, layerNormDxReference(x, w, dy, rows, hidden, 1, 1e-5), 1e-4, 'dx', 0.01 * cancelled);
      });
    }

    it('repeats bit-identically', async () => {
      const [slots, rows, hidden] = [3, 3 * 152, 36];
      const args = [randomArray(rows * hidden, 5), randomArray(slots * hidden, 6), randomArray(slots * hidden, 7), randomArray(rows * hidden, 8)] as const;
      const first = await run(...args, rows, hidden, slots);
      const second = await run(...args, rows, hidden, slots);
      first.forEach((a, k) => expect(Buffer.from(second[k].buffer).equals(Buffer.from(a.buffer))).toBe(true));
    });
  });
}
