/**
 * Inverted dropout WGSL with a counter-based mask (Philox-4x32-10, see philox.ts): no mask is stored, and the
 * backward runs this same kernel on the incoming gradient, regenerating the same mask.
 *
 * Stream layout. Each slot's values are viewed as (blocks, rows, rowLength): the last axis, the one before it, and
 * everything before those (per slot), so (B, S, H) activations are B blocks of S rows of H and (B, heads, S, S)
 * attention weights are B·heads blocks of S rows of S. Element (block, row, j) of slot s in call c is kept iff
 *   uniform(word[j % 4] of philox(counter (j / 4, row, block, c / 2^32), key (seed[s], c mod 2^32))) ≥ p[s],
 * uniform(w) = (w >> 8) / 2^24: exact in f32, so the CPU twin decides identically. p ≤ 0 keeps everything
 * (identity), p ≥ 1 drops everything (zeros). Kept values are scaled by 1 / (1 − p).
 * Why coordinates and not the flat index: a value's mask must not depend on padding. A fused group pads every slot's
 * batch to the longest sequence among the slots, a trial training alone pads to its own: with flat indices the same
 * token got another mask, and a sweep's fused trials diverged from their sequential runs (seen on an H100: 3 of 8
 * objectives moved). For the same reason the slot index is not in the key: a trial's masks depend on its seed alone,
 * whichever slot it gets (plain training is a fused group of one).
 * c is a base read from a (T, 2) buffer plus an offset in the uniforms: a training step writes each slot's base
 * (its own step · 4096: a refilled slot's trial starts again at step 0) once, and each dropout site adds its own
 * number, so a site's uniforms and bind group are the same every step (a per-step uniform made new bind groups
 * every step: issue 17).
 * One invocation makes one Philox call and serves four consecutive values of a row.
 */
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { ELEMENTWISE_WORKGROUP, linearIndexWgsl, safeTanhWgsl } from '../common.js';
import { philoxWgsl } from './philox.js';

/**
 * WGSL helpers that state the mask rule above once, for this kernel and for kernels that fuse dropout into
 * something larger (kernels/attention, kernels/residual-layernorm, kernels/embeddings-layernorm): the call index as
 * two words, the Philox words of one quad, and the keep test and scale. Includes philoxWgsl.
 */
export const dropoutMaskWgsl = /* wgsl */ `
${philoxWgsl}
// c = callBase + callOffset, as (low, high) words with the carry.
fn dropoutCall(baseLow: u32, baseHigh: u32, callOffset: u32) -> vec2u {
  let low = baseLow + callOffset;
  return vec2u(low, baseHigh + select(0u, 1u, low < callOffset));
}
// The four random words of values 4·quad … 4·quad + 3 of (block, row) in call c, for seed.
fn dropoutWords(quad: u32, row: u32, block: u32, call: vec2u, seed: u32) -> vec4u {
  return philox4x32_10(vec4u(quad, row, block, call.y), vec2u(seed, call.x));
}
// Kept iff uniform(word) >= p, uniform(w) = (w >> 8) / 2^24 (exact in f32); p is clamped to [0, 1] by the caller.
fn dropoutKeeps(word: u32, p: f32) -> bool {
  return f32(word >> 8u) * (1.0 / 16777216.0) >= p;
}
// What a kept value is multiplied by: 1 / (1 − p), and 0 when everything is dropped.
fn dropoutScale(p: f32) -> f32 {
  return select(1.0 / (1.0 - p), 0.0, p >= 1.0);
}`;

/**
 * What the dropout kernel applies with the mask: 'none' drops x; 'tanh' drops tanh(x) (the pooler's activation and
 * dropout in one pass); 'tanh_grad' is that one's backward, the dropped gradient times 1 − tanh(pre)², with tanh
 * computed again from the pre-activation. Each gives the bits of the separate elementwise tanh (or tanh_grad) and
 * dropout dispatches it replaces: the same operations in the same order.
 */
export type DropoutActivation = 'none' | 'tanh' | 'tanh_grad';

