/**
 * Softmax over the last axis: both kernel variants against the float64 reference on poisoned outputs (odd and
 * batched shapes), the op's gradient against finite differences, extreme rows, bit-identical repeats, bad shapes.
 */
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../src/gpu/errors.js';
import { tensor } from '../../src/tensor/create.js';
import { softmax } from '../../src/tensor/ops/softmax.js';
import { expectClose } from '../../test/helpers/compare.js';
import { checkForwardAndGradients } from '../../test/helpers/gradcheck.js';
import { useDevice } from '../../test/helpers/gpu.js';
import { randomArray } from '../../test/helpers/random.js';
import { softmaxBackwardReference, softmaxReference } from './reference.js';
import { defaultSoftmaxVariant, launchSoftmax, launchSoftmaxBackward, subgroupLanes } from './softmax.js';
import type { SoftmaxVariant } from './softmax.wgsl.js';

const device = useDevice();

function upload(data: Float32Array): GPUBuffer {
  const buffer = device().allocate(data.length * 4, 'test input');
  device().write(buffer, data);
  return buffer;
}

async function download(buffer: GPUBuffer, count: number): Promise<Float32Array> {
  return new Float32Array(await device().read(buffer, count * 4));
}

/** Runs forward and backward with one variant; returns y and dx. */
async function runKernels(x: Float32Array, dy: Float32Array, rows: number, cols: number, variant: SoftmaxVariant) {
  const d = device();
  if ((variant === 'subgroup' || variant === 'registers') && subgroupLanes(d) === null) {
    console.warn(`softmax ${variant}: this device has no fixed subgroup size; checking v2 in its place`);
    variant = 'row';
  }
  const [xb, dyb] = [upload(x), upload(dy)];
  const yb = d.allocate(x.length * 4, 'y');
  const dxb = d.allocate(x.length * 4, 'dx');
  launchSoftmax(d, xb, yb, rows, cols, variant);
  launchSoftmaxBackward(d, yb, dyb, dxb, rows, cols, variant);
  const y = await download(yb, x.length);
  const dx = await download(dxb, x.length);
  for (const b of [xb, dyb, yb, dxb]) d.release(b);
  return { y, dx };
}

const shapes: [number, number][] = [
  [1, 1], [3, 1], [1, 7], [7, 7], [3, 33], [7, 257], [1, 1000], [3, 1000], [2, 4096], [130, 12],
  // v4: lengths 3, 129 and 770 (scalar lanes, part of the last step past the row's end), 36 and 512 (vec4), and
  // row counts that leave part of the last 8-row workgroup empty.
  [5, 3], [9, 129], [3, 770], [17, 36], [11, 512],
];

describe.each(['row', 'workgroup', 'subgroup', 'registers'] as const)('softmax kernels, variant %s', (variant) => {
  for (const [rows, cols] of shapes) {
    it(`rows=${rows} cols=${cols}`, async () => {
      const x = randomArray(rows * cols, rows * 1000 + cols, -8, 8);
      const dy = randomArray(rows * cols, rows * 7 + cols, -1, 1);
      const { y, dx } = await runKernels(x, dy, rows, cols, variant);
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
    const { y } = await runKernels(x, new Float32Array(rows * cols).fill(1), rows, cols, variant);
    expect(y.every(Number.isFinite)).toBe(true);
    expectClose(y, softmaxReference(x, rows, cols), 1e-4, 'extreme softmax');
    expect(y[cols + 5]).toBe(1);
  });

  it('repeats bit-identically', async () => {
    const [rows, cols] = [33, 257];
    const x = randomArray(rows * cols, 5, -4, 4);
    const dy = randomArray(rows * cols, 6);
    const first = await runKernels(x, dy, rows, cols, variant);
    const second = await runKernels(x, dy, rows, cols, variant);
    expect(Buffer.from(second.y.buffer).equals(Buffer.from(first.y.buffer))).toBe(true);
    expect(Buffer.from(second.dx.buffer).equals(Buffer.from(first.dx.buffer))).toBe(true);
  });
});

describe('softmax op', () => {
  const cases: number[][] = [[1], [7], [3, 33], [2, 3, 17], [3, 2, 2, 5, 5], [2, 257], [1, 1000]];
  for (const shape of cases) {
    it(`[${shape}] forward and gradient`, async () => {
      const size = shape.reduce((p, d) => p * d, 1);
      const cols = shape[shape.length - 1];
      await checkForwardAndGradients(device(), {
        what: `softmax [${shape}]`,
        inputs: [{ shape, data: randomArray(size, size + 11, -3, 3) }],
        gpu: ([x]) => softmax(x),
        reference: ([x]) => softmaxReference(x, size / cols, cols),
      });
    });
  }

  it('picks v4 on lavapipe for rows of whole vec4s up to 256 columns, else v2; v1 on hardware', () => {
    const d = device();
    const v4 = subgroupLanes(d) === 8 ? 'registers' : 'row';
    expect(defaultSoftmaxVariant(d, 128)).toBe(d.info.isSoftware ? v4 : 'workgroup');
    expect(defaultSoftmaxVariant(d, 256)).toBe(d.info.isSoftware ? v4 : 'workgroup');
    expect(defaultSoftmaxVariant(d, 512)).toBe(d.info.isSoftware ? 'row' : 'workgroup');
    expect(defaultSoftmaxVariant(d, 127)).toBe(d.info.isSoftware ? 'row' : 'workgroup');
  });

  it('bad shapes throw ShapeError naming the kernel', () => {
    const d = device();
    const b = d.allocate(64, 'x');
    expect(() => launchSoftmax(d, b, b, -1, 4)).toThrow(ShapeError);
    expect(() => launchSoftmax(d, b, b, 2, 1.5)).toThrow(/softmax_.*cols must be a whole number >= 0, got 1.5/);
    expect(() => launchSoftmaxBackward(d, b, b, b, 2.5, 4)).toThrow(/softmax_backward_.*rows.*2.5/);
    d.release(b);
    const scalar = tensor(d, [1], []);
    expect(() => softmax(scalar)).toThrow(/softmax: needs at least one axis/);
    const ints = tensor(d, new Int32Array([1, 2]), [2]);
    expect(() => softmax(ints)).toThrow(/softmax: needs an f32 tensor, got i32 \[2\]/);
    scalar.release();
    ints.release();
  });
});
