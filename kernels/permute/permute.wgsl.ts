/**
 * Permute (generalised transpose) WGSL: one invocation per output element gathers its input element.
 *
 * Ships the plain gather, v2 (vec4) when the innermost axis stays innermost with a length divisible by 4, else v1
 * (scalar): writes are contiguous, reads are strided. The launcher first drops size-1 axes and
 * merges output axes that stay adjacent in the input, so the common attention reshuffle
 * (T, B, S, heads, d) → (T, B, heads, S, d) runs as a rank-4 gather with d-long contiguous runs. A tiled
 * workgroup-memory transpose would help a real GPU when the last axis moves, but workgroup memory and barriers
 * only slow lavapipe down (PEERS.md), so that variant is left for when a GPU needs it.
 * Elements are moved as raw 32-bit words, so f32 and i32 tensors share the kernel.
 */
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { ELEMENTWISE_WORKGROUP, linearIndexWgsl } from '../common.js';

/**
 * Rank after merging; the uniform holds shape and strides as two vec4u each (rank ≤ 8). `vectorWidth` 4 (v2) moves
 * vec4s: used when the innermost output axis is also the input's innermost and its length is a multiple of 4 (as
 * the head dimension is), with shape and strides counted in vec4s. A quarter of the index arithmetic and loads:
 * 2.4–2.6× v1 per byte on lavapipe (permute.bench.ts, 2026-11-27: the head split at d = 64 vs d = 63).
 */
export function permuteWgsl(rank: number, vectorWidth: 1 | 4): string {
  const word = vectorWidth === 4 ? 'vec4u' : 'u32';
  return wgsl`
const RANK = ${rank}u;
struct Params {
  count: u32, pad0: u32, pad1: u32, pad2: u32,
  outShape: array<vec4u, 2>,   // output shape, merged axes
  inStrides: array<vec4u, 2>,  // input stride of the axis that becomes each output axis
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<${word}>;        // (count) in the input's layout
@group(0) @binding(2) var<storage, read_write> output: array<${word}>; // (count) in the output's layout
${linearIndexWgsl()}

fn at(v: array<vec4u, 2>, axis: u32) -> u32 { return v[axis / 4u][axis % 4u]; }

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(group, local, groups);
  if (i >= params.count) { return; }
  var rest = i;
  var source = 0u;
  for (var axis = i32(RANK) - 1; axis >= 0; axis--) {
    let size = at(params.outShape, u32(axis));
    source += (rest % size) * at(params.inStrides, u32(axis));
    rest = rest / size;
  }
  output[i] = input[source];
}`;
}
