/** Permute and transpose with autograd: the gradient is the incoming gradient permuted back. Kernel: kernels/permute. */
import { checkAxes, inverseAxes, launchPermute, permutedShape } from '../../../kernels/permute/permute.js';
import { apply, type OpDefinition } from '../autograd.js';
import { ShapeError } from '../../gpu/errors.js';
import { emptyTensor } from '../tensor-fill.js';
import type { Tensor } from '../tensor.js';

interface PermuteAttrs {
  axes: number[];
}

function permuteTensor(x: Tensor, axes: number[]): Tensor {
  const out = emptyTensor(x.device, permutedShape(x.shape, axes), x.dtype, 'permute');
  launchPermute(x.device, x.buffer, out.buffer, x.shape, axes);
  return out;
}

export const permuteOp: OpDefinition<PermuteAttrs> = {
  name: 'permute',
  forward([x], { axes }) {
    return permuteTensor(x, axes);
  },
  backward({ attrs }, g) {
    return [permuteTensor(g, inverseAxes(attrs.axes))];
  },
};

/** out.shape[k] = x.shape[axes[k]]; negative axes count from the end. Rank ≤ 6. Always a new tensor. */
export function permute(x: Tensor, axes: readonly number[]): Tensor {
  const normalised = axes.map((a) => (a < 0 ? a + x.rank : a));
  checkAxes('permute', x.shape, normalised);
  return apply(permuteOp, [x], { axes: normalised });
}

/** Swaps two axes (negative axes count from the end). */
export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const [a, b] = [dim0 < 0 ? dim0 + x.rank : dim0, dim1 < 0 ? dim1 + x.rank : dim1];
  if (!Number.isInteger(a) || a < 0 || a >= x.rank || !Number.isInteger(b) || b < 0 || b >= x.rank) {
    throw new ShapeError(`transpose: dims (${dim0}, ${dim1}) out of range for input [${x.shape.join(', ')}]`);
  }
  const axes = [...Array(x.rank).keys()];
  [axes[a], axes[b]] = [axes[b], axes[a]];
  return apply(permuteOp, [x], { axes });
}
