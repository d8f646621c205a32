/**
 * Matmul v1, naive: one output per invocation, 8x8 invocations per workgroup, every operand value loaded from
 * storage. The baseline every other variant is checked and measured against; the chooser also picks it for tiny
 * outputs (fewer than one v2 tile), where bigger tiles would mostly compute padding.
 *
 * Out-of-range invocations clamp their row/column for the loads (so the K loop stays uniform) and skip the store.
 *
 * Like v2 and v4 it accumulates k = 0, 1, … in one explicit `fma` per step, so the three give bit-identical outputs
 * and the chooser's shape-dependent pick cannot make a trial's result depend on how many trials share its group
 * (with plain `acc += a * b` a GPU compiler may or may not fuse, differently per kernel: seen on an H100).
 */
import { accessorsWgsl, bindingsWgsl, epilogueWgsl, type MatmulSpec } from './matmul-common.wgsl.js';

export const V1_TILE = { rows: 8, cols: 8 } as const;

export function matmulV1Wgsl(spec: MatmulSpec): string {
  return /* wgsl */ `
${bindingsWgsl(spec)}
${accessorsWgsl(spec)}
${epilogueWgsl(spec)}

@compute @workgroup_size(${V1_TILE.cols}, ${V1_TILE.rows})
fn main(@builtin(global_invocation_id) id: vec3u) {
  let col = id.x;
  let row = id.y;
  let batchIndex = id.z;
  let loadRow = min(row, params.m - 1u);
  let loadCol = min(col, params.n - 1u);
  let aBase = batchIndex * params.aBatchStride;
  let bBase = batchIndex * params.bBatchStride;
  var acc = 0.0;
  for (var kk = 0u; kk < params.k; kk++) {
    acc = fma(aAt(aBase, loadRow, kk), bAt(bBase, kk, loadCol), acc);
  }
  storeOutput(batchIndex, row, col, acc);
}
`;
}
