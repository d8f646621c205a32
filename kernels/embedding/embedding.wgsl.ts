/**
 * Embedding WGSL: the gather (forward) and a deterministic scatter-add (backward), per trial slot.
 *
 * Forward: one invocation per output value gathers table[slot, id, h]. An id outside [0, vocab) reads nothing and
 * writes NaN, so a bad token shows up in the loss instead of reading another slot's (or no) memory.
 *
 * Backward, without float atomics (a float atomic add would sum a repeated token's rows in a varying order):
 *  1. embedding_heads: head[slot, v] / tail[slot, v] = the first / last token of the slot with id v (NONE / 0 if
 *     none), by integer atomicMin / atomicMax over token indices (order-independent, so deterministic). One workgroup
 *     per (slot, block of 1024 ids) reads all of the slot's ids and keeps the block's head and tail in workgroup
 *     memory, then writes every entry: no fill dispatches first (until 2026-12-02: fills of head and tail, then
 *     global atomics per token: three dispatches with the same results). Cost: N · ceil(vocab / 1024) id reads per
 *     slot, at N = 2048 and vocab 30522 about the stores of the fills it replaced.
 *  2. embedding_links: next[i] = the next token after i in the same slot with the same id (or NONE), by a forward
 *     scan that stops at the first match; the last token of each id (i == tail) skips the scan. Cost: the sum of the
 *     gaps between consecutive equal ids, ≤ N · (distinct ids) per slot; O(N) when ids are all distinct or
 *     repeat closely ([PAD], [CLS], common words). Measured on lavapipe (embedding.bench.ts, 2026-11-27, VM shared
 *     with other jobs), whole backward (v2), vocab 30522 × hidden 128, T = 1: N = 4096 → 24–30 ms; N = 16384 with
 *     all ids distinct → 30 ms (270–280 ms before the tail shortcut); N = 16384 cycling through 2000 ids (every gap
 *     2000, an adversarial pattern) → ~210 ms, where the link scan dominates. Linking inside the heads kernel (one
 *     dispatch fewer) was tried on 2026-12-02 and not kept: a block's workgroups then link all of its tokens, so ids
 *     clustered in a few blocks (ids < 2000 cycled) leave most workgroups idle, and lanes whose token is in another
 *     block idle within one; on lavapipe it took ~2× at N = 16384 (distinct and cycled ids).
 *  3. embedding_grad_rows: one invocation per (slot, v, h) walks the chain head → next → … and sums gradOut rows in
 *     token order, writing every table row: rows no token touched get 0, so no separate zero fill.
 * Every sum has a fixed order, so repeats are bit-identical. Ships v2 (vec4 along hidden) of the forward and row
 * pass when hidden % 4 == 0 (3–4× v1 on lavapipe), else v1; a sort-based link pass (O(N log N))
 * is the next step if N grows well beyond 16 k per slot.
 *
 * Also here, for gathers whose rows follow a stride (the [CLS] rows of each sequence): selectRows and its gradient,
 * one dispatch each; the gradient writes every row of dx (the selected rows' gradients, 0 elsewhere), where the
 * scatter above would take three dispatches to find the same thing out.
 */
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { ELEMENTWISE_WORKGROUP, linearIndexWgsl } from '../common.js';

export const NONE = 0xffffffff;

/**
 * `vectorWidth` 4 (v2, when hidden % 4 == 0) moves vec4s along hidden: a quarter of the id loads and index
 * arithmetic; `hidden` and `count` are then in vec4s. v1 (scalar) otherwise.
 */
export function embeddingForwardWgsl(vectorWidth: 1 | 4): string {
  const T = vectorWidth === 4 ? 'vec4f' : 'f32';
  return wgsl`
// nanBits = 0x7fc00000: WGSL rejects a constant NaN, so the bit pattern comes in at run time.
struct Params { count: u32, hidden: u32, vocab: u32, rowsPerSlot: u32, nanBits: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> table: array<${T}>;        // (T, vocab, hidden)
@group(0) @binding(2) var<storage, read> ids: array<i32>;            // (T, rowsPerSlot)
@group(0) @binding(3) var<storage, read_write> output: array<${T}>;  // (T, rowsPerSlot, hidden)
${linearIndexWgsl()}

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(group, local, groups);
  if (i >= params.count) { return; }
  let token = i / params.hidden;
  let h = i % params.hidden;
  let slot = token / params.rowsPerSlot;
  let id = ids[token];
  if (id < 0 || u32(id) >= params.vocab) {
    output[i] = ${T}(bitcast<f32>(params.nanBits)); // NaN: out-of-range id
    return;
  }
  output[i] = table[(slot * params.vocab + u32(id)) * params.hidden + h];
}`;
}

