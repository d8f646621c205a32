/**
 * Layer normalisation v2 `subgroup` and v3 `subgroup4`, experiments that never shipped (kernels/layernorm/README.md):
 * - v2: a workgroup of exactly one subgroup per row (needs a fixed subgroup size), lanes read neighbouring elements
 *   and the row sums are subgroupAdd: no workgroup memory, no barrier.
 * - v3 (needs rowsPerSlot % 4 == 0): v2 with 4 rows per subgroup, so each weight and bias load serves 4 rows: 2.5
 *   loads per element instead of 4 in the forward; its backward makes dx and the dweight/dbias partials from the
 *   same reads (layerNormBackwardFusedWgsl).
 * On lavapipe neither beat v1 (bench/kernel-log.md, layernorm); v3's fused backward is the form to try first on a
 * GPU. Same bindings and parameters as the shipped kernels (kernels/layernorm/layernorm.wgsl.ts).
 */
import { FORWARD_BINDINGS, laneHelpers } from '../../../kernels/layernorm/layernorm.wgsl.js';

/** Rows per subgroup in v3: the weight/bias loads of a column are shared by this many rows. */
export const V3_ROWS = 4;

/**
 * v2: lane L of the row's subgroup takes elements L, L + lanes, …; every lane runs ceil(width / lanes) steps so
 * the loops stay uniform; out-of-row steps read a clamped index and add nothing.
 */
export function layerNormForwardSubgroupWgsl(vec4: boolean, lanes: number, rowsPerGroup = 1): string {
  return /* wgsl */ `
enable subgroups;
const ROWS = ${rowsPerGroup}u; // Rows per subgroup, all in one slot (the launcher checks rowsPerSlot % ROWS == 0).
${FORWARD_BINDINGS}
${laneHelpers(vec4)}

@compute @workgroup_size(${lanes})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(subgroup_invocation_id) lane: u32) {
  let firstRow = (group.y * groups.x + group.x) * ROWS;
  let weightStart = (min(firstRow, params.rows - 1u) / params.rowsPerSlot) * params.width;
  let steps = (params.width + ${lanes - 1}u) / ${lanes}u;
  var starts: array<u32, ROWS>;
  var shifts: array<f32, ROWS>;
  var s: array<Lane, ROWS>;
  var q: array<Lane, ROWS>;
  for (var j = 0u; j < ROWS; j++) {
    starts[j] = min(firstRow + j, params.rows - 1u) * params.width;
    shifts[j] = laneFirst(x[starts[j]]);
    s[j] = Lane(0.0);
    q[j] = Lane(0.0);
  }
  for (var k = 0u; k < steps; k++) {
    let i = k * ${lanes}u + lane;
    let at = min(i, params.width - 1u);
    for (var j = 0u; j < ROWS; j++) {
      let d = select(Lane(0.0), x[starts[j] + at] - shifts[j], i < params.width);
      s[j] += d;
      q[j] += d * d;
    }
  }
  let n = f32(params.hidden);
  var mu: array<f32, ROWS>;
  var r: array<f32, ROWS>;
  for (var j = 0u; j < ROWS; j++) {
    let sum = subgroupAdd(laneSum(s[j]));
    let centredMean = sum / n;
    let variance = max((subgroupAdd(laneSum(q[j])) - sum * centredMean) / n, 0.0);
    r[j] = 1.0 / sqrt(variance + params.eps);
    mu[j] = shifts[j] + centredMean;
  }
  for (var k = 0u; k < steps; k++) {
    let i = k * ${lanes}u + lane;
    let at = min(i, params.width - 1u);
    let w = weight[weightStart + at];
    let b = bias[weightStart + at];
    for (var j = 0u; j < ROWS; j++) {
      let value = (x[starts[j] + at] - mu[j]) * r[j] * w + b;
      if (i < params.width && firstRow + j < params.rows) { y[starts[j] + i] = value; }
    }
  }
  for (var j = 0u; j < ROWS; j++) {
    if (firstRow + j < params.rows && lane == 0u) {
      mean[firstRow + j] = mu[j];
      rstd[firstRow + j] = r[j];
    }
  }
}`;
}

export function layerNormBackwardSubgroupWgsl(vec4: boolean, lanes: number): string {
  return /* wgsl */ `
enable subgroups;
struct Params { rows: u32, width: u32, rowsPerSlot: u32, hidden: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<Lane>;            // (slots, rowsPerSlot, hidden)
@group(0) @binding(2) var<storage, read> weight: array<Lane>;       // (slots, hidden)
@group(0) @binding(3) var<storage, read> mean: array<f32>;          // (slots, rowsPerSlot)
@group(0) @binding(4) var<storage, read> rstd: array<f32>;          // (slots, rowsPerSlot)
@group(0) @binding(5) var<storage, read> dy: array<Lane>;           // (slots, rowsPerSlot, hidden)
@group(0) @binding(6) var<storage, read_write> dx: array<Lane>;     // (slots, rowsPerSlot, hidden)
${laneHelpers(vec4)}

@compute @workgroup_size(${lanes})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(subgroup_invocation_id) lane: u32) {
  let index = group.y * groups.x + group.x;
  let row = min(index, params.rows - 1u);
  let start = row * params.width;
  let weightStart = (row / params.rowsPerSlot) * params.width;
  let steps = (params.width + ${lanes - 1}u) / ${lanes}u;
  let mu = mean[row];
  let r = rstd[row];
  var a = Lane(0.0);
  var b = Lane(0.0);
  for (var k = 0u; k < steps; k++) {
    let i = k * ${lanes}u + lane;
    let at = min(i, params.width - 1u);
    let g = select(Lane(0.0), dy[start + at] * weight[weightStart + at], i < params.width);
    a += g;
    b += g * (x[start + at] - mu) * r;
  }
  let n = f32(params.hidden);
  let meanG = subgroupAdd(laneSum(a)) / n;
  let meanGX = subgroupAdd(laneSum(b)) / n;
  for (var k = 0u; k < steps; k++) {
    let i = k * ${lanes}u + lane;
    let at = min(i, params.width - 1u);
    let g = dy[start + at] * weight[weightStart + at];
    let value = r * (g - meanG - (x[start + at] - mu) * r * meanGX);
    if (i < params.width && index < params.rows) { dx[start + i] = value; }
  }
}`;
}

