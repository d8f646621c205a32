/**
 * Reduction over the middle axis of a (outer, reduced, inner) view: sum or max. Two kernels, both shipped; the
 * launcher (reduce.ts) picks by shape:
 * - v1 `reduceWgsl`: one invocation per output walks its `reduced` values with stride `inner`, so reads are
 *   coalesced across neighbouring invocations. For many outputs or short reductions.
 * - v2 `reduceWorkgroupWgsl`: one workgroup per block of COLUMNS neighbouring outputs (of one `outer` index, or of
 *   one chunk of the reduced axis); its ROWS = 256 / COLUMNS lanes of each column stride over the reduced axis, then
 *   a tree in workgroup memory adds the lanes. For long reductions with few outputs (a linear layer's bias gradient,
 *   2048 × 64 on a GPU: 8 workgroups, 64 loads a lane), in one dispatch where v1 split them into chunks and needed a
 *   second pass over the partials. COLUMNS: see `reduceColumns` (reduce.ts).
 * - `reduceSumBatchedWgsl`: v2's sum for several (input, output) pairs in one dispatch, one pass each (a training
 *   step's bias and LayerNorm gradients, eight to a dispatch).
 * All add in a fixed order (no atomics): the same bits every run.
 */
import { ELEMENTWISE_WORKGROUP, linearIndexWgsl, range } from '../common.js';

export type ReduceOp = 'sum' | 'max';

/** Invocations per v2 workgroup. */
export const REDUCE_WORKGROUP = 256;

function startAndCombine(op: ReduceOp): { start: string; combine: string } {
  return op === 'sum'
    ? { start: '0.0', combine: 'fn combine(a: f32, b: f32) -> f32 { return a + b; }' }
    : { start: '-3.402823466e+38', combine: 'fn combine(a: f32, b: f32) -> f32 { return max(a, b); }' };
}

export function reduceWgsl(op: ReduceOp): string {
  const { start, combine } = startAndCombine(op);
  return /* wgsl */ `
struct Params { outer: u32, reduced: u32, inner: u32, scale: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;        // (outer, reduced, inner)
@group(0) @binding(2) var<storage, read_write> output: array<f32>; // (outer, inner)
${linearIndexWgsl()}
${combine}

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(group, local, groups);
  if (i >= params.outer * params.inner) { return; }
  let o = i / params.inner;
  let n = i % params.inner;
  var acc = ${start};
  var at = o * params.reduced * params.inner + n;
  for (var r = 0u; r < params.reduced; r++) {
    acc = combine(acc, input[at]);
    at += params.inner;
  }
  output[i] = acc * params.scale;
}`;
}

/**
 * v2. Workgroup w reduces columns [b·COLUMNS, (b+1)·COLUMNS) of outer index o over rows [c·chunk, (c+1)·chunk) of
 * the reduced axis, w = (o · chunks + c) · columnBlocks + b, into output (outer, chunks, inner); chunks = 1 (one
 * dispatch) unless the launcher splits a very long reduction.
 */
export function reduceWorkgroupWgsl(op: ReduceOp, columns: number): string {
  const { start, combine } = startAndCombine(op);
  const rows = REDUCE_WORKGROUP / columns;
  return /* wgsl */ `
const COLUMNS = ${columns}u;
const ROWS = ${rows}u; // lanes per column
struct Params { reduced: u32, inner: u32, chunk: u32, chunks: u32, columnBlocks: u32, workgroups: u32, scale: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;        // (outer, reduced, inner)
@group(0) @binding(2) var<storage, read_write> output: array<f32>; // (outer, chunks, inner)
var<workgroup> lanes: array<f32, ${REDUCE_WORKGROUP}>;             // (ROWS, COLUMNS)
${combine}

@compute @workgroup_size(${REDUCE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(local_invocation_index) local: u32) {
  // Past-the-end workgroups (a 2D grid's padding) and columns past inner read clamped addresses and store nothing,
  // and every lane runs the same number of steps: the loop stays uniform.
  let w = min(group.y * groups.x + group.x, params.workgroups - 1u);
  let b = w % params.columnBlocks;
  let oc = w / params.columnBlocks; // o * chunks + c
  let c = oc % params.chunks;
  let o = oc / params.chunks;
  let lane = local / COLUMNS;
  let n = b * COLUMNS + local % COLUMNS;
  let inRange = n < params.inner && group.y * groups.x + group.x < params.workgroups;
  let first = c * params.chunk;
  let count = min(params.chunk, params.reduced - first);
  let base = o * params.reduced * params.inner + min(n, params.inner - 1u);
  var acc = ${start};
  for (var k = 0u; k < (count + ROWS - 1u) / ROWS; k++) {
    let r = k * ROWS + lane;
    let v = input[base + (first + min(r, count - 1u)) * params.inner];
    acc = select(acc, combine(acc, v), r < count);
  }
  lanes[local] = acc;
  workgroupBarrier();
  for (var s = ROWS / 2u; s > 0u; s >>= 1u) {
    if (lane < s) { lanes[local] = combine(lanes[local], lanes[local + s * COLUMNS]); }
    workgroupBarrier();
  }
  if (lane == 0u && inRange) { output[oc * params.inner + n] = lanes[local] * params.scale; }
}`;
}

