/**
 * Launcher for permute: checks the axes, merges axes that move together, records one gather dispatch.
 * No autograd here (see src/tensor/ops/permute.ts).
 */
import { packParams, type Device } from '../../src/gpu/device.js';
import { ShapeError } from '../../src/gpu/errors.js';
import type { Shape } from '../../src/gpu/shape.js';
import { assertCount, gridFor, wgslFor } from '../common.js';
import { permuteWgsl } from './permute.wgsl.js';

export const MAX_PERMUTE_RANK = 6;

/** Throws unless `axes` is a permutation of 0..rank-1 for a shape of rank ≤ 6. */
export function checkAxes(kernel: string, shape: Shape, axes: readonly number[]): void {
  if (shape.length > MAX_PERMUTE_RANK) {
    throw new ShapeError(`${kernel}: input rank ${shape.length} [${shape.join(', ')}] is over ${MAX_PERMUTE_RANK}`);
  }
  const sorted = [...axes].sort((a, b) => a - b);
  if (axes.length !== shape.length || sorted.some((a, i) => a !== i)) {
    throw new ShapeError(
      `${kernel}: axes [${axes.join(', ')}] are not a permutation of 0..${shape.length - 1} for input [${shape.join(', ')}]`,
    );
  }
}

export function permutedShape(shape: Shape, axes: readonly number[]): number[] {
  return axes.map((a) => shape[a]);
}

/** The inverse permutation: permuting by `axes` and then by `inverseAxes(axes)` is the identity. */
export function inverseAxes(axes: readonly number[]): number[] {
  const inverse = new Array<number>(axes.length);
  axes.forEach((a, k) => (inverse[a] = k));
  return inverse;
}

/**
 * The gather as (output shape, input stride per output axis) with size-1 axes dropped and output axes merged where
 * they are also adjacent, in order, in the input.
 */
export function mergePermutation(shape: Shape, axes: readonly number[]): { outShape: number[]; inStrides: number[] } {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = stride;
    stride *= shape[d];
  }
  const outShape: number[] = [];
  const inStrides: number[] = [];
  for (const a of axes) {
    if (shape[a] === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && inStrides[last] === strides[a] * shape[a]) {
      outShape[last] *= shape[a];
      inStrides[last] = strides[a];
    } else {
      outShape.push(shape[a]);
      inStrides.push(strides[a]);
    }
  }
  if (outShape.length === 0) return { outShape: [1], inStrides: [1] };
  return { outShape, inStrides };
}

export function launchPermute(
  device: Device,
  input: GPUBuffer, // inShape, 32-bit elements
  output: GPUBuffer, // inShape permuted by axes
  inShape: Shape,
  axes: readonly number[],
): void {
  checkAxes('permute', inShape, axes);
  let count = 1;
  for (const d of inShape) count *= d;
  assertCount('permute', count);
  const { outShape, inStrides } = mergePermutation(inShape, axes);
  const last = outShape.length - 1;
  // v2 when the innermost axis stays innermost (stride 1) with a length divisible by 4: every other input stride is
  // then a multiple of that length, so shape and strides divide by 4 exactly.
  const width = inStrides[last] === 1 && outShape[last] % 4 === 0 ? 4 : 1;
  if (width === 4) {
    outShape[last] /= 4;
    for (let k = 0; k < last; k++) inStrides[k] /= 4;
  }
  const pad = (v: number[]) => [...v, ...new Array<number>(8 - v.length).fill(0)];
  device.dispatch({
    kernel: `permute_v${width === 4 ? 2 : 1}`,
    wgsl: wgslFor(permuteWgsl, outShape.length, width),
    buffers: [input, output],
    params: packParams([count / width, 0, 0, 0, ...pad(outShape), ...pad(inStrides)]),
    workgroups: gridFor(count / width),
    shapes: `in=[${inShape.join(',')}] axes=[${axes.join(',')}]`,
  });
}