export function dropoutWgsl(activation: DropoutActivation = 'none'): string {
  const value = {
    none: 'select(0.0, input[i] * scale, keep)',
    tanh: 'select(0.0, safeTanh(input[i]) * scale, keep)',
    tanh_grad: 'select(0.0, input[i] * scale, keep) * (1.0 - safeTanh(pre[i]) * safeTanh(pre[i]))',
  }[activation];
  return wgsl`
struct Params {
  quadsPerRow: u32, rowLength: u32, rowsPerBlock: u32, rowsPerSlot: u32, slots: u32, callOffset: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;          // (T, blocks, rowsPerBlock, rowLength)
@group(0) @binding(2) var<storage, read> seeds: array<u32>;          // (T) seed per slot (i32 bits)
@group(0) @binding(3) var<storage, read> probabilities: array<f32>;  // (T) drop probability per slot
@group(0) @binding(4) var<storage, read> callBase: array<u32>;       // (T, 2) per slot: low and high words of the call's base
@group(0) @binding(5) var<storage, read_write> output: array<f32>;   // like input
#if ${activation === 'tanh_grad'}
@group(0) @binding(6) var<storage, read> pre: array<f32>;            // like input: the forward's input to tanh
#endif
${linearIndexWgsl()}
${dropoutMaskWgsl}
${activation === 'none' ? '' : safeTanhWgsl()}

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let q = linearIndex(group, local, groups);
  let quadsPerSlot = params.rowsPerSlot * params.quadsPerRow;
  if (q >= quadsPerSlot * params.slots) { return; }
  let slot = q / quadsPerSlot;
  let rowInSlot = (q % quadsPerSlot) / params.quadsPerRow;
  let quad = q % params.quadsPerRow;
  let block = rowInSlot / params.rowsPerBlock;
  let row = rowInSlot % params.rowsPerBlock;
  let p = clamp(probabilities[slot], 0.0, 1.0); // outside [0, 1] means never / always
  let call = dropoutCall(callBase[2u * slot], callBase[2u * slot + 1u], params.callOffset);
  let words = dropoutWords(quad, row, block, call, seeds[slot]);
  let scale = dropoutScale(p);
  let first = (slot * params.rowsPerSlot + rowInSlot) * params.rowLength;
  for (var lane = 0u; lane < 4u; lane++) {
    let j = quad * 4u + lane;
    if (j < params.rowLength) {
      let i = first + j;
      let keep = dropoutKeeps(words[lane], p);
      output[i] = ${value};
    }
  }
}`;
}

/**
 * A fused dropout's three inputs, bound from binding `first` on, and the mask helpers: what any kernel that fuses
 * dropout into its own work binds (kernels/attention and the row kernels below).
 */
export function dropoutInputsWgsl(first: number): string {
  return /* wgsl */ `
@group(0) @binding(${first}) var<storage, read> seeds: array<u32>;              // (T) seed per slot (i32 bits)
@group(0) @binding(${first + 1}) var<storage, read> probabilities: array<f32>;  // (T) drop probability per slot
@group(0) @binding(${first + 2}) var<storage, read> callBase: array<u32>;       // (T, 2) low, high words of the call base
${dropoutMaskWgsl}`;
}

/**
 * Dropout fused into a row kernel (kernels/residual-layernorm, kernels/embeddings-layernorm; launcher side:
 * `rowDropoutFields` in dropout.ts): its inputs from binding `first` on, the mask helpers, and `keepQuad`, the keep
 * decisions of values 4·quad … 4·quad + 3 of a row (one Philox call per quad). The kernel's Params carry
 * rowsPerDropoutSlot, rowsPerBlock and callOffset.
 */
export function rowDropoutWgsl(first: number): string {
  return /* wgsl */ `${dropoutInputsWgsl(first)}
fn keepQuad(quad: u32, row: u32, block: u32, call: vec2u, seed: u32, p: f32) -> vec4<bool> {
  let w = dropoutWords(quad, row, block, call, seed);
  return vec4<bool>(dropoutKeeps(w.x, p), dropoutKeeps(w.y, p), dropoutKeeps(w.z, p), dropoutKeeps(w.w, p));
}`;
}

/** In a row kernel's main, for its (clamped) `row`: the dropout stream's coordinates, rate, scale, seed and call. */
export const ROW_DROPOUT_SETUP = /* wgsl */ `
  let dropoutSlot = row / params.rowsPerDropoutSlot;
  let rowInSlot = row % params.rowsPerDropoutSlot;
  let block = rowInSlot / params.rowsPerBlock;
  let rowInBlock = rowInSlot % params.rowsPerBlock;
  let p = clamp(probabilities[dropoutSlot], 0.0, 1.0); // outside [0, 1] means never / always, as kernels/dropout
  let scale = dropoutScale(p);
  let seed = seeds[dropoutSlot];
  let call = dropoutCall(callBase[2u * dropoutSlot], callBase[2u * dropoutSlot + 1u], params.callOffset);`;
