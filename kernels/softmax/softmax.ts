/**
 * Launchers for softmax over the last axis: forward and backward on raw GPU buffers seen as (rows, cols), where
 * rows is the product of every leading axis (attention scores (T, B, heads, S, S) are T·B·heads·S rows of S).
 * The variant is chosen per adapter and row length (`defaultSoftmaxVariant`, measured in README.md).
 */
import { packParams, type Device } from '../../src/gpu/device.js';
import { ShapeError } from '../../src/gpu/errors.js';
import { assertCount, gridFor, wgslFor } from '../common.js';
import {
  REGISTERS_ROWS,
  ROW_WORKGROUP,
  softmaxBackwardWgsl,
  softmaxForwardWgsl,
  type SoftmaxSpec,
  type SoftmaxVariant,
} from './softmax.wgsl.js';

/** v4 (and the experimental v3, bench/experiments/softmax) needs a fixed subgroup size: a row is one subgroup. */
export function subgroupLanes(device: Device): number | null {
  const { subgroupMinSize, subgroupMaxSize } = device.info;
  return device.hasSubgroups && subgroupMinSize > 0 && subgroupMinSize === subgroupMaxSize ? subgroupMinSize : null;
}

/**
 * v4 is the default up to this many vec4s per lane (256 columns with 8 lanes): ahead of v2 at 128 and 256 columns,
 * level with or behind it at 512 (16 per lane: the unrolled code and its spills grow with the row; README.md).
 */
export const MAX_HELD = 8;

/**
 * The variant that measured fastest on this kind of adapter (README.md). Software adapters (lavapipe): v4 (a
 * subgroup per row, the row in registers: x read once) when it has a fixed subgroup size, rows of whole vec4s and
 * at most MAX_HELD vec4s per lane, else v2 (an invocation per row); v3 (now bench/experiments/softmax) measured level
 * or slower, v1 5–20× slower.
 * Elsewhere v1 (a workgroup per row). The backward of v4 is v2's.
 */
export function defaultSoftmaxVariant(device: Device, cols: number): SoftmaxVariant {
  if (!device.info.isSoftware) return 'workgroup';
  const lanes = subgroupLanes(device);
  return lanes !== null && cols % 4 === 0 && cols / 4 <= lanes * MAX_HELD ? 'registers' : 'row';
}

function checkRows(kernel: string, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || rows < 0) throw new ShapeError(`${kernel}: rows must be a whole number >= 0, got ${rows}`);
  if (!Number.isInteger(cols) || cols < 0) throw new ShapeError(`${kernel}: cols must be a whole number >= 0, got ${cols}`);
  assertCount(kernel, rows * cols);
}

function specFor(device: Device, kernel: string, variant: SoftmaxVariant, cols: number): SoftmaxSpec {
  if (variant === 'row' || variant === 'workgroup') return { variant, vec4: variant === 'row' && cols % 4 === 0 };
  const lanes = subgroupLanes(device);
  if (lanes === null) throw new ShapeError(`${kernel}: needs the subgroups feature with a fixed subgroup size`);
  const vec4 = cols % 4 === 0;
  const width = vec4 ? cols / 4 : cols;
  return { variant, vec4, lanes, held: Math.ceil(width / lanes), rowsPerGroup: REGISTERS_ROWS };
}

function gridForVariant(spec: SoftmaxSpec, rows: number): [number, number] {
  if (spec.variant === 'registers') return gridFor(rows, spec.rowsPerGroup);
  return spec.variant === 'row' ? gridFor(rows, ROW_WORKGROUP) : gridFor(rows, 1);
}

/** output = softmax(input) along each row. */
export function launchSoftmax(
  device: Device,
  input: GPUBuffer, // (rows, cols)
  output: GPUBuffer, // (rows, cols)
  rows: number,
  cols: number,
  variant: SoftmaxVariant = defaultSoftmaxVariant(device, cols),
): void {
  const kernel = `softmax_${variant}`;
  checkRows(kernel, rows, cols);
  if (rows === 0 || cols === 0) return;
  const spec = specFor(device, kernel, variant, cols);
  device.dispatch({
    kernel,
    wgsl: wgslFor(softmaxForwardWgsl, spec),
    buffers: [input, output],
    params: packParams([rows, spec.vec4 ? cols / 4 : cols]),
    workgroups: gridForVariant(spec, rows),
    shapes: `rows=${rows} cols=${cols}`,
  });
}

/** dx = y ⊙ (dy − Σ_row dy ⊙ y), with y the forward's output. */
export function launchSoftmaxBackward(
  device: Device,
  y: GPUBuffer, // (rows, cols)
  dy: GPUBuffer, // (rows, cols)
  dx: GPUBuffer, // (rows, cols)
  rows: number,
  cols: number,
  variant: SoftmaxVariant = defaultSoftmaxVariant(device, cols),
): void {
  if (variant === 'registers') variant = 'row'; // v4 is a forward; its backward is v2's (README.md).
  const kernel = `softmax_backward_${variant}`;
  checkRows(kernel, rows, cols);
  if (rows === 0 || cols === 0) return;
  const spec = specFor(device, kernel, variant, cols);
  device.dispatch({
    kernel,
    wgsl: wgslFor(softmaxBackwardWgsl, spec),
    buffers: [y, dy, dx],
    params: packParams([rows, spec.vec4 ? cols / 4 : cols]),
    workgroups: gridForVariant(spec, rows),
    shapes: `rows=${rows} cols=${cols}`,
  });
}
