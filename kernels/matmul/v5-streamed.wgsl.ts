/**
 * Matmul v5, direct layout, "streamed" loop for small k (≤ V5_STREAMED_MAX_K): the same 32x32 tile, bindings and
 * results as v5's direct kernel (v5-packed.wgsl.ts), with the loop turned inside out.
 *
 * v5's loop walks k and keeps the tile's 32 vec4 accumulators alive across it. On lavapipe those live in memory
 * (32 vec4s are 128 ymm registers against 16), and every k step reloads, stores and mask-blends each of them: the
 * loop is a loop with an execution mask, so each loop-carried value costs a blend per iteration. Here each lane
 * first reads its 4 columns of B at every k and its 4 rows of A at every k (k / 4 texels each, the same number of
 * texture loads as v5), then walks the rows: a row's 4 accumulators sum all of k straight through, unrolled, with
 * B read from the stack and the row's A values shuffled from the lane that holds them. Nothing is carried from
 * one row to the next, so there are no blends, and the only loop is over the 8 lanes that hold rows. At
 * 8×256×64×64 the kernel took 0.80–0.90 of v5's time; at k = 128 0.83–0.97; at k = 192 1.09
 * (bench/kernel-log.md, run 18).
 *
 * The code is specialised on k and grows with it (k texture loads of B and k of A, 32·k multiply-adds unrolled per
 * 4 rows). Each output is the same sum in the same order as v3's and v5's (k ascending, a multiply then an add), so
 * the bits are the same (tested).
 */
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { range } from '../common.js';
import { epilogueWgsl, outputBindingsWgsl, type MatmulSpec } from './matmul-common.wgsl.js';
import { V5_DIRECT_OPERANDS, V5_PARAMS_STRUCT, V5_TILE } from './v5-packed.wgsl.js';

/** The streamed loop is used up to this k (a multiple of 64, as the direct layout needs). */
export const V5_STREAMED_MAX_K = 128;


/**
 * `k`: a multiple of 4, at most V5_STREAMED_MAX_K. The output is stored as vec4s (the direct layout has
 * n % 64 = 0).
 */
export function matmulV5StreamedWgsl(spec: MatmulSpec, k: number): string {
  if (!Number.isInteger(k) || k <= 0 || k % 4 !== 0 || k > V5_STREAMED_MAX_K) {
    throw new RangeError(`matmulV5StreamedWgsl: k must be a positive multiple of 4 up to ${V5_STREAMED_MAX_K}, got ${k}`);
  }
  const steps = k / 4;
  const lanes = V5_TILE.lanes;
  // Row 4L + q of the tile: lane L's A values a{q}_{s}, shuffled from lane L; B at k 4s..4s+3 in b{4s}..b{4s+3}.
  const row = (q: number) => `{
      var acc = vec4f(0.0);
      ${range(steps)
        .map((s) => {
          const terms = ['x', 'y', 'z', 'w'].map((c, kq) => `acc += ar.${c} * b${4 * s + kq};`).join(' ');
          return `{ let ar = subgroupShuffle(a${q}_${s}, L); ${terms} }`;
        })
        .join('\n      ')}
      storeOutput4(batchIndex, rowBase + L * 4u + ${q}u, col0, acc);
    }`;
  return wgsl`
enable subgroups;
${V5_PARAMS_STRUCT}
@group(0) @binding(0) var<uniform> params: Params;
${V5_DIRECT_OPERANDS}
${outputBindingsWgsl(spec, 'vec4f', 3)}
${epilogueWgsl(spec, true)}

@compute @workgroup_size(${lanes})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let batchIndex = group.z;
  let rowBase = group.y * ${V5_TILE.rows}u;
  let col0 = group.x * ${V5_TILE.cols}u + lane * 4u;
  // A shared operand (batch stride 0) was copied once. Rows past m read whatever is there and are never stored.
  let aRow = select(0u, batchIndex * params.m, params.aBatchStride != 0u) + rowBase + lane * 4u; // rows 4L..4L+3
  let bRow = select(0u, batchIndex * params.k, params.bBatchStride != 0u);
  let bColumn = group.x * ${V5_TILE.cols / 4}u + lane; // texel of this lane's columns 4L..4L+3
  ${range(k).map((kk) => `let b${kk} = textureLoad(matrixB, vec2u(bColumn, bRow + ${kk}u));`).join('\n  ')}
  ${range(4)
    .flatMap((q) => range(steps).map((s) => `let a${q}_${s} = textureLoad(matrixA, vec2u(${s}u, aRow + ${q}u));`))
    .join('\n  ')}
  for (var L = 0u; L < ${lanes}u; L++) {
    ${range(4).map(row).join('\n    ')}
  }
}
`;
}
