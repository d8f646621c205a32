/**
 * Softmax over the last axis of a (rows, cols) view, forward and backward. Numerically stable: every exponent is
 * taken relative to the row's running maximum, so ±1e4 logits and rows of -1e9 (masked attention) stay finite.
 *
 * Numbered variants (see README.md for measured GB/s):
 * - v1 `workgroup` (ships on hardware adapters; unmeasured there): one 256-invocation workgroup per row; each
 *   invocation keeps an online (max, sum) over a strided slice, the pairs are merged by a shared-memory tree, then
 *   a write pass. The usual shape on real GPUs; 5–20× slower than v2 on lavapipe.
 * - v2 `row` (ships on software adapters): one invocation per row; one online max+sum pass over the row
 *   (vec4 loads when cols % 4 == 0) and one write pass. On lavapipe loads cost far more than arithmetic and
 *   workgroup memory/barriers run lane by lane (PEERS.md), so two streaming passes with no barrier win.
 * - v3 `subgroup` (one subgroup per row, subgroupMax/subgroupAdd merge) never shipped: level with v2 on lavapipe
 *   for long rows, slower for short ones (README.md). It lives in bench/experiments/softmax for real GPUs with short
 *   rows, where it is the natural shape.
 * - v4 `registers` (ships on lavapipe for rows of up to 256 columns, cols % 4 == 0): one subgroup per row with the
 *   row held in registers, so x is read from memory once (v2 reads it twice): 1 load + 1 store per element, like
 *   the copy probe; subgroupMax/subgroupAdd, no workgroup memory, no barrier, 8 rows per workgroup.
 * Backward (dx = y ⊙ (dy − Σ dy⊙y)) has variants v1 and v2; v4 uses v2's backward.
 */
import { linearIndexWgsl } from '../common.js';

export type SoftmaxVariant = 'workgroup' | 'row' | 'registers';

/** Invocations per workgroup for v2 (small, so a few hundred rows still spread over every core). */
export const ROW_WORKGROUP = 64;
/** Rows (subgroups) per workgroup for v4: 64 invocations with 8 lanes, so 4096 rows make 512 workgroups. */
export const REGISTERS_ROWS = 8;
/** Invocations per row for v1. */
export const ROW_GROUP_SIZE = 256;

/** Most negative finite f32: the start of a running max, so exp(start - x) is 0 rather than NaN. */
export const LOWEST = '-3.402823466e+38';

export interface SoftmaxSpec {
  variant: SoftmaxVariant;
  /** cols % 4 == 0: rows are read as vec4 (v2, v4). */
  vec4: boolean;
  /** v4: lanes per subgroup (the adapter's fixed subgroup size). */
  lanes?: number;
  /** v4: Lane values of the row each invocation holds, ceil(width / lanes). */
  held?: number;
  /** v4: rows (subgroups) per workgroup. */
  rowsPerGroup?: number;
}

/** WGSL: scalar/vec4 helpers that let one body serve both widths. */
export function laneHelpers(vec4: boolean): string {
  return vec4
    ? /* wgsl */ `
alias Lane = vec4f;
fn laneMax(v: Lane) -> f32 { return max(max(v.x, v.y), max(v.z, v.w)); }
fn laneSum(v: Lane) -> f32 { return (v.x + v.y) + (v.z + v.w); }`
    : /* wgsl */ `
alias Lane = f32;
fn laneMax(v: Lane) -> f32 { return v; }
fn laneSum(v: Lane) -> f32 { return v; }`;
}

export function softmaxForwardWgsl({ variant, vec4, lanes = 8, held = 1, rowsPerGroup = 1 }: SoftmaxSpec): string {
  if (variant === 'workgroup') return softmaxForwardWorkgroupWgsl();
  if (variant === 'registers') return softmaxForwardRegistersWgsl(vec4, lanes, held, rowsPerGroup);
  return /* wgsl */ `
struct Params { rows: u32, width: u32 } // width = cols, or cols / 4 with vec4 lanes
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Lane>;        // (rows, cols)
@group(0) @binding(2) var<storage, read_write> output: array<Lane>; // (rows, cols)
${laneHelpers(vec4)}
${linearIndexWgsl(ROW_WORKGROUP)}

@compute @workgroup_size(${ROW_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let row = linearIndex(group, local, groups);
  // Invocations past the end redo the last row and skip only the stores: loops stay uniform (PEERS.md).
  let start = min(row, params.rows - 1u) * params.width;
  var m = ${LOWEST};
  var s = 0.0;
  for (var i = 0u; i < params.width; i++) {
    let v = input[start + i];
    let next = max(m, laneMax(v));
    s = s * exp(m - next) + laneSum(exp(v - next));
    m = next;
  }
  let inverse = 1.0 / s;
  for (var i = 0u; i < params.width; i++) {
    let y = exp(input[start + i] - m) * inverse;
    if (row < params.rows) { output[start + i] = y; }
  }
}`;
}

