/**
 * Launchers for the elementwise kernels: they take GPU buffers and shapes (no autograd), check them, pick the
 * specialisation and record one dispatch.
 */
import { packParams, type Device } from '../../src/gpu/device.js';
import { ShapeError } from '../../src/gpu/errors.js';
import type { Shape } from '../../src/gpu/shape.js';
import { assertCount, gridFor, wgslFor } from '../common.js';
import { broadcastStrides, collapseAxes, MAX_RANK } from './broadcast.js';
import { binaryWgsl, fillWgsl, unaryWgsl, type BinaryOp, type UnaryOp } from './elementwise.wgsl.js';

export function launchUnary(
  device: Device,
  op: UnaryOp,
  input: GPUBuffer, // (count)
  output: GPUBuffer, // (count)
  count: number,
  alpha = 1,
  beta = 0,
): void {
  assertCount(op, count);
  device.dispatch({
    kernel: `unary_${op}`,
    wgsl: wgslFor(unaryWgsl, op),
    buffers: [input, output],
    params: packParams([count], [alpha, beta]),
    workgroups: gridFor(count),
    shapes: `count=${count}`,
  });
}

/**
 * output = op(a, b) with NumPy broadcasting to `outShape`; with `output` null, a is updated in place (a must then
 * have the output's shape).
 */
export function launchBinary(
  device: Device,
  op: BinaryOp,
  a: GPUBuffer,
  aShape: Shape,
  b: GPUBuffer,
  bShape: Shape,
  output: GPUBuffer | null,
  outShape: Shape,
): void {
  let count = 1;
  for (const d of outShape) count *= d;
  assertCount(op, count);
  if (outShape.length > MAX_RANK) throw new ShapeError(`${op}: rank ${outShape.length} is over ${MAX_RANK}`);
  const merged = collapseAxes(outShape, [broadcastStrides(aShape, outShape), broadcastStrides(bShape, outShape)]);
  const rank = merged.shape.length;
  const contiguous = rank === 1 && merged.strides[0][0] === 1 && merged.strides[1][0] === 1;
  const inplace = output === null;
  if (inplace && !(merged.strides[0].every((s, i) => s !== 0 || merged.shape[i] === 1))) {
    throw new ShapeError(`${op} in place: a [${aShape.join(', ')}] must have the output's shape [${outShape.join(', ')}]`);
  }
  const slots = Math.ceil(rank / 4) * 4;
  const pad = (v: number[]) => [...v, ...new Array<number>(slots - v.length).fill(0)];
  device.dispatch({
    kernel: `binary_${op}${inplace ? '_inplace' : ''}`,
    wgsl: wgslFor(binaryWgsl, { op, rank, contiguous, inplace }),
    buffers: inplace ? [a, b] : [a, b, output],
    params: packParams([count, 0, 0, 0, ...pad(merged.shape), ...pad(merged.strides[0]), ...pad(merged.strides[1])]),
    workgroups: gridFor(count),
    shapes: `a=[${aShape.join(',')}] b=[${bShape.join(',')}] out=[${outShape.join(',')}]`,
  });
}

export function launchFill(device: Device, output: GPUBuffer, count: number, value: number, dtype: 'f32' | 'i32'): void {
  assertCount('fill', count);
  const params = dtype === 'f32' ? packParams([count], [value]) : packParams([count, value >>> 0]);
  device.dispatch({
    kernel: `fill_${dtype}`,
    wgsl: wgslFor(fillWgsl, dtype),
    buffers: [output],
    params,
    workgroups: gridFor(count),
    shapes: `count=${count}`,
  });
}
