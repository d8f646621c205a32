/**
 * Softmax cross-entropy fused with integer labels and an ignore index (PyTorch's `F.cross_entropy(logits, labels,
 * ignore_index)`), as these kernels:
 * - forward: one invocation per row; one online max+sum pass gives logsumexp, loss = logsumexp − logit[label].
 *   Writes the per-row loss (0 for ignored rows) and logsumexp (kept for the backward). `crossEntropyPerRow`.
 * - mean v1: one invocation per trial slot sums its rows' losses (from the forward) in order and counts its
 *   non-ignored rows: a fixed order, so bit-identical run to run (no atomics). An all-ignored slot gives 0, not 0/0.
 * - mean v2 (ships for `crossEntropy`, since 2026-12-02): the forward's per-row work and the mean in one dispatch,
 *   a workgroup per slot with a fixed lane order and tree (deterministic too); one dispatch per step instead of two.
 *   v1 stays as the check of v2 (cross-entropy.test.ts).
 * - backward: one invocation per row: dlogits = (softmax − onehot) · scale, scale = dmean[slot] / count[slot]
 *   (mean) or dloss[row] (per-row loss); 0 for ignored rows.
 * A label outside [0, classes) that is not the ignore index is never used as an index: its row's loss and
 * gradient are NaN, so the slot's mean loss is NaN and training reports it.
 *
 * One invocation per row (not a workgroup) ships everywhere for now: rows are many and classes few in the models
 * this trains (sequence classification), and on lavapipe it is the fastest shape (see kernels/softmax/README.md).
 */
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { linearIndexWgsl } from '../common.js';

export const CROSS_ENTROPY_WORKGROUP = 64;

const LOWEST = '-3.402823466e+38';
// A runtime NaN: WGSL rejects NaN constants, so its bits come in the params (NAN_BITS).
const NAN = 'bitcast<f32>(params.nanBits)';
export const NAN_BITS = 0x7fc00000;

/**
 * (loss, logsumexp) of one row: one online max+sum pass; loss = logsumexp − logit[label], 0 when ignored, NaN for a
 * label outside [0, classes). Reads params.classes, ignoreIndex and nanBits, and the logits and labels bindings.
 */
const ROW_LOSS = /* wgsl */ `
fn rowLoss(row: u32) -> vec2f {
  let start = row * params.classes;
  var m = ${LOWEST};
  var s = 0.0;
  for (var c = 0u; c < params.classes; c++) {
    let v = logits[start + c];
    let next = max(m, v);
    s = s * exp(m - next) + exp(v - next);
    m = next;
  }
  let lse = m + log(s);
  let label = labels[row];
  let ignored = label == bitcast<i32>(params.ignoreIndex);
  let valid = label >= 0 && u32(label) < params.classes;
  // Clamped, so a bad label never reads outside the row.
  let picked = logits[start + select(0u, u32(label), valid)];
  var value = select(${NAN}, lse - picked, valid);
  value = select(value, 0.0, ignored);
  return vec2f(value, lse);
}`;

export function crossEntropyForwardWgsl(): string {
  return /* wgsl */ `
struct Params { rows: u32, classes: u32, ignoreIndex: u32, nanBits: u32 } // ignoreIndex: an i32's bits
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;            // (rows, classes)
@group(0) @binding(2) var<storage, read> labels: array<i32>;            // (rows)
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;        // (rows)
@group(0) @binding(4) var<storage, read_write> logSumExp: array<f32>;   // (rows)
${ROW_LOSS}
${linearIndexWgsl(CROSS_ENTROPY_WORKGROUP)}

@compute @workgroup_size(${CROSS_ENTROPY_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let index = linearIndex(group, local, groups);
  // Past-the-end invocations redo the last row and skip only the stores: the loop stays uniform.
  let row = min(index, params.rows - 1u);
  let result = rowLoss(row);
  let value = result.x;
  let lse = result.y;
  if (index < params.rows) {
    loss[index] = value;
    logSumExp[index] = lse;
  }
}`;
}

export function crossEntropyMeanWgsl(): string {
  return /* wgsl */ `
struct Params { slots: u32, rowsPerSlot: u32, ignoreIndex: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> loss: array<f32>;          // (slots, rowsPerSlot)
@group(0) @binding(2) var<storage, read> labels: array<i32>;        // (slots, rowsPerSlot)
@group(0) @binding(3) var<storage, read_write> mean: array<f32>;    // (slots)
@group(0) @binding(4) var<storage, read_write> count: array<f32>;   // (slots): non-ignored rows, for the backward

@compute @workgroup_size(${CROSS_ENTROPY_WORKGROUP})
fn main(@builtin(global_invocation_id) id: vec3u) {
  let slot = min(id.x, params.slots - 1u);
  let start = slot * params.rowsPerSlot;
  var total = 0.0;
  var n = 0u;
  for (var r = 0u; r < params.rowsPerSlot; r++) {
    total += loss[start + r]; // Ignored rows hold 0.
    n += select(1u, 0u, labels[start + r] == bitcast<i32>(params.ignoreIndex));
  }
  if (id.x < params.slots) {
    mean[id.x] = select(0.0, total / f32(n), n > 0u);
    count[id.x] = f32(n);
  }
}`;
}

