/**
 * Launchers for fused self-attention (kernels in attention.wgsl.ts): one forward dispatch from q, k, v to the merged
 * context, two backward dispatches to dq, dk, dv. Buffers are raw GPU buffers in the Linear layers' layout
 * (T, rows, hidden), hidden = heads · headSize, rows = B·S padded or fewer packed (`AttentionLaunch.sequences`). Variants `shared` (workgroup-memory tiles, hardware adapters) and
 * `broadcast` (subgroupBroadcast, lavapipe): `defaultAttentionVariant`, reasons in attention.wgsl.ts.
 *
 * Supported shapes (`attentionUnsupported` says why not): headSize ≤ MAX_HEAD_SIZE (64; a row of q, the
 * accumulator and the gradients live in registers, D floats each), two TILE × headSize tiles within the device's
 * workgroup storage, B · heads and the row blocks within one grid dimension (65,535), T ≤ 65,535, and ≥ 13 storage
 * buffers per stage. Any S ≥ 1 (keys stream through in tiles). Other shapes take the unfused composition
 * (src/nn/attention.ts).
 */
import { packParams, type Device } from '../../src/gpu/device.js';
import { ShapeError } from '../../src/gpu/errors.js';
import { assertCount, wgslFor } from '../common.js';
import { subgroupLanes } from '../softmax/softmax.js';
import {
  attentionBackwardKeyValueWgsl,
  attentionBackwardQueryWgsl,
  attentionForwardWgsl,
  type AttentionSpec,
} from './attention.wgsl.js';

/** The largest head size the fused kernels take (BERT-base's 64). */
export const MAX_HEAD_SIZE = 64;
/** Rows per workgroup (one per invocation), at most. */
export const MAX_ROWS = 64;
/** Rows of the other side per workgroup-memory tile, at most (a multiple of 4). */
export const MAX_TILE = 32;
/** Storage buffers the backward's first kernel binds with dropout. */
const STORAGE_BUFFERS = 14;
/** The broadcast variant's lanes per subgroup (constant lane indices in its WGSL). */
const BROADCAST_LANES = 8;

/**
 * `shared`: the other side's rows go through workgroup-memory tiles (the shape for a GPU). `broadcast`: a subgroup
 * of 8 lanes loads each row once and shares it by subgroupBroadcast (lavapipe: attention.wgsl.ts says why).
 */
export type AttentionVariant = 'shared' | 'broadcast';

/** `broadcast` on software adapters with a fixed subgroup size of 8 (lavapipe), else `shared`. */
export function defaultAttentionVariant(device: Device): AttentionVariant {
  return device.info.isSoftware && subgroupLanes(device) === BROADCAST_LANES ? 'broadcast' : 'shared';
}

export interface AttentionDims {
  slots: number; // T
  batch: number; // B
  seq: number; // S
  heads: number;
  headSize: number; // d; hidden = heads · d
  /**
   * Rows of each slot in q, k, v and the outputs: B·S (the default) when every sequence has S rows (padded), fewer
   * when sequences lie end to end (packed; `AttentionLaunch.sequences` says where each starts).
   */
  rowsPerSlot?: number;
}

/** Rows per slot of the (T·rows, hidden) buffers: `rowsPerSlot`, else B·S. */
export function rowsPerSlotOf(dims: AttentionDims): number {
  return dims.rowsPerSlot ?? dims.batch * dims.seq;
}

/**
 * The (T, B, 2) sequence table of the padded layout, every sequence S rows: sequence b starts at row b·S of its
 * slot and owns S rows.
 */
export function paddedSequences(slots: number, batch: number, seq: number): Int32Array {
  const table = new Int32Array(2 * slots * batch);
  for (let n = 0; n < slots * batch; n++) {
    table[2 * n] = (n % batch) * seq;
    table[2 * n + 1] = seq;
  }
  return table;
}

/** The dropout of the attention probabilities (training), as kernels/dropout takes it. */
export interface AttentionDropout {
  seeds: GPUBuffer; // (T) i32
  probabilities: GPUBuffer; // (T) f32
  /** (T, 2) u32: per slot, low and high words of the step's call base. */
  callBase: GPUBuffer;
  /** The site's number, added to the base on the GPU (the unfused path's dropout callOffset). */
  callOffset: number;
}

export interface AttentionLaunch {
  dims: AttentionDims;
  q: GPUBuffer; // (T, rows, hidden)
  k: GPUBuffer; // (T, rows, hidden)
  v: GPUBuffer; // (T, rows, hidden)
  maskBias: GPUBuffer; // (T, B, S): 0 for tokens, −1e9 for padding keys
  /**
   * (T, B, 2) u32: per sequence, its first row within its slot and the rows it owns (≥ its tokens; S when padded).
   * The kernels write every owned row (0 past the last visited key), so the owned rows of a slot must cover all its
   * rows: packed, the last sequence owns the slot's tail.
   */
  sequences: GPUBuffer;
  /** Multiplies q before q·kᵀ: 1/√d in the model. */
  scale: number;
  /** null: no dropout (evaluation). */
  dropout: AttentionDropout | null;
  /** Default: defaultAttentionVariant(device). */
  variant?: AttentionVariant;
}