/** Vocabulary entries per workgroup of embedding_heads: its block's head and tail in workgroup memory (8 KB). */
export const HEADS_BLOCK = 1024;
const HEADS_WORKGROUP = 256;

export function embeddingHeadsWgsl(): string {
  return wgsl`
const BLOCK = ${HEADS_BLOCK}u;
const GROUP = ${HEADS_WORKGROUP}u;
struct Params { vocab: u32, rowsPerSlot: u32, blocks: u32, workgroups: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<i32>;          // (T, rowsPerSlot)
@group(0) @binding(2) var<storage, read_write> head: array<u32>;   // (T, vocab)
@group(0) @binding(3) var<storage, read_write> tail: array<u32>;   // (T, vocab)
var<workgroup> first: array<atomic<u32>, BLOCK>;                   // the block's head: NONE where no token
var<workgroup> last: array<atomic<u32>, BLOCK>;                    // the block's tail: 0 where no token

// Workgroup w: (slot, block of BLOCK ids).
@compute @workgroup_size(${HEADS_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(local_invocation_index) local: u32) {
  let index = group.y * groups.x + group.x;
  let w = min(index, params.workgroups - 1u); // past-the-end workgroups (a 2D grid's padding) store nothing
  let slot = w / params.blocks;
  let firstId = (w % params.blocks) * BLOCK;
  for (var k = local; k < BLOCK; k += GROUP) {
    atomicStore(&first[k], ${NONE}u);
    atomicStore(&last[k], 0u);
  }
  workgroupBarrier();
  let end = (slot + 1u) * params.rowsPerSlot;
  for (var token = slot * params.rowsPerSlot + local; token < end; token += GROUP) {
    let k = u32(ids[token]) - firstId; // ids below the block (negative ones too) wrap to ≥ BLOCK
    if (k < BLOCK && firstId + k < params.vocab) {
      atomicMin(&first[k], token);
      atomicMax(&last[k], token);
    }
  }
  workgroupBarrier();
  if (index >= params.workgroups) { return; }
  for (var k = local; k < BLOCK && firstId + k < params.vocab; k += GROUP) {
    head[slot * params.vocab + firstId + k] = atomicLoad(&first[k]);
    tail[slot * params.vocab + firstId + k] = atomicLoad(&last[k]);
  }
}`;
}

export function embeddingLinksWgsl(): string {
  return wgsl`
struct Params { tokens: u32, rowsPerSlot: u32, vocab: u32, pad: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<i32>;          // (T, rowsPerSlot)
@group(0) @binding(2) var<storage, read> tail: array<u32>;         // (T, vocab)
@group(0) @binding(3) var<storage, read_write> next: array<u32>;   // (T, rowsPerSlot)
${linearIndexWgsl()}

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let token = linearIndex(group, local, groups);
  if (token >= params.tokens) { return; }
  let id = ids[token];
  let slot = token / params.rowsPerSlot;
  var found = ${NONE}u;
  // Out-of-range ids and each id's last token have no successor (and the former are never walked).
  var end = token + 1u;
  if (id >= 0 && u32(id) < params.vocab && tail[slot * params.vocab + u32(id)] != token) {
    end = (slot + 1u) * params.rowsPerSlot;
  }
  for (var j = token + 1u; j < end; j++) {
    if (ids[j] == id) {
      found = j;
      break;
    }
  }
  next[token] = found;
}`;
}

/** `vectorWidth` as for the forward: v2 walks each chain once per four hidden values. */
export function embeddingGradRowsWgsl(vectorWidth: 1 | 4): string {
  const T = vectorWidth === 4 ? 'vec4f' : 'f32';
  return wgsl`
struct Params { count: u32, hidden: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> gradOutput: array<${T}>;     // (T, rowsPerSlot, hidden)
@group(0) @binding(2) var<storage, read> head: array<u32>;            // (T, vocab)
@group(0) @binding(3) var<storage, read> next: array<u32>;            // (T, rowsPerSlot)
@group(0) @binding(4) var<storage, read_write> gradTable: array<${T}>; // (T, vocab, hidden)
${linearIndexWgsl()}

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(group, local, groups);
  if (i >= params.count) { return; }
  let row = i / params.hidden; // slot * vocab + v
  let h = i % params.hidden;
  var total = ${T}(0.0);
  var token = head[row];
  while (token != ${NONE}u) {
    total += gradOutput[token * params.hidden + h];
    token = next[token];
  }
  gradTable[i] = total;
}`;
}

