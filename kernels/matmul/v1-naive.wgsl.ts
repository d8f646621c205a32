/**
 * Matmul v1, naive: one output per invocation, 8x8 invocations per workgroup, every operand value loaded from
 * storage. The baseline every other variant is checked and measured against; the chooser also picks it for tiny
 * outputs (fewer than one v2 tile), where bigger tiles would mostly compute padding.
 *
 * Out-of-range invocations clamp their row/column for the loads (so the K loop stays uniform) and skip the store.
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
    acc += aAt(aBase, loadRow, kk) * bAt(bBase, kk, loadCol);
  }
  storeOutput(batchIndex, row, col, acc);
}
`;
}
