/**
 * Launchers for the embedding gather and its deterministic scatter-add gradient (kernels and costs in
 * embedding.wgsl.ts). Shapes: table (T, vocab, hidden), ids (T, rowsPerSlot) i32, output (T, rowsPerSlot, hidden).
 * Also the strided row selection (launchSelectRows) and its one-dispatch gradient.
 */
import { packParams, type Device } from '../../src/gpu/device.js';
import { ShapeError } from '../../src/gpu/errors.js';
import { assertCount, gridFor, wgslFor } from '../common.js';
import {
  embeddingForwardWgsl,
  embeddingGradRowsWgsl,
  embeddingHeadsWgsl,
  embeddingLinksWgsl,
  HEADS_BLOCK,
  selectFirstRowsBackwardWgsl,
  selectFirstRowsWgsl,
  selectRowsBackwardWgsl,
  selectRowsWgsl,
} from './embedding.wgsl.js';

export interface EmbeddingShape {
  slots: number;
  vocab: number;
  hidden: number;
  rowsPerSlot: number;
  /** Tests: force v1 (1) or v2 (4); by default v2 when hidden % 4 == 0. */
  forceVectorWidth?: 1 | 4;
}

function vectorWidth(hidden: number, force: 1 | 4 | undefined): 1 | 4 {
  const width = force ?? (hidden % 4 === 0 ? 4 : 1);
  if (hidden % width !== 0) throw new ShapeError(`embedding: vector width ${width} does not divide hidden ${hidden}`);
  return width;
}

function describe({ slots, vocab, hidden, rowsPerSlot }: EmbeddingShape): string {
  return `slots=${slots} vocab=${vocab} hidden=${hidden} rowsPerSlot=${rowsPerSlot}`;
}

function check(kernel: string, s: EmbeddingShape, buffers: [string, GPUBuffer, number][]): void {
  const sizes = { slots: s.slots, vocab: s.vocab, hidden: s.hidden, rowsPerSlot: s.rowsPerSlot };
  for (const [name, value] of Object.entries(sizes)) {
    const least = name === 'rowsPerSlot' ? 0 : 1;
    if (!Number.isInteger(value) || value < least) {
      throw new ShapeError(`${kernel}: ${name} ${value} must be an integer ≥ ${least}`);
    }
  }
  assertCount(kernel, s.slots * s.vocab * s.hidden);
  assertCount(kernel, s.slots * s.rowsPerSlot * s.hidden);
  for (const [what, buffer, n] of buffers) {
    if (buffer.size < n * 4) {
      throw new ShapeError(`${kernel}: ${what} holds ${buffer.size / 4} values, needs ${n} (${describe(s)})`);
    }
  }
}

export function launchEmbeddingForward(
  device: Device,
  table: GPUBuffer, // (T, vocab, hidden)
  ids: GPUBuffer, // (T, rowsPerSlot) i32
  output: GPUBuffer, // (T, rowsPerSlot, hidden)
  shape: EmbeddingShape,
): void {
  const { slots, vocab, hidden, rowsPerSlot } = shape;
  const count = slots * rowsPerSlot * hidden;
  check('embedding_forward', shape, [
    ['table', table, slots * vocab * hidden],
    ['ids', ids, slots * rowsPerSlot],
    ['output', output, count],
  ]);
  const width = vectorWidth(hidden, shape.forceVectorWidth);
  device.dispatch({
    kernel: `embedding_forward_v${width === 4 ? 2 : 1}`,
    wgsl: wgslFor(embeddingForwardWgsl, width),
    buffers: [table, ids, output],
    params: packParams([count / width, hidden / width, vocab, Math.max(rowsPerSlot, 1), 0x7fc00000]),
    workgroups: gridFor(count / width),
    shapes: describe(shape),
  });
}

/**
 * gradTable = Σ of gradOutput rows per (slot, id) in token order, every row written (zero where no token has that
 * id): three dispatches (heads and tails, links, row sums; embedding.wgsl.ts).
 */
