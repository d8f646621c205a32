/**
 * Launchers for the experimental softmax v3 `subgroup` (subgroup.wgsl.ts): the same arguments and checks as
 * kernels/softmax's `launchSoftmax` and `launchSoftmaxBackward`, one workgroup (one subgroup) per row. Used by the
 * softmax benchmark (kernels/softmax/softmax.bench.ts) and test/experiments/softmax-subgroup.test.ts.
 */
import { packParams, type Device } from '../../../src/gpu/device.js';
import { ShapeError } from '../../../src/gpu/errors.js';
import { assertCount, gridFor, wgslFor } from '../../../kernels/common.js';
import { subgroupLanes } from '../../../kernels/softmax/softmax.js';
import { softmaxBackwardSubgroupWgsl, softmaxForwardSubgroupWgsl } from './subgroup.wgsl.js';

/** [vec4, lanes] after checking the shape and the device. */
function prepare(device: Device, kernel: string, rows: number, cols: number): [boolean, number] {
  if (!Number.isInteger(rows) || rows < 0) throw new ShapeError(`${kernel}: rows must be a whole number >= 0, got ${rows}`);
  if (!Number.isInteger(cols) || cols < 0) throw new ShapeError(`${kernel}: cols must be a whole number >= 0, got ${cols}`);
  assertCount(kernel, rows * cols);
  const lanes = subgroupLanes(device);
  if (lanes === null) throw new ShapeError(`${kernel}: needs the subgroups feature with a fixed subgroup size`);
  return [cols % 4 === 0, lanes];
}

/** output = softmax(input) along each row of (rows, cols). */
export function launchSoftmaxSubgroup(device: Device, input: GPUBuffer, output: GPUBuffer, rows: number, cols: number): void {
  const kernel = 'softmax_subgroup';
  const [vec4, lanes] = prepare(device, kernel, rows, cols);
  if (rows === 0 || cols === 0) return;
  device.dispatch({
    kernel,
    wgsl: wgslFor(softmaxForwardSubgroupWgsl, vec4, lanes),
    buffers: [input, output],
    params: packParams([rows, vec4 ? cols / 4 : cols]),
    workgroups: gridFor(rows, 1),
    shapes: `rows=${rows} cols=${cols}`,
  });
}

/** dx = y ⊙ (dy − Σ_row dy ⊙ y), with y the forward's output. */
export function launchSoftmaxBackwardSubgroup(
  device: Device,
  y: GPUBuffer,
  dy: GPUBuffer,
  dx: GPUBuffer,
  rows: number,
  cols: number,
): void {
  const kernel = 'softmax_backward_subgroup';
  const [vec4, lanes] = prepare(device, kernel, rows, cols);
  if (rows === 0 || cols === 0) return;
  device.dispatch({
    kernel,
    wgsl: wgslFor(softmaxBackwardSubgroupWgsl, vec4, lanes),
    buffers: [y, dy, dx],
    params: packParams([rows, vec4 ? cols / 4 : cols]),
    workgroups: gridFor(rows, 1),
    shapes: `rows=${rows} cols=${cols}`,
  });
}
