/**
 * Matmul v2, the variant for real GPUs: 64x64 output tiles per 16x16 workgroup, K-step 16, each invocation a 4x4
 * register block (4 vec4 accumulators), A and B tiles staged in workgroup memory as vec4s so the inner loop reads
 * one vec4 of A and one of B per k for 16 multiply-adds (the gpu.cpp / wgpu-mm recipe; STYLE.md).
 *
 * Global loads are guarded (zero outside the matrix) and laid out so consecutive invocations read consecutive
 * addresses for either transposition: one vec4 per invocation per operand when the operand's contiguous axis is a
 * multiple of 4 (A: k, or m transposed; B: n, or k transposed), else 4 scalars. So one kernel is correct for every
 * shape without padding copies.
 * On lavapipe it is slower than v3 (workgroup memory and barriers run lane by lane there: PEERS.md), so the chooser
 * uses it only on hardware adapters. Not tuned on a real GPU yet: the tile constants are the published starting point.
 */
import { accessorsWgsl, bindingsWgsl, epilogueWgsl, type MatmulSpec } from './matmul-common.wgsl.js';

export const V2_TILE = { rows: 64, cols: 64, kStep: 16 } as const;

export interface V2Spec extends MatmulSpec {
  /** A's contiguous axis is a multiple of 4: bind A as vec4s, one vec4 load per invocation per step. */
  aVec4: boolean;
  bVec4: boolean;
}

/** One vec4 of A per invocation: 64 rows x 16 k = 256 vec4s per step. */
function loadAVec4(spec: V2Spec): string {
  if (spec.transposeA) {
    // (k, m): 4 consecutive rows at one k, stored straight into the tile.
    return /* wgsl */ `{
      let kk = thread / 16u;
      let g = thread % 16u;
      let row = rowBase + g * 4u;
      let value = a[(aBase + min(k0 + kk, params.k - 1u) * params.m + min(row, params.m - 4u)) / 4u];
      aTile[kk * 16u + g] = select(vec4f(0.0), value, row < params.m && k0 + kk < params.k);
    }`;
  }
  // (m, k): 4 consecutive k of one row, spread over 4 tile rows.
  return /* wgsl */ `{
      let r = thread / 4u;
      let kq = (thread % 4u) * 4u;
      let row = rowBase + r;
      let value = a[(aBase + min(row, params.m - 1u) * params.k + min(k0 + kq, params.k - 4u)) / 4u];
      let inside = select(vec4f(0.0), value, row < params.m && k0 + kq < params.k);
      for (var j = 0u; j < 4u; j++) { aTile[(kq + j) * 16u + r / 4u][r % 4u] = inside[j]; }
    }`;
}

function loadBVec4(spec: V2Spec): string {
  if (!spec.transposeB) {
    // (k, n): 4 consecutive columns at one k.
    return /* wgsl */ `{
      let kk = thread / 16u;
      let g = thread % 16u;
      let col = colBase + g * 4u;
      let value = b[(bBase + min(k0 + kk, params.k - 1u) * params.n + min(col, params.n - 4u)) / 4u];
      bTile[kk * 16u + g] = select(vec4f(0.0), value, col < params.n && k0 + kk < params.k);
    }`;
  }
  // (n, k): 4 consecutive k of one column.
  return /* wgsl */ `{
      let c = thread / 4u;
      let kq = (thread % 4u) * 4u;
      let col = colBase + c;
      let value = b[(bBase + min(col, params.n - 1u) * params.k + min(k0 + kq, params.k - 4u)) / 4u];
      let inside = select(vec4f(0.0), value, col < params.n && k0 + kq < params.k);
      for (var j = 0u; j < 4u; j++) { bTile[(kq + j) * 16u + c / 4u][c % 4u] = inside[j]; }
    }`;
}

/** Four scalar loads per invocation per step (tile element e = j*256 + thread). */
function scalarLoads(operand: 'a' | 'b', coords: string): string {
  const body =
    operand === 'a'
      ? `let row = rowBase + r;
        let inside = row < params.m && k0 + kk < params.k;
        // Clamped index: never out of bounds; the value is then zeroed outside the matrix.
        let value = aAt(aBase, min(row, params.m - 1u), min(k0 + kk, params.k - 1u));
        aTile[kk * 16u + r / 4u][r % 4u] = select(0.0, value, inside);`
      : `let col = colBase + c;
        let inside = col < params.n && k0 + kk < params.k;
        let value = bAt(bBase, min(k0 + kk, params.k - 1u), min(col, params.n - 1u));
        bTile[kk * 16u + c / 4u][c % 4u] = select(0.0, value, inside);`;
  return /* wgsl */ `for (var j = 0u; j < 4u; j++) {
      let e = j * 256u + thread;
      ${coords}
      ${body}
    }`;
}

export function matmulV2Wgsl(spec: V2Spec): string {
  // Tile element e (0..1023) of A: consecutive e walk the matrix's contiguous axis (k for A, m for A transposed).
  const aTileCoords = spec.transposeA ? 'let kk = e / 64u; let r = e % 64u;' : 'let kk = e % 16u; let r = e / 16u;';
  const bTileCoords = spec.transposeB ? 'let kk = e % 16u; let c = e / 16u;' : 'let kk = e / 64u; let c = e % 64u;';
  return /* wgsl */ `
${bindingsWgsl(spec, spec.aVec4 ? 'vec4f' : 'f32', spec.bVec4 ? 'vec4f' : 'f32')}
${accessorsWgsl(spec, !spec.aVec4, !spec.bVec4)}
${epilogueWgsl(spec)}

const KSTEP = 16u;
// [kk * 16 + g]: rows (or columns) 4g..4g+3 of the tile at k = k0 + kk.
var<workgroup> aTile: array<vec4f, 256>;
var<workgroup> bTile: array<vec4f, 256>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u) {
  let batchIndex = group.z;
  let rowBase = group.y * 64u;
  let colBase = group.x * 64u;
  let aBase = batchIndex * params.aBatchStride;
  let bBase = batchIndex * params.bBatchStride;
  let thread = local.y * 16u + local.x;
  var acc: array<vec4f, 4>; // acc[i] = row 4*local.y + i, columns 4*local.x .. +3

  let steps = (params.k + KSTEP - 1u) / KSTEP;
  for (var step = 0u; step < steps; step++) {
    let k0 = step * KSTEP;
    ${spec.aVec4 ? loadAVec4(spec) : scalarLoads('a', aTileCoords)}
    ${spec.bVec4 ? loadBVec4(spec) : scalarLoads('b', bTileCoords)}
    workgroupBarrier();
    for (var kk = 0u; kk < KSTEP; kk++) {
      let av = aTile[kk * 16u + local.y];
      let bv = bTile[kk * 16u + local.x];
      // Explicit fma, k in order: bit-identical to v1 and v4 (v1-naive.wgsl.ts says why that matters).
      acc[0] = fma(vec4f(av.x), bv, acc[0]);
      acc[1] = fma(vec4f(av.y), bv, acc[1]);
      acc[2] = fma(vec4f(av.z), bv, acc[2]);
      acc[3] = fma(vec4f(av.w), bv, acc[3]);
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 4u; i++) {
    let row = rowBase + local.y * 4u + i;
    for (var j = 0u; j < 4u; j++) {
      storeOutput(batchIndex, row, colBase + local.x * 4u + j, acc[i][j]);
    }
  }
}
`;
}