/**
 * Strided row selection, the gather of [CLS] rows: out[t, i] = x[t, i·stride + offset] over rows of `hidden`
 * (vec4s with `vectorWidth` 4). One invocation per output value; `count` and `hidden` in lanes.
 */
export function selectRowsWgsl(vectorWidth: 1 | 4): string {
  const T = vectorWidth === 4 ? 'vec4f' : 'f32';
  return /* wgsl */ `
struct Params { count: u32, hidden: u32, stride: u32, offset: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<${T}>;              // (T, selected · stride, hidden)
@group(0) @binding(2) var<storage, read_write> output: array<${T}>;   // (T, selected, hidden)
${linearIndexWgsl()}

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(group, local, groups);
  if (i >= params.count) { return; }
  let selected = i / params.hidden; // over all slots: slot · selectedPerSlot + k, and its source row is selected · stride + offset
  output[i] = x[(selected * params.stride + params.offset) * params.hidden + i % params.hidden];
}`;
}

/**
 * The first row of each sequence (its [CLS] token) of a (T, rows, hidden) buffer whose sequences the (T, B, 2) table
 * `sequences` places (first row in its slot, rows owned; kernels/attention): out[t, b] = x[t, first(t, b)].
 */
export function selectFirstRowsWgsl(vectorWidth: 1 | 4): string {
  const T = vectorWidth === 4 ? 'vec4f' : 'f32';
  return /* wgsl */ `
struct Params { count: u32, hidden: u32, batch: u32, rowsPerSlot: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<${T}>;              // (T, rows, hidden)
@group(0) @binding(2) var<storage, read> sequences: array<i32>;      // (T, B, 2): first row, rows owned
@group(0) @binding(3) var<storage, read_write> output: array<${T}>;   // (T, B, hidden)
${linearIndexWgsl()}

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(group, local, groups);
  if (i >= params.count) { return; }
  let sequence = i / params.hidden; // slot · B + b
  let row = (sequence / params.batch) * params.rowsPerSlot + u32(sequences[2u * sequence]);
  output[i] = x[row * params.hidden + i % params.hidden];
}`;
}

/**
 * selectFirstRows's gradient in one pass over every value of dx: the output's gradient row where the row is a
 * sequence's first, else 0. A row finds its sequence by binary search over its slot's first rows, which ascend.
 */
export function selectFirstRowsBackwardWgsl(vectorWidth: 1 | 4): string {
  const T = vectorWidth === 4 ? 'vec4f' : 'f32';
  return /* wgsl */ `
struct Params { count: u32, hidden: u32, batch: u32, rowsPerSlot: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> gradOutput: array<${T}>;  // (T, B, hidden)
@group(0) @binding(2) var<storage, read> sequences: array<i32>;   // (T, B, 2): first row (ascending), rows owned
@group(0) @binding(3) var<storage, read_write> gradX: array<${T}>; // (T, rows, hidden)
${linearIndexWgsl()}

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(group, local, groups);
  if (i >= params.count) { return; }
  let row = i / params.hidden; // over all slots
  let slot = row / params.rowsPerSlot;
  let inSlot = i32(row % params.rowsPerSlot);
  // The first sequence of the slot whose first row is not before this one.
  var low = 0u;
  var high = params.batch;
  while (low < high) {
    let middle = (low + high) / 2u;
    if (sequences[2u * (slot * params.batch + middle)] < inSlot) { low = middle + 1u; } else { high = middle; }
  }
  var value = ${T}(0.0);
  if (low < params.batch && sequences[2u * (slot * params.batch + low)] == inSlot) {
    value = gradOutput[(slot * params.batch + low) * params.hidden + i % params.hidden];
  }
  gradX[i] = value;
}`;
}

/**
 * The selection's gradient in one pass over every value of dx: the output's gradient row where the row was
 * selected, else 0 (no zero fill first, no scatter).
 */
export function selectRowsBackwardWgsl(vectorWidth: 1 | 4): string {
  const T = vectorWidth === 4 ? 'vec4f' : 'f32';
  return /* wgsl */ `
struct Params { count: u32, hidden: u32, stride: u32, offset: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> gradOutput: array<${T}>;  // (T, selected, hidden)
@group(0) @binding(2) var<storage, read_write> gradX: array<${T}>; // (T, selected · stride, hidden)
${linearIndexWgsl()}

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(group, local, groups);
  if (i >= params.count) { return; }
  let row = i / params.hidden; // over all slots; rows per slot are a multiple of stride, so row / stride is its output row
  var value = ${T}(0.0);
  if (row % params.stride == params.offset) { value = gradOutput[(row / params.stride) * params.hidden + i % params.hidden]; }
  gradX[i] = value;
}`;
}
