/**
 * Layer normalisation over the last axis (Ba, Kiros & Hinton 2016) with weight and bias per trial slot:
 * y = (x − mean) · rstd · weight + bias, rstd = 1 / sqrt(var + eps). Three kernels:
 * - forward: one invocation per row (v1); a pass of shifted sums (Σ(x−x₀), Σ(x−x₀)², which keeps the
 *   variance accurate when |mean| ≫ std) and a write pass. Saves mean and rstd (rows) for the backward.
 * - backward dx: one invocation per row; a pass for Σ g and Σ g·x̂ (g = dy·weight), then the write pass
 *   dx = rstd · (g − mean(g) − x̂ · mean(g·x̂)).
 * - backward weight/bias: one workgroup per (slot, 4 lanes of columns) of 16 or 64 invocations strides over the slot's
 *   rows, each invocation summing dy·x̂ and dy for the 4 lanes (one mean and rstd load per row serves them), then a
 *   tree in workgroup memory adds the invocations: the final dweight and dbias in one dispatch (until 2026-12-02
 *   partials per chunk of 64 rows, then two kernels/reduce passes). No atomics: bit-identical repeats.
 * Rows are read as vec4 when hidden % 4 == 0. Variants (figures in README.md):
 * - v1 `row` (ships): the kernels above; measured best or level with v2/v3 on lavapipe.
 * - v2 `subgroup` and v3 `subgroup4` (a subgroup per row, or per 4 rows with a fused backward) never shipped: they
 *   measured no better than v1 on lavapipe. They live in bench/experiments/layernorm.
 * - v4 `registers` (ships on lavapipe: hidden % 4 == 0, hidden ≤ 768, rowsPerSlot % 8 == 0): forward only; a
 *   subgroup per block of up to 64 rows of one slot with the weight, bias and each row in turn held in registers:
 *   x read once and the weight/bias loads shared by the block (1 + 2 / rows loads per element, v1: 4). Its
 *   backward is v1's.
 * A workgroup-per-row variant for real GPUs is future work (README.md).
 */
import { linearIndexWgsl } from '../common.js';

export const LAYERNORM_WORKGROUP = 64;

export type LayerNormVariant = 'row' | 'registers';

export function laneHelpers(vec4: boolean): string {
  return vec4
    ? /* wgsl */ `
alias Lane = vec4f;
fn laneSum(v: Lane) -> f32 { return (v.x + v.y) + (v.z + v.w); }
fn laneFirst(v: Lane) -> f32 { return v.x; }`
    : /* wgsl */ `
alias Lane = f32;
fn laneSum(v: Lane) -> f32 { return v; }
fn laneFirst(v: Lane) -> f32 { return v; }`;
}

/** The forward variants' parameters and bindings (one layout, so the launcher binds every variant alike). */
export const FORWARD_BINDINGS = /* wgsl */ `
struct Params { rows: u32, width: u32, rowsPerSlot: u32, hidden: u32, eps: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<Lane>;            // (slots, rowsPerSlot, hidden)
@group(0) @binding(2) var<storage, read> weight: array<Lane>;       // (slots, hidden)
@group(0) @binding(3) var<storage, read> bias: array<Lane>;         // (slots, hidden)
@group(0) @binding(4) var<storage, read_write> y: array<Lane>;      // (slots, rowsPerSlot, hidden)
@group(0) @binding(5) var<storage, read_write> mean: array<f32>;    // (slots, rowsPerSlot)
@group(0) @binding(6) var<storage, read_write> rstd: array<f32>;    // (slots, rowsPerSlot)
`;

/** `width` is hidden, or hidden / 4 with vec4 lanes; the weight row of `row` is row / rowsPerSlot. */
export function layerNormForwardWgsl(vec4: boolean): string {
  return /* wgsl */ `
${FORWARD_BINDINGS}
${laneHelpers(vec4)}
${linearIndexWgsl(LAYERNORM_WORKGROUP)}

@compute @workgroup_size(${LAYERNORM_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let index = linearIndex(group, local, groups);
  // Past-the-end invocations redo the last row and skip only the stores: loops stay uniform (PEERS.md).
  let row = min(index, params.rows - 1u);
  let start = row * params.width;
  let weightStart = (row / params.rowsPerSlot) * params.width;
  let shift = laneFirst(x[start]);
  var s = Lane(0.0);
  var q = Lane(0.0);
  for (var i = 0u; i < params.width; i++) {
    let d = x[start + i] - shift;
    s += d;
    q += d * d;
  }
  let n = f32(params.hidden);
  let sum = laneSum(s);
  let centredMean = sum / n;
  let variance = max((laneSum(q) - sum * centredMean) / n, 0.0);
  let r = 1.0 / sqrt(variance + params.eps);
  let mu = shift + centredMean;
  for (var i = 0u; i < params.width; i++) {
    let value = (x[start + i] - mu) * r * weight[weightStart + i] + bias[weightStart + i];
    if (index < params.rows) { y[start + i] = value; }
  }
  if (index < params.rows) {
    mean[index] = mu;
    rstd[index] = r;
  }
}`;
}