export interface AttentionForwardLaunch extends AttentionLaunch {
  context: GPUBuffer; // (T, B·S, hidden), out
  stats: GPUBuffer; // (T, B, heads, S, 2), out: per query row, max score and Σ exp(score − max)
}

export interface AttentionBackwardLaunch extends AttentionLaunch {
  context: GPUBuffer; // (T, B·S, hidden): the forward's output
  gradContext: GPUBuffer; // (T, B·S, hidden)
  stats: GPUBuffer; // (T, B, heads, S, 2): the forward's
  delta: GPUBuffer; // (T, B, heads, S): scratch, written by dispatch 1 and read by dispatch 2
  /** (T, B, heads, S, ⌈S/32⌉) u32 scratch with dropout (the regenerated mask as bits, dispatch 1 to 2); else null. */
  keepBits: GPUBuffer | null;
  gradQuery: GPUBuffer; // (T, B·S, hidden), out
  gradKey: GPUBuffer; // (T, B·S, hidden), out
  gradValue: GPUBuffer; // (T, B·S, hidden), out
}

function tileFor(device: Device, headSize: number): number {
  // Two (TILE, D) f32 tiles plus TILE vec4 row statistics (the key/value backward) must fit workgroup storage.
  let tile = MAX_TILE;
  while (tile > 4 && tile * (2 * headSize * 4 + 16) > device.limits.maxComputeWorkgroupStorageSize) tile /= 2;
  return tile;
}

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/** The specialisation for these dims: small sequences get smaller workgroups and tiles (no idle rows to redo). */
function specFor(device: Device, dims: AttentionDims, dropout: boolean, variant: AttentionVariant): AttentionSpec {
  if (variant === 'broadcast' && subgroupLanes(device) !== BROADCAST_LANES) {
    throw new ShapeError(`attention: the broadcast variant needs subgroups of exactly ${BROADCAST_LANES} lanes`);
  }
  return {
    lanes: variant === 'broadcast' ? BROADCAST_LANES : null,
    headSize: dims.headSize,
    rows: Math.min(MAX_ROWS, roundUp(dims.seq, 8)),
    tile: Math.min(tileFor(device, dims.headSize), roundUp(dims.seq, 4)),
    dropout,
  };
}

/** Why the fused kernels cannot take these dims on this device, or null when they can. */
export function attentionUnsupported(device: Device, dims: AttentionDims): string | null {
  const { slots, batch, seq, heads, headSize } = dims;
  if (![slots, batch, seq, heads, headSize].every((n) => Number.isInteger(n) && n >= 1)) {
    return `dims ${JSON.stringify(dims)} must be integers ≥ 1`;
  }
  if (headSize > MAX_HEAD_SIZE) return `head size ${headSize} > ${MAX_HEAD_SIZE}`;
  const tile = tileFor(device, headSize);
  if (tile * (2 * headSize * 4 + 16) > device.limits.maxComputeWorkgroupStorageSize) {
    return `two ${tile} × ${headSize} tiles exceed ${device.limits.maxComputeWorkgroupStorageSize} bytes of workgroup storage`;
  }
  const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
  if (batch * heads > maxGroups || slots > maxGroups || Math.ceil(seq / MAX_ROWS) > maxGroups) {
    return `grid (${Math.ceil(seq / MAX_ROWS)}, ${batch * heads}, ${slots}) exceeds ${maxGroups} workgroups per dimension`;
  }
  if (device.limits.maxStorageBuffersPerShaderStage < STORAGE_BUFFERS) {
    return `${STORAGE_BUFFERS} storage buffers per stage needed, the device allows ${device.limits.maxStorageBuffersPerShaderStage}`;
  }
  const rows = rowsPerSlotOf(dims);
  if (!Number.isInteger(rows) || rows < 1) return `rowsPerSlot ${rows} must be an integer ≥ 1`;
  if (slots * Math.max(rows, batch * seq) * heads * headSize > 0xffffffff) return 'more than 2^32 elements';
  return null;
}

