/**
 * Launchers for the fused embeddings block (embeddings-layernorm.wgsl.ts) on raw buffers: tables (slots, count,
 * hidden), ids (slots, rowsPerSlot) i32, rows (slots, rowsPerSlot, hidden), weight and bias (slots, hidden). The
 * forward is one dispatch; the backward one row dispatch (dropout's backward and LN's dx), kernels/layernorm's
 * weight/bias launch on z, kernels/embedding's scatter for the word table, and for the position table one column
 * dispatch when the positions are periodic, else the embedding scatter.
 */
import { packParams, type Device } from '../../src/gpu/device.js';
import { ShapeError } from '../../src/gpu/errors.js';
import { assertCount, gridFor, wgslFor } from '../common.js';
import { rowDropoutFields, type RowDropout } from '../dropout/dropout.js';
import { launchEmbeddingBackward } from '../embedding/embedding.js';
import { launchLayerNormBackward } from '../layernorm/layernorm.js';
import {
  EMBEDDINGS_LAYERNORM_WORKGROUP,
  embeddingsLayerNormBackwardWgsl,
  embeddingsLayerNormForwardWgsl,
  periodicPositionGradWgsl,
  sequencePositionGradWgsl,
} from './embeddings-layernorm.wgsl.js';

const NAN_BITS = 0x7fc00000;

/** The dropout on the normalised rows (kernels/dropout's row dropout). */
export type EmbeddingsDropout = RowDropout;

export interface EmbeddingsShape {
  slots: number;
  rowsPerSlot: number;
  hidden: number;
  vocab: number;
  positions: number;
  /**
   * S where positionIds[t, r] = r mod S for every row r of a slot (uploadBatch's layout): the kernels compute the
   * position and its gradient from it and never read positionIds. 0: read positionIds (any ids).
   */
  period: number;
}

/** Storage buffers each kernel binds: at most 13 (forward with dropout and positionIds), over WebGPU's guaranteed 8. */
export function embeddingsLayerNormBindings(dropout: boolean, periodic: boolean): { forward: number; backward: number } {
  return { forward: 9 + (periodic ? 0 : 1) + (dropout ? 3 : 0), backward: dropout ? 11 : 7 };
}

/** Whether this device can bind what the kernels need (else compose embedding, add, layerNorm and dropout). */
export function embeddingsLayerNormFits(device: Device, dropout: boolean, periodic: boolean): boolean {
  const { forward, backward } = embeddingsLayerNormBindings(dropout, periodic);
  return device.limits.maxStorageBuffersPerShaderStage >= Math.max(forward, backward);
}

interface Layout {
  rows: number;
  width: number;
  quads: number;
  rowsPerDropoutSlot: number;
  rowsPerBlock: number;
  callOffset: number;
}

function layout(kernel: string, device: Device, s: EmbeddingsShape, dropout: EmbeddingsDropout | null): Layout {
  for (const [name, value, min] of [
    ['slots', s.slots, 1], ['rowsPerSlot', s.rowsPerSlot, 0], ['hidden', s.hidden, 1], ['vocab', s.vocab, 1],
    ['positions', s.positions, 1], ['period', s.period, 0],
  ] as const) {
    if (!Number.isInteger(value) || value < min) throw new ShapeError(`${kernel}: ${name} must be a whole number >= ${min}, got ${value}`);
  }
  if (s.period > s.positions) throw new ShapeError(`${kernel}: period ${s.period} is over the position table's ${s.positions} rows`);
  const rows = s.slots * s.rowsPerSlot;
  assertCount(kernel, rows * s.hidden);
  assertCount(kernel, s.slots * Math.max(s.vocab, s.positions) * s.hidden);
  if (!embeddingsLayerNormFits(device, dropout !== null, s.period > 0)) {
    const needed = Math.max(...Object.values(embeddingsLayerNormBindings(dropout !== null, s.period > 0)));
    throw new ShapeError(`${kernel}: needs ${needed} storage buffers per stage, this device allows ${device.limits.maxStorageBuffersPerShaderStage}`);
  }
  const vec4 = s.hidden % 4 === 0;
  return { rows, width: vec4 ? s.hidden / 4 : s.hidden, quads: Math.ceil(s.hidden / 4), ...rowDropoutFields(kernel, dropout, rows, s.hidden) };
}

function packed(s: EmbeddingsShape, l: Layout, eps = 0): ArrayBuffer {
  return packParams(
    [l.rows, l.width, Math.max(s.rowsPerSlot, 1), s.hidden, l.quads, s.vocab, s.positions, Math.max(s.period, 1),
      l.rowsPerDropoutSlot, l.rowsPerBlock, l.callOffset, NAN_BITS],
    [eps],
  );
}

