/**
 * Launchers for the embedding gather and its deterministic scatter-add gradient (kernels and costs in
 * embedding.wgsl.ts). Shapes: table (T, vocab, hidden), ids (T, rowsPerSlot) i32, output (T, rowsPerSlot, hidden).
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
