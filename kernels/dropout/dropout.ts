/**
 * Launcher for per-slot inverted dropout (kernel and stream layout in dropout.wgsl.ts). The same launch on the
 * gradient is the backward.
 */
import { packParams, type Device } from '../../src/gpu/device.js';
import { ShapeError } from '../../src/gpu/errors.js';
import { assertCount, gridFor, wgslFor } from '../common.js';
import { dropoutWgsl, type DropoutActivation } from './dropout.wgsl.js';

export interface DropoutLaunch {
  input: GPUBuffer; // (T, ...elementsPerSlot)
  output: GPUBuffer; // (T, ...elementsPerSlot), distinct from input
  seeds: GPUBuffer; // (T) i32/u32
  probabilities: GPUBuffer; // (T) f32
  slots: number;
  /** One slot's shape (x without its leading T): sets the (blocks, rows, rowLength) view of dropout.wgsl.ts. */
  slotShape: readonly number[];
  /** (T, 2) u32: per slot, low and high words of the call index's base (its step's, written once per step). */
  callBase: GPUBuffer;
  /** Added to the base on the GPU: the call index is base + offset, distinct per dropout site and step. */
  callOffset: number;
  /** Applied with the mask (dropout.wgsl.ts): 'tanh' drops tanh(input); 'tanh_grad' also reads `pre`. Default 'none'. */
  activation?: DropoutActivation;
  /** With 'tanh_grad': the forward's input (like input). */
  pre?: GPUBuffer;
}

/** (blocks, rowsPerBlock, rowLength) of one slot: last axis, the one before it, the product of the rest. */
export function dropoutLayout(slotShape: readonly number[]): { blocks: number; rowsPerBlock: number; rowLength: number } {
  const rowLength = slotShape.length > 0 ? slotShape[slotShape.length - 1] : 1;
  const rowsPerBlock = slotShape.length > 1 ? slotShape[slotShape.length - 2] : 1;
  const blocks = slotShape.slice(0, -2).reduce((a, b) => a * b, 1);
  return { blocks, rowsPerBlock, rowLength };
}

/**
 * A dropout fused into a row kernel (kernels/residual-layernorm, kernels/embeddings-layernorm; shader side:
 * `rowDropoutWgsl` in dropout.wgsl.ts): launchDropout's buffers and layout, over rows of `hidden` values.
 */
export interface RowDropout {
  seeds: GPUBuffer; // (T) i32/u32
  probabilities: GPUBuffer; // (T) f32
  callBase: GPUBuffer; // (T, 2) u32: low and high words of the call index's base
  slots: number;
  /** One dropout slot's shape, e.g. [B, S, hidden]: its last axis must be hidden (a dropout row is a kernel row). */
  slotShape: readonly number[];
  callOffset: number;
}

/**
 * The uniform fields a row kernel's dropout reads, after checking `dropout` against `rows` rows of `hidden`
 * values; without a dropout, fields that make the kernel's setup harmless (1, 1, 0).
 */
export function rowDropoutFields(
  kernel: string,
  dropout: RowDropout | null,
  rows: number,
  hidden: number,
): { rowsPerDropoutSlot: number; rowsPerBlock: number; callOffset: number } {
  if (!dropout) return { rowsPerDropoutSlot: 1, rowsPerBlock: 1, callOffset: 0 };
  const { blocks, rowsPerBlock, rowLength } = dropoutLayout(dropout.slotShape);
  const shape = `[${dropout.slotShape.join(', ')}]`;
  if (rowLength !== hidden) throw new ShapeError(`${kernel}: dropout slot shape ${shape} must end in hidden=${hidden}`);
  if (!Number.isInteger(dropout.slots) || dropout.slots < 1 || dropout.slots * blocks * rowsPerBlock !== rows) {
    throw new ShapeError(`${kernel}: ${dropout.slots} dropout slots of shape ${shape} do not hold ${rows} rows of hidden=${hidden}`);
  }
  if (!Number.isInteger(dropout.callOffset) || dropout.callOffset < 0 || dropout.callOffset >= 2 ** 32) {
    throw new ShapeError(`${kernel}: callOffset ${dropout.callOffset} must be a 32-bit unsigned integer`);
  }
  return { rowsPerDropoutSlot: blocks * rowsPerBlock, rowsPerBlock, callOffset: dropout.callOffset };
}

export function launchDropout(device: Device, a: DropoutLaunch): void {
  if (!Number.isInteger(a.slots) || a.slots < 1) throw new ShapeError(`dropout: slots ${a.slots} must be an integer ≥ 1`);
  if (!a.slotShape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new ShapeError(`dropout: slot shape [${a.slotShape.join(', ')}] must be non-negative integers`);
  }
  const { blocks, rowsPerBlock, rowLength } = dropoutLayout(a.slotShape);
  // Coordinates are Philox counter words: each must fit 32 bits.
  if (Math.max(blocks, rowsPerBlock, rowLength) >= 2 ** 32) throw new ShapeError(`dropout: slot shape [${a.slotShape.join(', ')}] too large`);
  const elementsPerSlot = blocks * rowsPerBlock * rowLength;
  if (!Number.isInteger(a.callOffset) || a.callOffset < 0 || a.callOffset >= 2 ** 32) {
    throw new ShapeError(`dropout: callOffset ${a.callOffset} must be a 32-bit unsigned integer`);
  }
  const count = a.slots * elementsPerSlot;
  assertCount('dropout', count);
  for (const [what, buffer, n] of [
    ['input', a.input, count],
    ['output', a.output, count],
    ['seeds', a.seeds, a.slots],
    ['probabilities', a.probabilities, a.slots],
    ['callBase', a.callBase, 2 * a.slots],
  ] as const) {
    if (buffer.size < n * 4) throw new ShapeError(`dropout: ${what} holds ${buffer.size / 4} values, needs ${n}`);
  }
  if (a.input === a.output) throw new ShapeError('dropout: input and output must be distinct buffers');
  const activation = a.activation ?? 'none';
  if ((activation === 'tanh_grad') !== (a.pre !== undefined)) throw new ShapeError(`dropout: activation '${activation}' ${a.pre ? 'takes no' : 'needs a'} pre buffer`);
  if (a.pre && a.pre.size < count * 4) throw new ShapeError(`dropout: pre holds ${a.pre.size / 4} values, needs ${count}`);
  if (a.pre === a.output) throw new ShapeError('dropout: pre and output must be distinct buffers');
  if (count === 0) return;
  const quadsPerRow = Math.ceil(rowLength / 4);
  const rowsPerSlot = blocks * rowsPerBlock;
  device.dispatch({
    kernel: activation === 'none' ? 'dropout' : `dropout_${activation}`,
    wgsl: wgslFor(dropoutWgsl, activation),
    buffers: [a.input, a.seeds, a.probabilities, a.callBase, a.output, ...(a.pre ? [a.pre] : [])],
    params: packParams([quadsPerRow, rowLength, rowsPerBlock, rowsPerSlot, a.slots, a.callOffset]),
    workgroups: gridFor(quadsPerRow * rowsPerSlot * a.slots),
    shapes: `slots=${a.slots} slotShape=[${a.slotShape.join(', ')}] callOffset=${a.callOffset}`,
  });
}