/** Entries (column sums) one batched dispatch takes at most, whatever the device allows: two bindings each. */
export const REDUCE_BATCH_MAX_ENTRIES = 8;

/**
 * Batched column sums: `entryCount` reductions (input_k (outer, reduced, inner) → output_k (outer, inner)) in one
 * dispatch, each computed exactly as v2 computes it in one pass (its columns per workgroup, its lanes, its tree),
 * so each output has v2's bits. Entry k covers workgroups [firstGroup_k, firstGroup_k + outer·columnBlocks); the
 * entry, and so every loop bound and barrier, is uniform across a workgroup. `accumulate` adds the sum into the
 * output instead of writing it (a gradient already gathered). Autograd sends a linear layer's bias gradients here
 * (src/tensor/deferred-sum.ts): one dispatch for several layers instead of one each.
 */
export function reduceSumBatchedWgsl(entryCount: number): string {
  const entries = range(entryCount);
  const bindings = entries
    .map((k) =>
      [
        `@group(0) @binding(${1 + 2 * k}) var<storage, read> input${k}: array<f32>;         // (outer, reduced, inner)`,
        `@group(0) @binding(${2 + 2 * k}) var<storage, read_write> output${k}: array<f32>;  // (outer, inner)`,
      ].join('\n'),
    )
    .join('\n');
  const label = (k: number) => (k === entryCount - 1 ? 'default' : `case ${k}u`);
  // One loop per entry inside the switch (lavapipe runs a switch's cases one after another under a lane mask).
  const loads = entries
    .map((k) => `    ${label(k)}: {
      for (var i = 0u; i < (e.reduced + rows - 1u) / rows; i++) {
        let r = i * rows + lane;
        let v = input${k}[base + min(r, e.reduced - 1u) * e.inner];
        acc = select(acc, acc + v, r < e.reduced);
      }
    }`)
    .join('\n');
  const stores = entries
    .map((k) => `      ${label(k)}: { output${k}[at] = select(total, output${k}[at] + total, e.accumulate != 0u); }`)
    .join('\n');
  return /* wgsl */ `
struct Entry { reduced: u32, inner: u32, columns: u32, columnBlocks: u32, firstGroup: u32, groups: u32, accumulate: u32, pad: u32 }
struct Params { workgroups: u32, pad0: u32, pad1: u32, pad2: u32, entries: array<Entry, ${entryCount}> }
@group(0) @binding(0) var<uniform> params: Params;
${bindings}
var<workgroup> lanes: array<f32, ${REDUCE_WORKGROUP}>; // (rows, columns)

@compute @workgroup_size(${REDUCE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(local_invocation_index) local: u32) {
  let flat = group.y * groups.x + group.x;
  if (flat >= params.workgroups) { return; } // a 2D grid's padding: the whole workgroup leaves
  var entry = 0u;
  for (var k = 1u; k < ${entryCount}u; k++) {
    if (flat >= params.entries[k].firstGroup) { entry = k; }
  }
  let e = params.entries[entry];
  let w = flat - e.firstGroup;
  let b = w % e.columnBlocks;
  let o = w / e.columnBlocks;
  let rows = ${REDUCE_WORKGROUP}u / e.columns; // lanes per column
  let lane = local / e.columns;
  let n = b * e.columns + local % e.columns;
  let base = o * e.reduced * e.inner + min(n, e.inner - 1u);
  var acc = 0.0;
  switch entry {
${loads}
  }
  lanes[local] = acc;
  workgroupBarrier();
  for (var s = rows / 2u; s > 0u; s >>= 1u) {
    if (lane < s) { lanes[local] = lanes[local] + lanes[local + s * e.columns]; }
    workgroupBarrier();
  }
  if (lane == 0u && n < e.inner) {
    let total = lanes[local];
    let at = o * e.inner + n;
    switch entry {
${stores}
    }
  }
}`;
}
