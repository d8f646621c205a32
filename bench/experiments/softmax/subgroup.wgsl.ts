/**
 * Softmax v3 `subgroup`, an experiment that never shipped (kernels/softmax/README.md): one subgroup per row, a
 * workgroup of exactly one subgroup of `lanes` lanes (so it needs a fixed subgroup size); lanes read neighbouring
 * elements (vec4 when cols % 4 == 0), the online (max, sum) pairs are merged by subgroupMax/subgroupAdd, no workgroup
 * memory, no barrier. On lavapipe it was level with v2 for long rows and slower for short ones (bench/kernel-log.md,
 * softmax); kept here for a real GPU with short rows, where it is the natural shape. Same bindings and parameters as
 * the shipped variants (kernels/softmax/softmax.wgsl.ts), whose helpers it uses.
 */
import { laneHelpers, LOWEST } from '../../../kernels/softmax/softmax.wgsl.js';

/**
 * v3: lane L of the row's subgroup handles elements L, L + lanes, …; every lane runs the same number of steps
 * (ceil(width / lanes)) so the loops stay uniform, and out-of-row steps read a clamped index and count as nothing.
 */
export function softmaxForwardSubgroupWgsl(vec4: boolean, lanes: number): string {
  return /* wgsl */ `
enable subgroups;
struct Params { rows: u32, width: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Lane>;        // (rows, cols)
@group(0) @binding(2) var<storage, read_write> output: array<Lane>; // (rows, cols)
${laneHelpers(vec4)}

@compute @workgroup_size(${lanes})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(subgroup_invocation_id) lane: u32) {
  let index = group.y * groups.x + group.x;
  let row = min(index, params.rows - 1u);
  let start = row * params.width;
  let steps = (params.width + ${lanes - 1}u) / ${lanes}u;
  var m = ${LOWEST};
  var s = 0.0;
  for (var k = 0u; k < steps; k++) {
    let i = k * ${lanes}u + lane;
    let v = select(Lane(${LOWEST}), input[start + min(i, params.width - 1u)], i < params.width);
    let next = max(m, laneMax(v));
    s = s * exp(m - next) + laneSum(exp(v - next));
    m = next;
  }
  let rowMax = subgroupMax(m);
  let inverse = 1.0 / subgroupAdd(s * exp(m - rowMax));
  for (var k = 0u; k < steps; k++) {
    let i = k * ${lanes}u + lane;
    let y = exp(input[start + min(i, params.width - 1u)] - rowMax) * inverse;
    if (i < params.width && index < params.rows) { output[start + i] = y; }
  }
}`;
}

export function softmaxBackwardSubgroupWgsl(vec4: boolean, lanes: number): string {
  return /* wgsl */ `
enable subgroups;
struct Params { rows: u32, width: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> y: array<Lane>;        // (rows, cols)
@group(0) @binding(2) var<storage, read> dy: array<Lane>;       // (rows, cols)
@group(0) @binding(3) var<storage, read_write> dx: array<Lane>; // (rows, cols)
${laneHelpers(vec4)}

@compute @workgroup_size(${lanes})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(subgroup_invocation_id) lane: u32) {
  let index = group.y * groups.x + group.x;
  let row = min(index, params.rows - 1u);
  let start = row * params.width;
  let steps = (params.width + ${lanes - 1}u) / ${lanes}u;
  var product = 0.0;
  for (var k = 0u; k < steps; k++) {
    let i = k * ${lanes}u + lane;
    let at = start + min(i, params.width - 1u);
    product += select(0.0, laneSum(y[at] * dy[at]), i < params.width);
  }
  let total = subgroupAdd(product);
  for (var k = 0u; k < steps; k++) {
    let i = k * ${lanes}u + lane;
    let at = start + min(i, params.width - 1u);
    let v = y[at] * (dy[at] - total);
    if (i < params.width && index < params.rows) { dx[start + i] = v; }
  }
}`;
}