function check(device: Device, kernel: string, a: AttentionLaunch, buffers: [string, GPUBuffer, number][]): void {
  const why = attentionUnsupported(device, a.dims);
  if (why) throw new ShapeError(`${kernel}: ${why}`);
  const { slots, batch, seq } = a.dims;
  const values = valuesOf(a.dims);
  assertCount(kernel, values);
  const all: [string, GPUBuffer, number][] = [
    ['q', a.q, values],
    ['k', a.k, values],
    ['v', a.v, values],
    ['maskBias', a.maskBias, slots * batch * seq],
    ['sequences', a.sequences, 2 * slots * batch],
    ...buffers,
  ];
  if (a.dropout) {
    const { callOffset } = a.dropout;
    if (!Number.isInteger(callOffset) || callOffset < 0 || callOffset >= 2 ** 32) {
      throw new ShapeError(`${kernel}: callOffset ${callOffset} must be a 32-bit unsigned integer`);
    }
    all.push(['seeds', a.dropout.seeds, slots], ['probabilities', a.dropout.probabilities, slots], ['callBase', a.dropout.callBase, 2 * slots]);
  }
  for (const [what, buffer, n] of all) {
    if (buffer.size < n * 4) throw new ShapeError(`${kernel}: ${what} holds ${buffer.size / 4} values, needs ${n}`);
  }
}

/** Values of q (and of k, v and each output): T · rows · hidden. */
function valuesOf(dims: AttentionDims): number {
  return dims.slots * rowsPerSlotOf(dims) * dims.heads * dims.headSize;
}

function shapesOf(dims: AttentionDims, dropout: AttentionDropout | null): string {
  const { slots, batch, seq, heads, headSize } = dims;
  return `T=${slots} B=${batch} S=${seq} rows=${rowsPerSlotOf(dims)} heads=${heads} d=${headSize}${dropout ? ` dropout callOffset=${dropout.callOffset}` : ''}`;
}

function dispatchAttention(
  device: Device,
  kernel: string,
  generate: (spec: AttentionSpec) => string,
  a: AttentionLaunch,
  buffers: GPUBuffer[], // bound after q, k, v, maskBias
): void {
  const { slots, batch, seq, heads, headSize } = a.dims;
  const variant = a.variant ?? defaultAttentionVariant(device);
  const spec = specFor(device, a.dims, a.dropout !== null, variant);
  device.dispatch({
    kernel,
    wgsl: wgslFor(generate, spec),
    buffers: [a.q, a.k, a.v, a.maskBias, ...buffers, a.sequences],
    params: packParams([batch, heads, seq, heads * headSize, a.dropout?.callOffset ?? 0, rowsPerSlotOf(a.dims)], [a.scale]),
    workgroups: [Math.ceil(seq / spec.rows), batch * heads, slots],
    shapes: `${shapesOf(a.dims, a.dropout)} ${variant}`,
  });
}

/** Words of the dropout keep bits a backward needs as scratch: (T, B, heads, S, ⌈S/32⌉). */
export function keepBitsWords({ slots, batch, seq, heads }: AttentionDims): number {
  return slots * batch * heads * seq * Math.ceil(seq / 32);
}

/** context = merge_heads(dropout(softmax((q·scale)·kᵀ + maskBias)) · v), and the per-row softmax statistics. */
export function launchAttention(device: Device, a: AttentionForwardLaunch): void {
  const { slots, batch, seq, heads } = a.dims;
  const values = valuesOf(a.dims);
  check(device, 'attention', a, [
    ['context', a.context, values],
    ['stats', a.stats, 2 * slots * batch * heads * seq],
  ]);
  const d = a.dropout;
  dispatchAttention(device, 'attention', attentionForwardWgsl, a, [
    a.context, a.stats, ...(d ? [d.seeds, d.probabilities, d.callBase] : []),
  ]);
}

/** dq, dk, dv from the gradient of the context (two dispatches: queries, then keys and values). */
export function launchAttentionBackward(device: Device, a: AttentionBackwardLaunch): void {
  const { slots, batch, seq, heads } = a.dims;
  const values = valuesOf(a.dims);
  const rows = slots * batch * heads * seq;
  const d = a.dropout;
  if (d && !a.keepBits) throw new ShapeError('attention_backward: dropout needs a keepBits scratch buffer');
  check(device, 'attention_backward', a, [
    ['context', a.context, values],
    ['gradContext', a.gradContext, values],
    ['stats', a.stats, 2 * rows],
    ['delta', a.delta, rows],
    ['gradQuery', a.gradQuery, values],
    ['gradKey', a.gradKey, values],
    ['gradValue', a.gradValue, values],
    ...(d ? [['keepBits', a.keepBits!, keepBitsWords(a.dims)] as [string, GPUBuffer, number]] : []),
  ]);
  dispatchAttention(device, 'attention_backward_query', attentionBackwardQueryWgsl, a, [
    a.context, a.gradContext, a.stats, a.gradQuery, a.delta, ...(d ? [d.seeds, d.probabilities, d.callBase, a.keepBits!] : []),
  ]);
  dispatchAttention(device, 'attention_backward_key_value', attentionBackwardKeyValueWgsl, a, [
    a.gradContext, a.stats, a.delta, a.gradKey, a.gradValue, ...(d ? [d.probabilities, a.keepBits!] : []),
  ]);
}