/**
 * v3 backward: dx, and dweight/dbias partials from the same reads. A subgroup takes ROWS rows of one slot; lanes
 * own columns, so in the write pass each lane has dy and x̂ of its column for all ROWS rows at hand and sums them
 * into that row group's partial (slots, rowsPerSlot / ROWS, hidden), which kernels/reduce then adds in order.
 * Per element: 4 loads + 2 / ROWS (v1 dx alone: 6, plus 2.5 for the separate partial-sum pass).
 */
export function layerNormBackwardFusedWgsl(vec4: boolean, lanes: number, rowsPerGroup: number): string {
  return /* wgsl */ `
enable subgroups;
const ROWS = ${rowsPerGroup}u; // Rows per subgroup, all in one slot (the launcher checks rowsPerSlot % ROWS == 0).
struct Params { rows: u32, width: u32, rowsPerSlot: u32, hidden: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<Lane>;                // (slots, rowsPerSlot, hidden)
@group(0) @binding(2) var<storage, read> weight: array<Lane>;           // (slots, hidden)
@group(0) @binding(3) var<storage, read> mean: array<f32>;              // (slots, rowsPerSlot)
@group(0) @binding(4) var<storage, read> rstd: array<f32>;              // (slots, rowsPerSlot)
@group(0) @binding(5) var<storage, read> dy: array<Lane>;               // (slots, rowsPerSlot, hidden)
@group(0) @binding(6) var<storage, read_write> dx: array<Lane>;         // (slots, rowsPerSlot, hidden)
@group(0) @binding(7) var<storage, read_write> dweight: array<Lane>;    // (slots, rowsPerSlot / ROWS, hidden)
@group(0) @binding(8) var<storage, read_write> dbias: array<Lane>;      // (slots, rowsPerSlot / ROWS, hidden)
${laneHelpers(vec4)}

@compute @workgroup_size(${lanes})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(subgroup_invocation_id) lane: u32) {
  let rowGroup = group.y * groups.x + group.x;
  let inRange = rowGroup * ROWS < params.rows; // The 2D grid may overshoot.
  let firstRow = min(rowGroup * ROWS, params.rows - ROWS);
  let weightStart = (firstRow / params.rowsPerSlot) * params.width;
  let steps = (params.width + ${lanes - 1}u) / ${lanes}u;
  var mu: array<f32, ROWS>;
  var r: array<f32, ROWS>;
  var a: array<Lane, ROWS>;
  var b: array<Lane, ROWS>;
  for (var j = 0u; j < ROWS; j++) {
    mu[j] = mean[firstRow + j];
    r[j] = rstd[firstRow + j];
  }
  for (var k = 0u; k < steps; k++) {
    let i = k * ${lanes}u + lane;
    let at = min(i, params.width - 1u);
    let w = select(Lane(0.0), weight[weightStart + at], i < params.width);
    for (var j = 0u; j < ROWS; j++) {
      let start = (firstRow + j) * params.width;
      let g = dy[start + at] * w;
      a[j] += g;
      b[j] += g * (x[start + at] - mu[j]) * r[j];
    }
  }
  let n = f32(params.hidden);
  var meanG: array<f32, ROWS>;
  var meanGX: array<f32, ROWS>;
  for (var j = 0u; j < ROWS; j++) {
    meanG[j] = subgroupAdd(laneSum(a[j])) / n;
    meanGX[j] = subgroupAdd(laneSum(b[j])) / n;
  }
  for (var k = 0u; k < steps; k++) {
    let i = k * ${lanes}u + lane;
    let at = min(i, params.width - 1u);
    let store = i < params.width && inRange;
    let w = weight[weightStart + at];
    var dw = Lane(0.0);
    var db = Lane(0.0);
    for (var j = 0u; j < ROWS; j++) {
      let start = (firstRow + j) * params.width;
      let d = dy[start + at];
      let xhat = (x[start + at] - mu[j]) * r[j];
      let value = r[j] * (d * w - meanG[j] - xhat * meanGX[j]);
      if (store) { dx[start + i] = value; }
      dw += d * xhat;
      db += d;
    }
    if (store) {
      dweight[rowGroup * params.width + i] = dw;
      dbias[rowGroup * params.width + i] = db;
    }
  }
}`;
}