export function layerNormBackwardWgsl(vec4: boolean): string {
  return /* wgsl */ `
struct Params { rows: u32, width: u32, rowsPerSlot: u32, hidden: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<Lane>;            // (slots, rowsPerSlot, hidden)
@group(0) @binding(2) var<storage, read> weight: array<Lane>;       // (slots, hidden)
@group(0) @binding(3) var<storage, read> mean: array<f32>;          // (slots, rowsPerSlot)
@group(0) @binding(4) var<storage, read> rstd: array<f32>;          // (slots, rowsPerSlot)
@group(0) @binding(5) var<storage, read> dy: array<Lane>;           // (slots, rowsPerSlot, hidden)
@group(0) @binding(6) var<storage, read_write> dx: array<Lane>;     // (slots, rowsPerSlot, hidden)
${laneHelpers(vec4)}
${linearIndexWgsl(LAYERNORM_WORKGROUP)}

@compute @workgroup_size(${LAYERNORM_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let index = linearIndex(group, local, groups);
  let row = min(index, params.rows - 1u);
  let start = row * params.width;
  let weightStart = (row / params.rowsPerSlot) * params.width;
  let mu = mean[row];
  let r = rstd[row];
  var a = Lane(0.0);
  var b = Lane(0.0);
  for (var i = 0u; i < params.width; i++) {
    let g = dy[start + i] * weight[weightStart + i];
    a += g;
    b += g * (x[start + i] - mu) * r;
  }
  let n = f32(params.hidden);
  let meanG = laneSum(a) / n;
  let meanGX = laneSum(b) / n;
  for (var i = 0u; i < params.width; i++) {
    let g = dy[start + i] * weight[weightStart + i];
    let value = r * (g - meanG - (x[start + i] - mu) * r * meanGX);
    if (index < params.rows) { dx[start + i] = value; }
  }
}`;
}

/** Neighbouring lanes of Lane per invocation of that kernel: each row's mean and rstd loads serve them all. */
export const PARAM_GRAD_COLUMNS = 4;

/**
 * dweight = Σ dy·x̂ and dbias = Σ dy over each slot's rows, final (slots, hidden), in one dispatch: one workgroup per
 * (slot, block of COLUMNS neighbouring lanes, clamped at the row's end); its ROWS invocations (a power of two) stride
 * over the slot's rows, then a tree in workgroup memory adds them. Fixed order: the same bits every run.
 */
export function layerNormParamGradWgsl(vec4: boolean, rows: number): string {
  return /* wgsl */ `
const ROWS = ${rows}u;
const COLUMNS = ${PARAM_GRAD_COLUMNS}u;
struct Params { rowsPerSlot: u32, width: u32, columnBlocks: u32, workgroups: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<Lane>;             // (slots, rowsPerSlot, hidden)
@group(0) @binding(2) var<storage, read> mean: array<f32>;           // (slots, rowsPerSlot)
@group(0) @binding(3) var<storage, read> rstd: array<f32>;           // (slots, rowsPerSlot)
@group(0) @binding(4) var<storage, read> dy: array<Lane>;            // (slots, rowsPerSlot, hidden)
@group(0) @binding(5) var<storage, read_write> dweight: array<Lane>; // (slots, hidden)
@group(0) @binding(6) var<storage, read_write> dbias: array<Lane>;   // (slots, hidden)
${laneHelpers(vec4)}
var<workgroup> dwLanes: array<Lane, ${rows * PARAM_GRAD_COLUMNS}>; // (ROWS, COLUMNS)
var<workgroup> dbLanes: array<Lane, ${rows * PARAM_GRAD_COLUMNS}>;

@compute @workgroup_size(${rows})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(local_invocation_index) lane: u32) {
  // Past-the-end workgroups (a 2D grid's padding) redo the last block and store nothing, and every invocation runs
  // the same number of steps: loops stay uniform.
  let w = min(group.y * groups.x + group.x, params.workgroups - 1u);
  let slot = w / params.columnBlocks;
  let firstColumn = (w % params.columnBlocks) * COLUMNS;
  let firstRow = slot * params.rowsPerSlot;
  var dw: array<Lane, COLUMNS>;
  var db: array<Lane, COLUMNS>;
  for (var k = 0u; k < (params.rowsPerSlot + ROWS - 1u) / ROWS; k++) {
    let r = k * ROWS + lane;
    let row = firstRow + min(r, params.rowsPerSlot - 1u);
    let mu = mean[row];
    let s = select(0.0, rstd[row], r < params.rowsPerSlot); // 0: a clamped repeat of the last row adds nothing
    for (var j = 0u; j < COLUMNS; j++) {
      let at = row * params.width + min(firstColumn + j, params.width - 1u);
      let g = select(Lane(0.0), dy[at], r < params.rowsPerSlot);
      dw[j] += g * (x[at] - mu) * s;
      db[j] += g;
    }
  }
  for (var j = 0u; j < COLUMNS; j++) {
    dwLanes[lane * COLUMNS + j] = dw[j];
    dbLanes[lane * COLUMNS + j] = db[j];
  }
  workgroupBarrier();
  for (var step = ROWS / 2u; step > 0u; step >>= 1u) {
    if (lane < step) {
      for (var j = 0u; j < COLUMNS; j++) {
        dwLanes[lane * COLUMNS + j] += dwLanes[(lane + step) * COLUMNS + j];
        dbLanes[lane * COLUMNS + j] += dbLanes[(lane + step) * COLUMNS + j];
      }
    }
    workgroupBarrier();
  }
  let column = firstColumn + lane;
  if (lane < COLUMNS && column < params.width && group.y * groups.x + group.x < params.workgroups) {
    dweight[slot * params.width + column] = dwLanes[lane];
    dbias[slot * params.width + column] = dbLanes[lane];
  }
}`;
}