export function launchEmbeddingBackward(
  device: Device,
  ids: GPUBuffer, // (T, rowsPerSlot) i32
  gradOutput: GPUBuffer, // (T, rowsPerSlot, hidden)
  gradTable: GPUBuffer, // (T, vocab, hidden)
  shape: EmbeddingShape,
): void {
  const { slots, vocab, hidden, rowsPerSlot } = shape;
  const tokens = slots * rowsPerSlot;
  const count = slots * vocab * hidden;
  check('embedding_backward', shape, [
    ['ids', ids, tokens],
    ['gradOutput', gradOutput, tokens * hidden],
    ['gradTable', gradTable, count],
  ]);
  const head = device.allocate(slots * vocab * 4, 'embedding_backward heads');
  const tail = device.allocate(slots * vocab * 4, 'embedding_backward tails');
  const next = device.allocate(Math.max(tokens, 1) * 4, 'embedding_backward links');
  const shapes = describe(shape);
  const blocks = Math.ceil(vocab / HEADS_BLOCK);
  device.dispatch({
    kernel: 'embedding_heads',
    wgsl: wgslFor(embeddingHeadsWgsl),
    buffers: [ids, head, tail],
    params: packParams([vocab, rowsPerSlot, blocks, slots * blocks]),
    workgroups: gridFor(slots * blocks, 1),
    shapes,
  });
  device.dispatch({
    kernel: 'embedding_links',
    wgsl: wgslFor(embeddingLinksWgsl),
    buffers: [ids, tail, next],
    params: packParams([tokens, Math.max(rowsPerSlot, 1), vocab, 0]),
    workgroups: gridFor(tokens),
    shapes,
  });
  const width = vectorWidth(hidden, shape.forceVectorWidth);
  device.dispatch({
    kernel: `embedding_grad_rows_v${width === 4 ? 2 : 1}`,
    wgsl: wgslFor(embeddingGradRowsWgsl, width),
    buffers: [gradOutput, head, next, gradTable],
    params: packParams([count / width, hidden / width]),
    workgroups: gridFor(count / width),
    shapes,
  });
  for (const buffer of [head, tail, next]) device.release(buffer);
}

/** x (slots, selected · stride, hidden) read as rows; out (slots, selected, hidden). */
export interface SelectRowsShape {
  slots: number;
  /** Rows of each slot of the output; x has selected · stride per slot. */
  selected: number;
  stride: number;
  /** Which row of each group of `stride` is selected: 0 ≤ offset < stride. */
  offset: number;
  hidden: number;
}

function selectRowsLaunch(kernel: string, s: SelectRowsShape, big: [string, GPUBuffer], small: [string, GPUBuffer]) {
  for (const [name, value, least] of [['slots', s.slots, 1], ['selected', s.selected, 0], ['stride', s.stride, 1], ['offset', s.offset, 0], ['hidden', s.hidden, 1]] as const) {
    if (!Number.isInteger(value) || value < least) throw new ShapeError(`${kernel}: ${name} ${value} must be an integer ≥ ${least}`);
  }
  if (s.offset >= s.stride) throw new ShapeError(`${kernel}: offset ${s.offset} must be below stride ${s.stride}`);
  const rows = s.slots * s.selected * s.stride;
  assertCount(kernel, rows * s.hidden);
  for (const [[what, buffer], n] of [[big, rows * s.hidden], [small, s.slots * s.selected * s.hidden]] as const) {
    if (buffer.size < n * 4) throw new ShapeError(`${kernel}: ${what} holds ${buffer.size / 4} values, needs ${n}`);
  }
  const width = s.hidden % 4 === 0 ? 4 : 1;
  return {
    width,
    rows,
    shapes: `slots=${s.slots} selected=${s.selected} stride=${s.stride} offset=${s.offset} hidden=${s.hidden}`,
  };
}

/** out[t, k] = x[t, k · stride + offset]: one gather dispatch. */
export function launchSelectRows(
  device: Device,
  x: GPUBuffer, // (slots, selected · stride, hidden)
  output: GPUBuffer, // (slots, selected, hidden)
  shape: SelectRowsShape,
): void {
  const { width, shapes } = selectRowsLaunch('select_rows', shape, ['x', x], ['output', output]);
  const count = (shape.slots * shape.selected * shape.hidden) / width;
  device.dispatch({
    kernel: `select_rows_v${width === 4 ? 2 : 1}`,
    wgsl: wgslFor(selectRowsWgsl, width as 1 | 4),
    buffers: [x, output],
    params: packParams([count, shape.hidden / width, shape.stride, shape.offset]),
    workgroups: gridFor(count),
    shapes,
  });
}

