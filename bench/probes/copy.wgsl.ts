/**
 * Copy bandwidth probe: one vec4 read and one vec4 write per invocation, the attainable streaming rate of this
 * device and the yardstick for softmax, layernorm and AdamW's GB/s. Bytes counted: read + write.
 */
import { linearIndexWgsl } from '../../kernels/common.js';

export const COPY_WORKGROUP = 256;

export function copyProbeWgsl(): string {
  return /* wgsl */ `
struct Params { count: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> source: array<vec4f>;       // (count)
@group(0) @binding(2) var<storage, read_write> destination: array<vec4f>; // (count)
${linearIndexWgsl(COPY_WORKGROUP)}

@compute @workgroup_size(${COPY_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(group, local, groups);
  if (i < params.count) {
    destination[i] = source[i];
  }
}`;
}