function describe(s: EmbeddingsShape, d: EmbeddingsDropout | null): string {
  const dropout = d ? ` dropout slotShape=[${d.slotShape.join(', ')}] callOffset=${d.callOffset}` : '';
  return `slots=${s.slots} rowsPerSlot=${s.rowsPerSlot} hidden=${s.hidden} vocab=${s.vocab} positions=${s.positions} period=${s.period}${dropout}`;
}

const dropoutBuffers = (d: EmbeddingsDropout | null) => (d ? [d.seeds, d.probabilities, d.callBase] : []);

/**
 * z = words[t, inputIds] + positions[t, positionIds]; y = dropout((z − mean) · rstd · weight[t] + bias[t]); also
 * mean and rstd per row. `positionIds` is not read (may be null) when `shape.period` > 0.
 */
export function launchEmbeddingsLayerNorm(
  device: Device,
  words: GPUBuffer, // (slots, vocab, hidden)
  positionTable: GPUBuffer, // (slots, positions, hidden)
  inputIds: GPUBuffer, // (slots, rowsPerSlot) i32
  positionIds: GPUBuffer | null, // (slots, rowsPerSlot) i32
  weight: GPUBuffer, // (slots, hidden)
  bias: GPUBuffer, // (slots, hidden)
  z: GPUBuffer, // (slots, rowsPerSlot, hidden): the gathered sum, for the backward
  y: GPUBuffer, // (slots, rowsPerSlot, hidden)
  mean: GPUBuffer, // (slots, rowsPerSlot)
  rstd: GPUBuffer, // (slots, rowsPerSlot)
  shape: EmbeddingsShape,
  eps: number,
  dropout: EmbeddingsDropout | null, // null: no dropout (evaluation)
): void {
  const kernel = dropout ? 'embeddings_layernorm_dropout' : 'embeddings_layernorm';
  const l = layout(kernel, device, shape, dropout);
  if (!(eps >= 0)) throw new ShapeError(`${kernel}: eps must be >= 0, got ${eps}`);
  const periodic = shape.period > 0;
  if (!periodic && !positionIds) throw new ShapeError(`${kernel}: positionIds are needed without a period`);
  if (l.rows === 0) return;
  device.dispatch({
    kernel,
    wgsl: wgslFor(embeddingsLayerNormForwardWgsl, shape.hidden % 4 === 0, dropout !== null, periodic),
    buffers: [words, positionTable, inputIds, weight, bias, z, y, mean, rstd, ...(periodic ? [] : [positionIds!]), ...dropoutBuffers(dropout)],
    params: packed(shape, l, eps),
    workgroups: gridFor(l.rows, EMBEDDINGS_LAYERNORM_WORKGROUP),
    shapes: describe(shape, dropout),
  });
}

/**
 * Gradients from dy (of y): the word table's (when given) by kernels/embedding's scatter, the position table's
 * (when given) by one column dispatch (periodic) or the scatter, weight and bias (both or neither) by
 * kernels/layernorm's partial sums on z. `dz` is scratch for the rows' gradient, (slots, rowsPerSlot, hidden).
 * `weightRows` instead of dweight and dbias: the row kernel writes the rows dy·ẑ into `dyxhat` and, with dropout,
 * the masked dy into `maskedDy` (else dy is LN's dy): their column sums are the weight and bias gradients, which
 * the caller computes (autograd batches them with other layers': src/tensor/deferred-sum.ts).
 */