/** gradX[t, r] = gradOutput[t, r / stride] where r mod stride = offset, else 0: one dispatch writing all of gradX. */
export function launchSelectRowsBackward(
  device: Device,
  gradOutput: GPUBuffer, // (slots, selected, hidden)
  gradX: GPUBuffer, // (slots, selected · stride, hidden)
  shape: SelectRowsShape,
): void {
  const { width, rows, shapes } = selectRowsLaunch('select_rows_backward', shape, ['gradX', gradX], ['gradOutput', gradOutput]);
  const count = (rows * shape.hidden) / width;
  device.dispatch({
    kernel: `select_rows_backward_v${width === 4 ? 2 : 1}`,
    wgsl: wgslFor(selectRowsBackwardWgsl, width as 1 | 4),
    buffers: [gradOutput, gradX],
    params: packParams([count, shape.hidden / width, shape.stride, shape.offset]),
    workgroups: gridFor(count),
    shapes,
  });
}

/** x (slots, rowsPerSlot, hidden) read as rows; out (slots, batch, hidden); sequences (slots, batch, 2) i32. */
export interface SelectFirstRowsShape {
  slots: number;
  batch: number;
  rowsPerSlot: number;
  hidden: number;
}

function selectFirstRowsLaunch(kernel: string, s: SelectFirstRowsShape, big: [string, GPUBuffer], small: [string, GPUBuffer], sequences: GPUBuffer) {
  for (const [name, value] of [['slots', s.slots], ['batch', s.batch], ['rowsPerSlot', s.rowsPerSlot], ['hidden', s.hidden]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new ShapeError(`${kernel}: ${name} ${value} must be an integer ≥ 1`);
  }
  const rows = s.slots * s.rowsPerSlot;
  assertCount(kernel, rows * s.hidden);
  for (const [[what, buffer], n] of [[big, rows * s.hidden], [small, s.slots * s.batch * s.hidden], [['sequences', sequences], 2 * s.slots * s.batch]] as const) {
    if (buffer.size < n * 4) throw new ShapeError(`${kernel}: ${what} holds ${buffer.size / 4} values, needs ${n}`);
  }
  const width = s.hidden % 4 === 0 ? 4 : 1;
  return { width, rows, shapes: `slots=${s.slots} batch=${s.batch} rowsPerSlot=${s.rowsPerSlot} hidden=${s.hidden}` };
}

/**
 * out[t, b] = x[t, first row of sequence b], the rows `sequences` gives (kernels/attention's table: first row within
 * the slot, rows owned): the [CLS] rows of packed sequences. One gather dispatch.
 */
export function launchSelectFirstRows(device: Device, x: GPUBuffer, sequences: GPUBuffer, output: GPUBuffer, shape: SelectFirstRowsShape): void {
  dispatchSelectFirstRows(device, 'select_first_rows', selectFirstRowsWgsl, [x, sequences, output], shape);
}

/**
 * gradX[t, r] = gradOutput[t, b] where r is sequence b's first row, else 0: one dispatch writing all of gradX. The
 * first rows must ascend within each slot (both layouts lay sequences out in order).
 */
export function launchSelectFirstRowsBackward(device: Device, gradOutput: GPUBuffer, sequences: GPUBuffer, gradX: GPUBuffer, shape: SelectFirstRowsShape): void {
  dispatchSelectFirstRows(device, 'select_first_rows_backward', selectFirstRowsBackwardWgsl, [gradOutput, sequences, gradX], shape);
}

/** One dispatch of either kernel: an invocation per value (or vec4) of its output, (T, B, hidden) or (T, rows, hidden). */
function dispatchSelectFirstRows(
  device: Device,
  kernel: 'select_first_rows' | 'select_first_rows_backward',
  generate: (vectorWidth: 1 | 4) => string,
  [input, sequences, output]: [GPUBuffer, GPUBuffer, GPUBuffer],
  shape: SelectFirstRowsShape,
): void {
  const backward = kernel === 'select_first_rows_backward';
  const [small, big]: [string, GPUBuffer][] = backward ? [['gradOutput', input], ['gradX', output]] : [['output', output], ['x', input]];
  const { width, rows, shapes } = selectFirstRowsLaunch(kernel, shape, big, small, sequences);
  const count = ((backward ? rows : shape.slots * shape.batch) * shape.hidden) / width;
  device.dispatch({
    kernel: `${kernel}_v${width === 4 ? 2 : 1}`,
    wgsl: wgslFor(generate, width as 1 | 4),
    buffers: [input, sequences, output],
    params: packParams([count, shape.hidden / width, shape.batch, shape.rowsPerSlot]),
    workgroups: gridFor(count),
    shapes,
  });
}
