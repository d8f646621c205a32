/**
 * Matmul v5, for lavapipe: v3's tile (one 8-lane subgroup per 32x32 output tile, 32 rows x 4 columns per lane, A's
 * rows shared by `subgroupBroadcast`, each accumulator taking 4 k back to back), with both operands first packed
 * into storage textures and read with `textureLoad`.
 *
 * Why textures: on lavapipe (Mesa 25.0) a storage-buffer load is a loop over the 8 lanes with a bounds-check branch
 * per component, ~8 instructions and 2 branches per float; a read-only storage-texture load is one vectorised call.
 * In v3's loop that made the same arithmetic ~2.8x faster (bench/kernel-log.md, run 12). Packing also lays out
 * each step's operands contiguously, handles every layout (transposed, shared, batched) in one place, and pads rows,
 * columns and k with zeros, so the main loop needs no clamps and no k tail.
 *
 * Three commands: one dispatch packs A and B into a buffer, a copy puts it into a scratch texture (ScratchTextures),
 * and the tile loop reads it (for small k with both operands untransposed, two copies of A and B as they are and the
 * loop: `direct` below). The two products of a backward pass (dX = g·Wᵀ, dW = Xᵀ·g) share one pack dispatch and
 * one copy (`matmulV5PackPairWgsl`), each product's operands at their own offsets. Texel t of the packed texture
 * holds 4 floats:
 * - packed A, texel = 4 consecutive k of one row:
 *     t = aTexelOffset + batch·aTexels + (panel·k4 + step)·32 + rowInPanel
 * - packed B, texel = 4 consecutive columns at one k:
 *     t = bTexelOffset + batch·bTexels + ((panel·k4 + step)·4 + kq)·8 + lane
 * where a panel is 32 rows (A) or 32 columns (B), k4 = ceil(k/4), and lane L of B's panel holds columns 4L..4L+3.
 * A single product has aTexelOffset 0 and B right after A.
 *
 * Each float is multiplied and added in the same order as in v3 (the zero padding adds exact zeros), so v5 and v3
 * give identical outputs (tested): which one runs cannot change a trial's numbers.
 */
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { ScratchTextures } from '../../src/gpu/scratch-textures.js';
import { range } from '../common.js';
import { epilogueWgsl, outputBindingsWgsl, PARAMS_FIELDS, type MatmulSpec } from './matmul-common.wgsl.js';
import { accumulatorsWgsl, subgroupStepWgsl, tileStoreWgsl, V3_TILE } from './v3-subgroup.wgsl.js';

export const V5_TILE = V3_TILE;
/**
 * A and B are read as they are (no pack dispatch, see matmulV5Wgsl) up to this k and this many multiply-adds: past
 * them the packed layout's faster loop outweighs the pack (bench/kernel-log.md, runs 15 and 17).
 */
export const V5_DIRECT_MAX_K = 256;
export const V5_DIRECT_MAX_MULTIPLY_ADDS = 1 << 25;

/** Texels of one packed matrix: A with `rows` = m, B with `rows` = n (both padded to 32 and k to a multiple of 4). */
export function packedTexels(rows: number, k: number): number {
  return Math.ceil(rows / 32) * 32 * Math.ceil(k / 4);
}

/** WGSL: the 2D coordinate of linear texel `t`. */
const WIDTH = ScratchTextures.WIDTH;
const texelWgsl = `fn texel(t: u32) -> vec2u { return vec2u(t % ${WIDTH}u, t / ${WIDTH}u); }`;

/**
 * v5's uniform fields for one product, shared by its pack and tile kernels: the common fields (the epilogue reads m,
 * n and biasBatchStride) and where packed A and packed B start in the texture.
 */
const V5_PARAMS_FIELDS = /* wgsl */ `${PARAMS_FIELDS}
  aTexelOffset: u32, // packed A fills texels [aTexelOffset, aTexelOffset + its texels)
  bTexelOffset: u32, // packed B fills texels from here`;

