/**
 * The kernel-level checks every softmax variant must pass, shared by kernels/softmax/softmax.test.ts (the shipped
 * variants) and test/experiments/softmax-subgroup.test.ts (v3): forward and backward against the float64
 * reference on poisoned outputs over odd and batched shapes, extreme rows, bit-identical repeats.
 */
import { describe, expect, it } from 'vitest';
import type { Device } from '../../src/gpu/device.js';
import { softmaxBackwardReference, softmaxReference } from '../../kernels/softmax/reference.js';
import { expectClose } from './compare.js';
import { randomArray } from './random.js';

type Forward = (device: Device, input: GPUBuffer, output: GPUBuffer, rows: number, cols: number) => void;
type Backward = (device: Device, y: GPUBuffer, dy: GPUBuffer, dx: GPUBuffer, rows: number, cols: number) => void;

/** Runs one variant's forward, then its backward from the forward's y; returns y and dx. */
export async function runSoftmaxKernels(
  device: Device,
  forward: Forward,
  backward: Backward,
  x: Float32Array,
  dy: Float32Array,
  rows: number,
  cols: number,
): Promise<{ y: Float32Array; dx: Float32Array }> {
  const upload = (data: Float32Array) => {
    const buffer = device.allocate(data.length * 4, 'test input');
    device.write(buffer, data);
    return buffer;
  };
  const [xb, dyb] = [upload(x), upload(dy)];
  const yb = device.allocate(x.length * 4, 'y');
  const dxb = device.allocate(x.length * 4, 'dx');
  forward(device, xb, yb, rows, cols);
  backward(device, yb, dyb, dxb, rows, cols);
  const y = new Float32Array(await device.read(yb, x.length * 4));
  const dx = new Float32Array(await device.read(dxb, x.length * 4));
  for (const b of [xb, dyb, yb, dxb]) device.release(b);
  return { y, dx };
}

const shapes: [number, number][] = [
  [1, 1], [3, 1], [1, 7], [7, 7], [3, 33], [7, 257], [1, 1000], [3, 1000], [2, 4096], [130, 12],
  // v4: lengths 3, 129 and 770 (scalar lanes, part of the last step past the row's end), 36 and 512 (vec4), and
  // row counts that leave part of the last 8-row workgroup empty.
  [5, 3], [9, 129], [3, 770], [17, 36], [11, 512],
];

export function defineSoftmaxKernelTests(
  name: string,
  run: (x: Float32Array, dy: Float32Array, rows: number, cols: number) => Promise<{ y: Float32Array; dx: Float32Array }>,
): void {
  describe(`softmax kernels, variant ${name}`, () => {
    for (const [rows, cols] of shapes) {
      it(`rows=${rows} cols=${cols}`, async () => {
        const x = randomArray(rows * cols, rows * 1000 + cols, -8, 8);
        const dy = randomArray(rows * cols, rows * 7 + cols, -1, 1);
        const { y, dx } = await run(x, dy, rows, cols);
        const yRef = softmaxReference(x, rows, cols);
        expectClose(y, yRef, 1e-4, 'softmax forward');
        // Backward from the GPU's own y, so only the backward kernel is judged.
        expectClose(dx, softmaxBackwardReference(y, dy, rows, cols), 1e-4, 'softmax backward');
      });
    }

    it('extreme rows: all -1e9, one finite value among -1e9, ±1e4', async () => {
      const cols = 36;
      const rows = 4;
      const x = new Float32Array(rows * cols);
      x.fill(-1e9, 0, cols); // Fully masked row: uniform.
      x.fill(-1e9, cols, 2 * cols);
      x[cols + 5] = 0.5; // One real token: all mass there.
      randomArray(cols, 3, -1e4, 1e4).forEach((v, i) => (x[2 * cols + i] = v));
      x.fill(1e4, 3 * cols, 4 * cols);
      const { y } = await run(x, new Float32Array(rows * cols).fill(1), rows, cols);
      expect(y.every(Number.isFinite)).toBe(true);
      expectClose(y, softmaxReference(x, rows, cols), 1e-4, 'extreme softmax');
      expect(y[cols + 5]).toBe(1);
    });

    it('repeats bit-identically', async () => {
      const [rows, cols] = [33, 257];
      const x = randomArray(rows * cols, 5, -4, 4);
      const dy = randomArray(rows * cols, 6);
      const first = await run(x, dy, rows, cols);
      const second = await run(x, dy, rows, cols);
      expect(Buffer.from(second.y.buffer).equals(Buffer.from(first.y.buffer))).toBe(true);
      expect(Buffer.from(second.dx.buffer).equals(Buffer.from(first.dx.buffer))).toBe(true);
    });
  });
}
