/**
 * NumPy broadcasting for elementwise kernels: the output shape, and per-input strides (0 along broadcast axes),
 * with adjacent axes merged wherever both inputs step through them alike, so most calls reach the kernel as rank 1
 * or 2 and index arithmetic stays cheap.
 */
import { ShapeError } from '../../src/gpu/errors.js';
import type { Shape } from '../../src/gpu/shape.js';

export const MAX_RANK = 8;

export function broadcastShapes(a: Shape, b: Shape, op: string): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast (axis ${i}: ${da} vs ${db})`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Contiguous strides of `shape` laid against `outShape` (right-aligned), 0 where `shape` broadcasts. */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const strides = new Array<number>(outShape.length).fill(0);
  let step = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const axis = outShape.length - shape.length + i;
    strides[axis] = shape[i] === 1 ? 0 : step;
    step *= shape[i];
  }
  return strides;
}

export interface CollapsedBroadcast {
  shape: number[];
  strides: number[][];
}

/** Merges neighbouring axes that every operand walks contiguously (or broadcasts along both). */
export function collapseAxes(shape: Shape, strides: number[][]): CollapsedBroadcast {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let axis = 0; axis < shape.length; axis++) {
    if (shape[axis] === 1) continue;
    const last = outShape.length - 1;
    const mergeable =
      last >= 0 && strides.every((s, k) => outStrides[k][last] === s[axis] * shape[axis]);
    if (mergeable) {
      outShape[last] *= shape[axis];
      strides.forEach((s, k) => (outStrides[k][last] = s[axis]));
    } else {
      outShape.push(shape[axis]);
      strides.forEach((s, k) => outStrides[k].push(s[axis]));
    }
  }
  if (outShape.length === 0) return { shape: [1], strides: strides.map(() => [1]) };
  if (outShape.length > MAX_RANK) throw new ShapeError(`broadcast of rank ${outShape.length} is over ${MAX_RANK}`);
  return { shape: outShape, strides: outStrides };
}