function softmaxForwardWorkgroupWgsl(): string {
  return /* wgsl */ `
struct Params { rows: u32, width: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;        // (rows, cols)
@group(0) @binding(2) var<storage, read_write> output: array<f32>; // (rows, cols)
var<workgroup> maxima: array<f32, ${ROW_GROUP_SIZE}>;
var<workgroup> sums: array<f32, ${ROW_GROUP_SIZE}>;

@compute @workgroup_size(${ROW_GROUP_SIZE})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let row = group.y * groups.x + group.x;
  if (row >= params.rows) { return; } // Uniform across the workgroup.
  let start = row * params.width;
  let t = local.x;
  var m = ${LOWEST};
  var s = 0.0;
  for (var i = t; i < params.width; i += ${ROW_GROUP_SIZE}u) {
    let v = input[start + i];
    let next = max(m, v);
    s = s * exp(m - next) + exp(v - next);
    m = next;
  }
  maxima[t] = m;
  sums[t] = s;
  // Tree merge of (max, sum) pairs; the order is fixed, so results are bit-identical run to run.
  for (var stride = ${ROW_GROUP_SIZE / 2}u; stride > 0u; stride >>= 1u) {
    workgroupBarrier();
    if (t < stride) {
      let m2 = maxima[t + stride];
      let next = max(maxima[t], m2);
      sums[t] = sums[t] * exp(maxima[t] - next) + sums[t + stride] * exp(m2 - next);
      maxima[t] = next;
    }
  }
  workgroupBarrier();
  let rowMax = maxima[0];
  let inverse = 1.0 / sums[0];
  for (var i = t; i < params.width; i += ${ROW_GROUP_SIZE}u) {
    output[start + i] = exp(input[start + i] - rowMax) * inverse;
  }
}`;
}

export function softmaxBackwardWgsl({ variant, vec4 }: SoftmaxSpec): string {
  if (variant === 'workgroup') return softmaxBackwardWorkgroupWgsl();
  return /* wgsl */ `
struct Params { rows: u32, width: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> y: array<Lane>;   // (rows, cols): the forward's output
@group(0) @binding(2) var<storage, read> dy: array<Lane>;  // (rows, cols)
@group(0) @binding(3) var<storage, read_write> dx: array<Lane>; // (rows, cols)
${laneHelpers(vec4)}
${linearIndexWgsl(ROW_WORKGROUP)}

@compute @workgroup_size(${ROW_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let row = linearIndex(group, local, groups);
  let start = min(row, params.rows - 1u) * params.width;
  var product = 0.0;
  for (var i = 0u; i < params.width; i++) {
    product += laneSum(y[start + i] * dy[start + i]);
  }
  for (var i = 0u; i < params.width; i++) {
    let v = y[start + i] * (dy[start + i] - product);
    if (row < params.rows) { dx[start + i] = v; }
  }
}`;
}

function softmaxBackwardWorkgroupWgsl(): string {
  return /* wgsl */ `
struct Params { rows: u32, width: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;   // (rows, cols)
@group(0) @binding(2) var<storage, read> dy: array<f32>;  // (rows, cols)
@group(0) @binding(3) var<storage, read_write> dx: array<f32>; // (rows, cols)
var<workgroup> products: array<f32, ${ROW_GROUP_SIZE}>;

@compute @workgroup_size(${ROW_GROUP_SIZE})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let row = group.y * groups.x + group.x;
  if (row >= params.rows) { return; }
  let start = row * params.width;
  let t = local.x;
  var product = 0.0;
  for (var i = t; i < params.width; i += ${ROW_GROUP_SIZE}u) {
    product += y[start + i] * dy[start + i];
  }
  products[t] = product;
  for (var stride = ${ROW_GROUP_SIZE / 2}u; stride > 0u; stride >>= 1u) {
    workgroupBarrier();
    if (t < stride) { products[t] += products[t + stride]; }
  }
  workgroupBarrier();
  let total = products[0];
  for (var i = t; i < params.width; i += ${ROW_GROUP_SIZE}u) {
    dx[start + i] = y[start + i] * (dy[start + i] - total);
  }
}`;
}

/**
 * v4 forward: one subgroup per row, the row held in registers, so x is read from memory once (v2 reads it twice).
 * Lane L holds elements L, L + lanes, … (HELD of them); the subgroup takes the row's max, turns the values into
 * exp(x − max) in place, sums them and stores them scaled. No workgroup memory, no barrier. ROWS rows (subgroups)
 * per workgroup; subgroup g is taken to be invocations g · lanes … g · lanes + lanes − 1 (true of lavapipe, where
 * this variant ships; the launcher uses it only there).
 */
function softmaxForwardRegistersWgsl(vec4: boolean, lanes: number, held: number, rowsPerGroup: number): string {
  return /* wgsl */ `
enable subgroups;
const HELD = ${held}u;
const ROWS = ${rowsPerGroup}u;
struct Params { rows: u32, width: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Lane>;        // (rows, cols)
@group(0) @binding(2) var<storage, read_write> output: array<Lane>; // (rows, cols)
${laneHelpers(vec4)}

@compute @workgroup_size(${lanes * rowsPerGroup})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(local_invocation_index) local: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let index = (group.y * groups.x + group.x) * ROWS + local / ${lanes}u;
  // Subgroups past the last row redo it and skip only the stores: no early return (PEERS.md).
  let start = min(index, params.rows - 1u) * params.width;
  var v: array<Lane, HELD>;
  var m = ${LOWEST};
  for (var k = 0u; k < HELD; k++) {
    let i = k * ${lanes}u + lane;
    v[k] = select(Lane(${LOWEST}), input[start + min(i, params.width - 1u)], i < params.width);
    m = max(m, laneMax(v[k]));
  }
  let rowMax = subgroupMax(m);
  var s = 0.0;
  for (var k = 0u; k < HELD; k++) {
    v[k] = exp(v[k] - rowMax);
    s += select(0.0, laneSum(v[k]), k * ${lanes}u + lane < params.width);
  }
  let inverse = 1.0 / subgroupAdd(s);
  for (var k = 0u; k < HELD; k++) {
    let i = k * ${lanes}u + lane;
    if (i < params.width && index < params.rows) { output[start + i] = v[k] * inverse; }
  }
}`;
}