export const V5_PARAMS_STRUCT = /* wgsl */ `
struct Params {
  ${V5_PARAMS_FIELDS}
}`;

/** The direct layout's bindings 1 and 2: A and B as they are, one matrix row per texture row. */
export const V5_DIRECT_OPERANDS = /* wgsl */ `@group(0) @binding(1) var matrixA: texture_storage_2d<rgba32float, read>; // (batch|1)·m rows of k/4 texels
@group(0) @binding(2) var matrixB: texture_storage_2d<rgba32float, read>; // (batch|1)·k rows of n/4 texels`;

/** How one operand is stored, for the pack kernel. */
export interface V5Operand {
  /** A stored (k, m), or B stored (n, k). */
  transposed: boolean;
  /** A texel's 4 values are contiguous and 16-byte aligned in the source (A untransposed with k % 4 = 0, B
   * untransposed with n % 4 = 0): one vec4 load. */
  vec4: boolean;
}

/**
 * WGSL: the loop that packs one operand's panel (see matmulV5PackWgsl). `p` is the product's fields (`params`, or
 * `params.first`/`params.second` in the pair kernel), `source` the binding it reads; `batchIndex`, `panel`, `local`
 * and `k4` are in scope.
 */
function packLoopWgsl(operand: 'a' | 'b', { transposed, vec4 }: V5Operand, p: string, source: string): string {
  const rows = operand === 'a' ? `${p}.m` : `${p}.n`;
  // Source element (row, kk), row being A's row or B's column; clamped so nothing is read out of bounds.
  const kContiguous = (operand === 'a') !== transposed;
  const clamped = (row: string, kk: string) => {
    const [r, c] = [`min(${row}, ${rows} - 1u)`, `min(${kk}, ${p}.k - 1u)`];
    return kContiguous ? `base + ${r} * ${p}.k + ${c}` : `base + ${c} * ${rows} + ${r}`;
  };
  // A texel: 4 consecutive k of one row (A), or 4 consecutive columns at one k (B).
  const kOf = operand === 'a' ? (j: number) => `kk0 + ${j}u` : () => 'kk0';
  const rowOf = operand === 'a' ? () => 'row' : (j: number) => `row + ${j}u`;
  const scalarTexel = `vec4f(${range(4)
    .map((j) => `select(0.0, ${source}[${clamped(rowOf(j), kOf(j))}], ${rowOf(j)} < ${rows} && ${kOf(j)} < ${p}.k)`)
    .join(',\n        ')})`;
  // vec4: the 4 values are in the matrix together or not at all (k % 4 = 0 for A, n % 4 = 0 for B).
  const inside = operand === 'a' ? `row < ${rows}` : `row < ${rows} && kk0 < ${p}.k`;
  const vec4Texel = `select(vec4f(0.0), ${source}[(${clamped('row', 'kk0')}) / 4u], ${inside})`;
  const stride = operand === 'a' ? `${p}.aBatchStride` : `${p}.bBatchStride`;
  const position =
    operand === 'a'
      ? 'let row = panel * 32u + local; // texel = this row at k 4·step .. 4·step+3'
      : 'let row = panel * 32u + (local % 8u) * 4u; // texel = columns row .. row+3 at k 4·step + local/8';
  const offset = operand === 'a' ? `${p}.aTexelOffset` : `${p}.bTexelOffset`;
  return `{
    let panels = (${rows} + 31u) / 32u;
    let base = batchIndex * ${stride};
    ${position}
    let first = ${offset} + (batchIndex * panels + panel) * k4 * 32u + local;
    for (var step = 0u; step < k4; step++) {
      let kk0 = step * 4u${operand === 'b' ? ' + local / 8u' : ''};
      packed[first + step * 32u] = ${vec4 ? vec4Texel : scalarTexel};
    }
  }`;
}