/**
 * v2 of the mean (ships for `crossEntropy`): the per-row loss and the slot's mean in one dispatch, one workgroup per
 * slot. Lane k takes rows k, k + WORKGROUP, … of the slot in order, then a fixed tree adds the lanes' partial sums
 * and counts: deterministic, a different summation order from crossEntropyMeanWgsl's (ulp-level). Writes
 * logsumexp per row (for the backward), the mean and the count of non-ignored rows per slot; no per-row loss.
 * Any number of rows per slot (a slot's lanes loop); a workgroup per slot is plenty for classification batches.
 */
export function crossEntropyLossMeanWgsl(): string {
  return /* wgsl */ `
const WORKGROUP = ${CROSS_ENTROPY_WORKGROUP}u;
struct Params { rowsPerSlot: u32, classes: u32, ignoreIndex: u32, nanBits: u32, slots: u32 } // ignoreIndex: an i32's bits
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;            // (slots, rowsPerSlot, classes)
@group(0) @binding(2) var<storage, read> labels: array<i32>;            // (slots, rowsPerSlot)
@group(0) @binding(3) var<storage, read_write> logSumExp: array<f32>;   // (slots, rowsPerSlot)
@group(0) @binding(4) var<storage, read_write> mean: array<f32>;        // (slots)
@group(0) @binding(5) var<storage, read_write> count: array<f32>;       // (slots): non-ignored rows, for the backward
var<workgroup> partialLoss: array<f32, WORKGROUP>;
var<workgroup> partialCount: array<u32, WORKGROUP>;
${ROW_LOSS}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(local_invocation_index) local: u32) {
  let index = group.y * groups.x + group.x;
  // Past-the-end workgroups (a 2D grid's padding) redo the last slot and store nothing: barriers stay uniform.
  let slot = min(index, params.slots - 1u);
  var total = 0.0;
  var n = 0u;
  for (var k = local; k < params.rowsPerSlot; k += WORKGROUP) {
    let row = slot * params.rowsPerSlot + k;
    let result = rowLoss(row);
    if (index < params.slots) { logSumExp[row] = result.y; }
    total += result.x; // Ignored rows add 0.
    n += select(1u, 0u, labels[row] == bitcast<i32>(params.ignoreIndex));
  }
  partialLoss[local] = total;
  partialCount[local] = n;
  workgroupBarrier();
  for (var width = WORKGROUP / 2u; width > 0u; width /= 2u) {
    if (local < width) {
      partialLoss[local] += partialLoss[local + width];
      partialCount[local] += partialCount[local + width];
    }
    workgroupBarrier();
  }
  if (local == 0u && index < params.slots) {
    let rows = partialCount[0];
    mean[slot] = select(0.0, partialLoss[0] / f32(rows), rows > 0u); // An all-ignored slot gives 0, not 0/0.
    count[slot] = f32(rows);
  }
}`;
}

/** MEAN: the gradient comes per slot with counts (crossEntropy); otherwise per row (crossEntropyPerRow). */
export function crossEntropyBackwardWgsl(mean: boolean): string {
  return wgsl`
struct Params { rows: u32, classes: u32, ignoreIndex: u32, nanBits: u32, rowsPerSlot: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;          // (rows, classes)
@group(0) @binding(2) var<storage, read> labels: array<i32>;          // (rows)
@group(0) @binding(3) var<storage, read> logSumExp: array<f32>;       // (rows)
@group(0) @binding(4) var<storage, read> gradOutput: array<f32>;      // MEAN: (slots), else (rows)
@group(0) @binding(5) var<storage, read_write> gradLogits: array<f32>; // (rows, classes)
#if ${mean}
@group(0) @binding(6) var<storage, read> count: array<f32>;           // (slots)
#endif
${linearIndexWgsl(CROSS_ENTROPY_WORKGROUP)}

@compute @workgroup_size(${CROSS_ENTROPY_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let index = linearIndex(group, local, groups);
  let row = min(index, params.rows - 1u);
  let start = row * params.classes;
  let label = labels[row];
  let ignored = label == bitcast<i32>(params.ignoreIndex);
  let valid = label >= 0 && u32(label) < params.classes;
#if ${mean}
  let slot = row / params.rowsPerSlot;
  let n = count[slot];
  var scale = select(0.0, gradOutput[slot] / n, n > 0.0);
#else
  var scale = gradOutput[row];
#endif
  scale = select(select(${NAN}, scale, valid), 0.0, ignored);
  let lse = logSumExp[row];
  for (var c = 0u; c < params.classes; c++) {
    let onehot = select(0.0, 1.0, i32(c) == label);
    let value = (exp(logits[start + c] - lse) - onehot) * scale;
    if (index < params.rows) { gradLogits[start + c] = value; }
  }
}`;
}
