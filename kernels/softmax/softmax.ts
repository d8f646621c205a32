/**
 * Launchers for softmax over the last axis: forward and backward on raw GPU buffers seen as (rows, cols), where
 * rows is the product of every leading axis (attention scores (T, B, heads, S, S) are T·B·heads·S rows of S).
 * The variant is chosen per adapter and row length (`defaultSoftmaxVariant`, measured in README.md).
 */
import { packParams, type Device } from '../../src/tensor/device.js';
import { ShapeError } from '../../src/tensor/errors.js';
import { assertCount, gridFor } from '../common.js';
import {
  ROW_WORKGROUP,
  softmaxBackwardWgsl,
  softmaxForwardWgsl,
  type SoftmaxSpec,
  type SoftmaxVariant,
} from './softmax.wgsl.js';

/** v3 needs a fixed subgroup size: its workgroup is exactly one subgroup. */
export function subgroupLanes(device: Device): number | null {
  const { subgroupMinSize, subgroupMaxSize } = device.info;
  return device.hasSubgroups && subgroupMinSize > 0 && subgroupMinSize === subgroupMaxSize ? subgroupMinSize : null;
}

/**
 * The variant that measured fastest on this kind of adapter (README.md): v2 (an invocation per row) on software
 * adapters, where v3 (a subgroup per row) measured level or slower and v1 5–20× slower; v1 (a workgroup per row)
 * elsewhere. `cols` is there for a per-length choice on real GPUs, not yet measured.
 */
export function defaultSoftmaxVariant(device: Device, _cols: number): SoftmaxVariant {
  return device.info.isSoftware ? 'row' : 'workgroup';
}

function checkRows(kernel: string, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || rows < 0) throw new ShapeError(`${kernel}: rows must be a whole number >= 0, got ${rows}`);
  if (!Number.isInteger(cols) || cols < 0) throw new ShapeError(`${kernel}: cols must be a whole number >= 0, got ${cols}`);
  assertCount(kernel, rows * cols);
}

function specFor(device: Device, kernel: string, variant: SoftmaxVariant, cols: number): SoftmaxSpec {
  if (variant !== 'subgroup') return { variant, vec4: variant === 'row' && cols % 4 === 0 };
  const lanes = subgroupLanes(device);
  if (lanes === null) throw new ShapeError(`${kernel}: needs the subgroups feature with a fixed subgroup size`);
  return { variant, vec4: cols % 4 === 0, lanes };
}

function gridForVariant(variant: SoftmaxVariant, rows: number): [number, number] {
  return variant === 'row' ? gridFor(rows, ROW_WORKGROUP) : gridFor(rows, 1);
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
    wgsl: softmaxForwardWgsl(spec),
    buffers: [input, output],
    params: packParams([rows, spec.vec4 ? cols / 4 : cols]),
    workgroups: gridForVariant(variant, rows),
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
  const kernel = `softmax_backward_${variant}`;
  checkRows(kernel, rows, cols);
  if (rows === 0 || cols === 0) return;
  const spec = specFor(device, kernel, variant, cols);
  device.dispatch({
    kernel,
    wgsl: softmaxBackwardWgsl(spec),
    buffers: [y, dy, dx],
    params: packParams([rows, spec.vec4 ? cols / 4 : cols]),
    workgroups: gridForVariant(variant, rows),
    shapes: `rows=${rows} cols=${cols}`,
  });
}