/** WGSL: packs one product's A and B panels `panel` of batch `batchIndex` (in scope, with `local`). */
function packProductWgsl(p: string, a: V5Operand, b: V5Operand, sources: [string, string]): string {
  return `let k4 = (${p}.k + 3u) / 4u;
    // A shared operand (batch stride 0) is packed once, by the first batch's workgroups.
    if (panel < (${p}.m + 31u) / 32u && (batchIndex == 0u || ${p}.aBatchStride != 0u)) ${packLoopWgsl('a', a, p, sources[0])}
    if (panel < (${p}.n + 31u) / 32u && (batchIndex == 0u || ${p}.bBatchStride != 0u)) ${packLoopWgsl('b', b, p, sources[1])}`;
}

/** The source bindings of one packed operand: f32 or aligned vec4 loads (V5Operand.vec4). */
function sourceBinding(binding: number, name: string, operand: V5Operand): string {
  return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<${operand.vec4 ? 'vec4f' : 'f32'}>;`;
}

/**
 * Packs A and B into one buffer, which is then copied into the scratch texture (a `textureStore` cost ~2x more on
 * lavapipe than a store plus the copy, and one dispatch and one copy for both operands save two of each). Grid:
 * [max(panels of A, panels of B), batches]; in each workgroup, invocation `local` walks k for its row of A's
 * panel and its texel column of B's, writing one texel per 4-k step. No integer division by a non-constant:
 * lavapipe runs those lane by lane, and they made the first version of this kernel ~40% of v5's time.
 */
export function matmulV5PackWgsl(a: V5Operand, b: V5Operand): string {
  return `
${V5_PARAMS_STRUCT}
@group(0) @binding(0) var<uniform> params: Params;
${sourceBinding(1, 'a', a)}
${sourceBinding(2, 'b', b)}
@group(0) @binding(3) var<storage, read_write> packed: array<vec4f>; // copied into the texture afterwards

@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) local: u32) {
  let panel = group.x;
  let batchIndex = group.y;
  ${packProductWgsl('params', a, b, ['a', 'b'])}
}
`;
}

/**
 * Packs the operands of two products (`first` and `second`, each with its own fields and texel offsets) into one
 * buffer, copied into the scratch texture once: a linear layer's backward packs g, Wᵀ, Xᵀ and g again for dX = g·Wᵀ
 * and dW = Xᵀ·g in one dispatch instead of two (launchMatmulPair). Each product is packed exactly as
 * matmulV5PackWgsl packs it, only at its own offsets, so the tile kernels read the same texels. Grid: [max panels
 * of the four operands, first's batches + second's batches]; a workgroup packs one batch of one product.
 */
export function matmulV5PackPairWgsl(a1: V5Operand, b1: V5Operand, a2: V5Operand, b2: V5Operand): string {
  return `
struct Product {
  ${V5_PARAMS_FIELDS}
}
struct Params {
  first: Product,
  second: Product,
  firstBatches: u32, // workgroup rows [0, firstBatches) pack first's batches, the rest second's
}
@group(0) @binding(0) var<uniform> params: Params;
${sourceBinding(1, 'a1', a1)} // first's A
${sourceBinding(2, 'b1', b1)} // first's B
${sourceBinding(3, 'a2', a2)} // second's A
${sourceBinding(4, 'b2', b2)} // second's B
@group(0) @binding(5) var<storage, read_write> packed: array<vec4f>; // copied into the texture afterwards