export function launchEmbeddingsLayerNormBackward(
  device: Device,
  inputIds: GPUBuffer, // (slots, rowsPerSlot) i32
  positionIds: GPUBuffer | null, // (slots, rowsPerSlot) i32; unread when periodic
  z: GPUBuffer, // (slots, rowsPerSlot, hidden)
  weight: GPUBuffer, // (slots, hidden)
  mean: GPUBuffer, // (slots, rowsPerSlot)
  rstd: GPUBuffer, // (slots, rowsPerSlot)
  dy: GPUBuffer, // (slots, rowsPerSlot, hidden)
  gradWords: GPUBuffer | null, // (slots, vocab, hidden)
  gradPositions: GPUBuffer | null, // (slots, positions, hidden)
  dweight: GPUBuffer | null, // (slots, hidden)
  dbias: GPUBuffer | null, // (slots, hidden)
  shape: EmbeddingsShape,
  dropout: EmbeddingsDropout | null,
  weightRows: { dyxhat: GPUBuffer; maskedDy: GPUBuffer | null } | null = null, // each (slots, rowsPerSlot, hidden)
  /**
   * Positions that count up along these sequences ((slots, batch, 2) i32: first row, rows owned; uploadBatch's
   * packed layout): the position table's gradient is one dispatch (sequencePositionGradWgsl) instead of the scatter.
   */
  positionSequences: { sequences: GPUBuffer; batch: number } | null = null,
): void {
  const kernel = dropout ? 'embeddings_layernorm_dropout_backward' : 'embeddings_layernorm_backward';
  const l = layout(kernel, device, shape, dropout);
  if ((dweight === null) !== (dbias === null)) throw new ShapeError(`${kernel}: give both dweight and dbias, or neither`);
  if (weightRows && dweight) throw new ShapeError(`${kernel}: give weightRows or dweight and dbias, not both`);
  if (weightRows && (weightRows.maskedDy !== null) !== (dropout !== null)) {
    throw new ShapeError(`${kernel}: weightRows needs a maskedDy buffer exactly when there is a dropout`);
  }
  for (const [what, buffer] of [['dyxhat', weightRows?.dyxhat], ['maskedDy', weightRows?.maskedDy]] as const) {
    if (buffer && buffer.size < l.rows * shape.hidden * 4) throw new ShapeError(`${kernel}: ${what} holds ${buffer.size / 4} values, needs ${l.rows * shape.hidden}`);
  }
  const periodic = shape.period > 0;
  if (gradPositions && !periodic && !positionIds) throw new ShapeError(`${kernel}: positionIds are needed without a period`);
  const { slots, rowsPerSlot, hidden } = shape;
  const vec4 = hidden % 4 === 0;
  const size = Math.max(l.rows * hidden, 1) * 4;
  // The masked dy is LN's dy for its weight and bias sums; without dropout it is dy itself.
  const kept = weightRows?.maskedDy ?? (dropout ? device.allocate(size, `${kernel} masked dy`) : dy);
  const dz = gradWords || gradPositions ? device.allocate(size, `${kernel} dz`) : null;
  if (l.rows > 0 && (dz || dropout || weightRows)) {
    const rowsDz = dz ?? device.allocate(size, `${kernel} dz`);
    device.dispatch({
      kernel,
      wgsl: wgslFor(embeddingsLayerNormBackwardWgsl, vec4, dropout !== null, weightRows !== null),
      buffers: [z, weight, mean, rstd, dy, rowsDz, ...(dropout ? [kept] : []), ...dropoutBuffers(dropout), ...(weightRows ? [weightRows.dyxhat] : [])],
      params: packed(shape, l),
      workgroups: gridFor(l.rows, EMBEDDINGS_LAYERNORM_WORKGROUP),
      shapes: describe(shape, dropout),
    });
    if (!dz) device.release(rowsDz);
  }
  if (dweight && dbias) launchLayerNormBackward(device, z, weight, mean, rstd, kept, null, dweight, dbias, l.rows, hidden, slots);
  if (dz && gradWords) {
    launchEmbeddingBackward(device, inputIds, dz, gradWords, { slots, vocab: shape.vocab, hidden, rowsPerSlot });
  }
  if (dz && gradPositions && !periodic && positionSequences) {
    const width = vec4 ? hidden / 4 : hidden;
    const count = slots * shape.positions * width;
    const { sequences, batch } = positionSequences;
    if (!Number.isInteger(batch) || batch < 1 || sequences.size < 8 * slots * batch) {
      throw new ShapeError(`${kernel}: positionSequences must hold (${slots}, ${batch}, 2) i32 with batch ≥ 1, holds ${sequences.size / 4} values`);
    }
    device.dispatch({
      kernel: 'embeddings_position_grad_sequences',
      wgsl: wgslFor(sequencePositionGradWgsl, vec4),
      buffers: [dz, positionIds!, sequences, gradPositions],
      params: packParams([count, width, shape.positions, Math.max(rowsPerSlot, 1), batch]),
      workgroups: gridFor(count),
      shapes: `${describe(shape, null)} batch=${batch}`,
    });
  } else if (dz && gradPositions && !periodic) {
    launchEmbeddingBackward(device, positionIds!, dz, gradPositions, { slots, vocab: shape.positions, hidden, rowsPerSlot });
  } else if (dz && gradPositions) {
    const width = vec4 ? hidden / 4 : hidden;
    const count = slots * shape.positions * width;
    device.dispatch({
      kernel: 'embeddings_position_grad',
      wgsl: wgslFor(periodicPositionGradWgsl, vec4),
      buffers: [dz, gradPositions],
      params: packParams([count, width, shape.positions, Math.max(rowsPerSlot, 1), shape.period]),
      workgroups: gridFor(count),
      shapes: describe(shape, null),
    });
  }
  if (dz) device.release(dz);
  if (dropout && !weightRows) device.release(kept);
}
