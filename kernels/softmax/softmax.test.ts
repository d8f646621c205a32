/**
 * Softmax over the last axis: every shipped kernel variant against the float64 reference on poisoned outputs (odd and
 * batched shapes, extreme rows, bit-identical repeats: test/helpers/softmax-kernel-tests.ts), the chooser, the op's
 * gradient against finite differences, bad shapes.
 */
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../src/gpu/errors.js';
import { tensor } from '../../src/tensor/create.js';
import { softmax } from '../../src/tensor/ops/softmax.js';
import { checkForwardAndGradients } from '../../test/helpers/gradcheck.js';
import { useDevice } from '../../test/helpers/gpu.js';
import { randomArray } from '../../test/helpers/random.js';
import { defineSoftmaxKernelTests, runSoftmaxKernels } from '../../test/helpers/softmax-kernel-tests.js';
import { softmaxReference } from './reference.js';
import { defaultSoftmaxVariant, launchSoftmax, launchSoftmaxBackward, subgroupLanes } from './softmax.js';
import type { SoftmaxVariant } from './softmax.wgsl.js';

const device = useDevice();

/** Runs forward and backward with one variant; returns y and dx. */
function runKernels(x: Float32Array, dy: Float32Array, rows: number, cols: number, variant: SoftmaxVariant) {
  const d = device();
  if (variant === 'registers' && subgroupLanes(d) === null) {
    console.warn(`softmax ${variant}: this device has no fixed subgroup size; checking v2 in its place`);
    variant = 'row';
  }
  return runSoftmaxKernels(
    d,
    (dev, input, output, r, c) => launchSoftmax(dev, input, output, r, c, variant),
    (dev, y, dy, dx, r, c) => launchSoftmaxBackward(dev, y, dy, dx, r, c, variant),
    x,
    dy,
    rows,
    cols,
  );
}

// The shipped variants; v3 `subgroup` is checked in test/experiments/softmax-subgroup.test.ts.
for (const variant of ['row', 'workgroup', 'registers'] as const) {
  defineSoftmaxKernelTests(variant, (x, dy, rows, cols) => runKernels(x, dy, rows, cols, variant));
}

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