@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) local: u32) {
  let panel = group.x;
  if (group.y < params.firstBatches) {
    let batchIndex = group.y;
    ${packProductWgsl('params.first', a1, b1, ['a1', 'b1'])}
  } else {
    let batchIndex = group.y - params.firstBatches;
    ${packProductWgsl('params.second', a2, b2, ['a2', 'b2'])}
  }
}
`;
}

/**
 * The tile loop (bindings: params, then the packed texture, or A's and B's textures with `direct`, then out, bias,
 * preActivation). `vec4Output` (n % 4 = 0): each lane stores its 4 columns of a row as one vec4.
 *
 * `direct`: A (m, k) and B (k, n), both untransposed, copied into two textures as they are, one matrix row per
 * texture row, so texel (step, row) of A holds k 4·step..4·step+3 of that row and texel (q, kk) of B holds columns
 * 4q..4q+3 at kk. No pack dispatch, but a slower loop: each step reads 32 rows of A k·4 bytes apart and 4 rows of
 * B n·4 bytes apart instead of one contiguous run. So only for small products (V5_DIRECT_MAX_*), where the pack
 * dispatch's fixed cost weighs most (bench/kernel-log.md, runs 14-15).
 * Rows and columns past the matrix read whatever is there; their results are never stored.
 */
export function matmulV5Wgsl(spec: MatmulSpec, vec4Output: boolean, direct = false): string {
  const ROWS = V5_TILE.rows;
  const operands = direct
    ? V5_DIRECT_OPERANDS
    : '@group(0) @binding(1) var packed: texture_storage_2d<rgba32float, read>; // A, then B from bTexelOffset';
  const starts = direct
    ? `// A shared operand (batch stride 0) was copied once.
  let aRow = select(0u, batchIndex * params.m, params.aBatchStride != 0u) + rowBase + lane * 4u; // rows 4L..4L+3
  let bRow = select(0u, batchIndex * params.k, params.bBatchStride != 0u);
  let bColumn = group.x * 8u + lane; // texel of this lane's columns 4L..4L+3`
    : `// A shared operand (batch stride 0) was packed once.
  let aBatch = params.aTexelOffset +
    select(0u, batchIndex * ((params.m + 31u) / 32u) * 32u * k4, params.aBatchStride != 0u);
  let bBatch = params.bTexelOffset +
    select(0u, batchIndex * ((params.n + 31u) / 32u) * 32u * k4, params.bBatchStride != 0u);
  let aStart = aBatch + group.y * k4 * 32u + lane * 4u; // this lane's rows 4L..4L+3 of the panel
  let bStart = bBatch + group.x * k4 * 32u + lane;      // this lane's columns 4L..4L+3`;
  const loads = direct
    ? [
        ...range(4).map((q) => `let aRow${q} = textureLoad(matrixA, vec2u(step, aRow + ${q}u));`),
        ...range(4).map((kq) => `let b${kq} = textureLoad(matrixB, vec2u(bColumn, bRow + step * 4u + ${kq}u));`),
      ]
    : [
        'let aAt = aStart + step * 32u;',
        ...range(4).map((q) => `let aRow${q} = textureLoad(packed, texel(aAt + ${q}u));`),
        'let bAt = bStart + step * 32u;',
        ...range(4).map((kq) => `let b${kq} = textureLoad(packed, texel(bAt + ${kq * 8}u));`),
      ];
  return wgsl`
enable subgroups;
${V5_PARAMS_STRUCT}
@group(0) @binding(0) var<uniform> params: Params;
${operands}
${outputBindingsWgsl(spec, vec4Output ? 'vec4f' : 'f32', direct ? 3 : 2)}
${epilogueWgsl(spec, vec4Output)}
${texelWgsl}

@compute @workgroup_size(${V5_TILE.lanes})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let batchIndex = group.z;
  let rowBase = group.y * ${ROWS}u;
  let col0 = group.x * ${V5_TILE.cols}u + lane * 4u;
  let k4 = (params.k + 3u) / 4u;
  ${starts}
  ${accumulatorsWgsl(ROWS)}

  for (var step = 0u; step < k4; step++) {
    ${loads.join('\n    ')}
    ${subgroupStepWgsl(ROWS)}
  }
  ${tileStoreWgsl(ROWS, vec4Output)}
}
`;
}
