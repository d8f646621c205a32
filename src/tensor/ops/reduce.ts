/** Reductions with autograd: sum, mean and max over any set of axes. Kernel: kernels/reduce. */
import { launchBinary, launchUnary } from '../../../kernels/elementwise/elementwise.js';
import { launchReduce } from '../../../kernels/reduce/reduce.js';
import type { ReduceOp } from '../../../kernels/reduce/reduce.wgsl.js';
import { apply, type OpDefinition } from '../autograd.js';
import { ShapeError } from '../../gpu/errors.js';
import { emptyTensor } from '../tensor-fill.js';
import { sizeOf, type Shape, type Tensor } from '../tensor.js';

function normaliseAxes(axes: number | readonly number[] | undefined, rank: number, op: string): number[] {
  const list = axes === undefined ? [...Array(rank).keys()] : typeof axes === 'number' ? [axes] : [...axes];
  const result = list.map((axis) => {
    const a = axis < 0 ? axis + rank : axis;
    if (!Number.isInteger(a) || a < 0 || a >= rank) throw new ShapeError(`${op}: axis ${axis} out of range for rank ${rank}`);
    return a;
  });
  return [...new Set(result)].sort((x, y) => x - y);
}

/** Reduces `axes` (kept as size-1 axes), one contiguous run at a time. `scale` multiplies the result. */
function reduceKeepDims(x: Tensor, axes: number[], op: ReduceOp, scale = 1): Tensor {
  let current = x;
  let shape = [...x.shape];
  const runs: [number, number][] = [];
  for (const axis of axes) {
    const last = runs[runs.length - 1];
    if (last && last[1] === axis) last[1] = axis + 1;
    else runs.push([axis, axis + 1]);
  }
  if (runs.length === 0) runs.push([0, 0]); // Nothing to reduce: still a copy, so the result is a new tensor.
  runs.forEach(([start, end], k) => {
    const outer = sizeOf(shape.slice(0, start));
    const reduced = sizeOf(shape.slice(start, end));
    const inner = sizeOf(shape.slice(end));
    shape = shape.map((d, i) => (i >= start && i < end ? 1 : d));
    const out = emptyTensor(x.device, shape, 'f32', `${op}`);
    launchReduce(x.device, op, current.buffer, out.buffer, outer, reduced, inner, k === runs.length - 1 ? scale : 1);
    if (current !== x) current.release();
    current = out;
  });
  return current;
}

/** Sums a broadcast gradient back to `shape` (right-aligned, as NumPy broadcasting). */
export function sumToShape(grad: Tensor, shape: Shape): Tensor {
  const offset = grad.rank - shape.length;
  const axes: number[] = [];
  grad.shape.forEach((d, i) => {
    const target = i < offset ? 1 : shape[i - offset];
    if (target === 1 && d !== 1) axes.push(i);
  });
  if (axes.length === 0 && grad.rank === shape.length) return grad.view(shape);
  const reduced = reduceKeepDims(grad, axes, 'sum');
  const view = reduced.view(shape);
  reduced.release();
  return view;
}

interface ReduceAttrs {
  axes: number[];
  keepDims: boolean;
}

function keptShape(shape: Shape, axes: number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function finalShape(shape: Shape, { axes, keepDims }: ReduceAttrs): number[] {
  return keepDims ? keptShape(shape, axes) : shape.filter((_, i) => !axes.includes(i));
}

/** g (reduced shape) spread over x's shape, times `factor`. */
function spread(g: Tensor, x: Tensor, axes: number[], factor: number): Tensor {
  const kept = keptShape(x.shape, axes);
  let source = g;
  if (factor !== 1) {
    source = emptyTensor(g.device, g.shape, 'f32', 'mean grad');
    launchUnary(g.device, 'affine', g.buffer, source.buffer, g.size, factor, 0);
  }
  const out = emptyTensor(x.device, x.shape, 'f32', 'reduce grad');
  launchBinary(x.device, 'copy_a', source.buffer, kept, source.buffer, kept, out.buffer, x.shape);
  return out;
}

function reduceOp(name: 'sum' | 'mean' | 'max'): OpDefinition<ReduceAttrs> {
  return {
    name,
    forward([x], attrs, save) {
      const count = sizeOf(attrs.axes.map((a) => x.shape[a]));
      const kept = reduceKeepDims(x, attrs.axes, name === 'max' ? 'max' : 'sum', name === 'mean' ? 1 / count : 1);
      if (name === 'max') {
        save(x);
        save(kept);
      }
      const out = kept.view(finalShape(x.shape, attrs));
      kept.release();
      return out;
    },
    backward({ inputs: [x], saved, attrs }, g) {
      const count = sizeOf(attrs.axes.map((a) => x.shape[a]));
      if (name !== 'max') return [spread(g, x, attrs.axes, name === 'mean' ? 1 / count : 1)];
      // Gradient flows to every position equal to the maximum.
      const [input, maxKept] = saved;
      const kept = keptShape(x.shape, attrs.axes);
      const difference = emptyTensor(x.device, x.shape, 'f32', 'max grad');
      launchBinary(x.device, 'sub', input.buffer, x.shape, maxKept.buffer, kept, difference.buffer, x.shape);
      const out = emptyTensor(x.device, x.shape, 'f32', 'max grad');
      launchBinary(x.device, 'equal_zero_mask', difference.buffer, x.shape, g.buffer, kept, out.buffer, x.shape);
      return [out];
    },
  };
}

export const sumOp = reduceOp('sum');
export const meanOp = reduceOp('mean');
export const maxOp = reduceOp('max');

type Axes = number | readonly number[];
export const sum = (x: Tensor, axes?: Axes, keepDims = false) =>
  apply(sumOp, [x], { axes: normaliseAxes(axes, x.rank, 'sum'), keepDims });
export const mean = (x: Tensor, axes?: Axes, keepDims = false) =>
  apply(meanOp, [x], { axes: normaliseAxes(axes, x.rank, 'mean'), keepDims });
export const max = (x: Tensor, axes?: Axes, keepDims = false) =>
  apply(maxOp, [x], { axes: normaliseAxes(axes, x.rank, 'max'), keepDims });
