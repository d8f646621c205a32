/**
 * Reduction over the middle axis of a (outer, reduced, inner) view: sum or max. One invocation per output element
 * walks its `reduced` values with stride `inner`, so reads are coalesced across neighbouring invocations. The
 * launcher splits a long reduction into chunks (two dispatches) so a few outputs still keep every core busy.
 */
import { ELEMENTWISE_WORKGROUP, linearIndexWgsl } from '../common.js';

export type ReduceOp = 'sum' | 'max';

export function reduceWgsl(op: ReduceOp): string {
  const start = op === 'sum' ? '0.0' : '-3.402823466e+38';
  const combine = op === 'sum' ? 'acc + v' : 'max(acc, v)';
  return /* wgsl */ `
struct Params { outer: u32, reduced: u32, inner: u32, chunk: u32, scale: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;        // (outer, reduced, inner)
@group(0) @binding(2) var<storage, read_write> output: array<f32>; // (outer, chunks, inner), chunks = ceil(reduced / chunk)
${linearIndexWgsl()}

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let chunks = (params.reduced + params.chunk - 1u) / params.chunk;
  let i = linearIndex(group, local, groups);
  if (i >= params.outer * chunks * params.inner) { return; }
  let o = i / (chunks * params.inner);
  let c = (i / params.inner) % chunks;
  let n = i % params.inner;
  let first = c * params.chunk;
  let last = min(first + params.chunk, params.reduced);
  var acc = ${start};
  var at = (o * params.reduced + first) * params.inner + n;
  for (var r = first; r < last; r++) {
    let v = input[at];
    acc = ${combine};
    at += params.inner;
  }
  output[i] = acc * params.scale;
}`;
}
