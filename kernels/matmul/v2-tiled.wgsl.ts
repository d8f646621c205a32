/**
 * Matmul v2, the variant for real GPUs: 64x64 output tiles per 16x16 workgroup, K-step 16, each invocation a 4x4
 * register block (4 vec4 accumulators), A and B tiles staged in workgroup memory as vec4s so the inner loop reads
 * one vec4 of A and one of B per k for 16 multiply-adds (the gpu.cpp / wgpu-mm recipe; STYLE.md).
 *
 * Global loads are scalar and guarded (zero outside the matrix), laid out so consecutive invocations read
 * consecutive addresses for either transposition; that keeps one kernel correct for every shape without padding.
 * On lavapipe it is slower than v3 (workgroup memory and barriers run lane by lane there: PEERS.md), so the chooser
 * uses it only on hardware adapters. Not tuned on a real GPU yet: the tile constants are the published starting point.
 */
import { accessorsWgsl, bindingsWgsl, epilogueWgsl, type MatmulSpec } from './matmul-common.wgsl.js';

export const V2_TILE = { rows: 64, cols: 64, kStep: 16 } as const;

export function matmulV2Wgsl(spec: MatmulSpec): string {
  // Tile element e (0..1023) of A: consecutive e walk the matrix's contiguous axis (k for A, m for A transposed).
  const aTileCoords = spec.transposeA ? 'let kk = e / 64u; let r = e % 64u;' : 'let kk = e % 16u; let r = e / 16u;';
  const bTileCoords = spec.transposeB ? 'let kk = e % 16u; let c = e / 16u;' : 'let kk = e / 64u; let c = e % 64u;';
  return /* wgsl */ `
${bindingsWgsl(spec)}
${accessorsWgsl(spec)}
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
    for (var j = 0u; j < 4u; j++) {
      let e = j * 256u + thread;
      {
        ${aTileCoords}
        let row = rowBase + r;
        let inside = row < params.m && k0 + kk < params.k;
        // Clamped index: never out of bounds; the value is then zeroed outside the matrix.
        let value = aAt(aBase, min(row, params.m - 1u), min(k0 + kk, params.k - 1u));
        aTile[kk * 16u + r / 4u][r % 4u] = select(0.0, value, inside);
      }
      {
        ${bTileCoords}
        let col = colBase + c;
        let inside = col < params.n && k0 + kk < params.k;
        let value = bAt(bBase, min(k0 + kk, params.k - 1u), min(col, params.n - 1u));
        bTile[kk * 16u + c / 4u][c % 4u] = select(0.0, value, inside);
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < KSTEP; kk++) {
      let av = aTile[kk * 16u + local.y];
      let bv = bTile[kk * 16u + local.x];
      acc[0] += av.x * bv;
      acc[1] += av.y * bv;
      acc[2] += av.z * bv;
      acc[3] += av.w * bv;
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