/**
 * v4 forward: one subgroup per block of ROWS rows of one slot, rows held in registers. Lane L holds elements L,
 * L + lanes, … (HELD of them) of the weight and bias, loaded once for the block, and of each row in turn, so x is
 * read from memory once and the weight/bias loads are shared by ROWS rows: (1 + 2 / ROWS) loads per element, not
 * 4 (v1). The variance is the exact two-pass Σ(x − mean)² over the registers. GROUPS subgroups per workgroup;
 * block = local index / lanes assumes each run of `lanes` consecutive invocations is one subgroup (true of
 * lavapipe, where this variant ships).
 */
export function layerNormForwardRegistersWgsl(vec4: boolean, lanes: number, held: number, rowsPerSubgroup: number, subgroupsPerGroup: number): string {
  return /* wgsl */ `
enable subgroups;
const HELD = ${held}u;
const ROWS = ${rowsPerSubgroup}u; // Rows per subgroup, all in one slot (the launcher checks rowsPerSlot % ROWS == 0).
const GROUPS = ${subgroupsPerGroup}u;
${FORWARD_BINDINGS}
${laneHelpers(vec4)}

@compute @workgroup_size(${lanes * subgroupsPerGroup})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(local_invocation_index) local: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let firstRow = ((group.y * groups.x + group.x) * GROUPS + local / ${lanes}u) * ROWS;
  let weightStart = (min(firstRow, params.rows - 1u) / params.rowsPerSlot) * params.width;
  var w: array<Lane, HELD>;
  var b: array<Lane, HELD>;
  for (var k = 0u; k < HELD; k++) {
    let at = weightStart + min(k * ${lanes}u + lane, params.width - 1u);
    w[k] = weight[at];
    b[k] = bias[at];
  }
  let n = f32(params.hidden);
  for (var j = 0u; j < ROWS; j++) {
    let index = firstRow + j;
    let start = min(index, params.rows - 1u) * params.width;
    var v: array<Lane, HELD>;
    var s = Lane(0.0);
    for (var k = 0u; k < HELD; k++) {
      let i = k * ${lanes}u + lane;
      v[k] = select(Lane(0.0), x[start + min(i, params.width - 1u)], i < params.width);
      s += v[k];
    }
    let mu = subgroupAdd(laneSum(s)) / n;
    var q = Lane(0.0);
    for (var k = 0u; k < HELD; k++) {
      let d = select(Lane(0.0), v[k] - mu, k * ${lanes}u + lane < params.width);
      q += d * d;
    }
    let r = 1.0 / sqrt(subgroupAdd(laneSum(q)) / n + params.eps);
    for (var k = 0u; k < HELD; k++) {
      let i = k * ${lanes}u + lane;
      if (i < params.width && index < params.rows) { y[start + i] = (v[k] - mu) * r * w[k] + b[k]; }
    }
    if (lane == 0u && index < params.rows) {
      mean[index] = mu;
      rstd[index] = r;
    }
  }
}`;
}
