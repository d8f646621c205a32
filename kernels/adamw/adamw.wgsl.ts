/**
 * AdamW WGSL (Loshchilov & Hutter 2019, Algorithm 2, in torch.optim.AdamW's form) and the global-norm gradient
 * clipping that feeds it.
 *
 * The hyperparameter table is field-major, (ADAMW_FIELD_COUNT, T) f32: row `f` holds field f for every slot, so the
 * fields the CPU changes each step (lr and the two bias corrections, rows 0–2) are one contiguous (3, T) block and
 * one small `device.write` updates all slots. Bias corrections 1 − β^t are computed on the CPU in float64 because
 * each slot has its own step count (slots are refilled at different times) and f32 `pow` loses digits near 1.
 *
 * adamw: one invocation per element, all slots in one dispatch (slot = i / elementsPerSlot). Elementwise and so
 * deterministic. Ships v2 (vec4) where elementsPerSlot % 4 == 0, else v1 (see adamwWgsl).
 *
 * Clipping, llm.c style and deterministic (fixed summation trees, no float atomics):
 *  - clip_partials: workgroup (chunk, slot) sums the squares of one chunk of one slot of one gradient buffer with a
 *    fixed tree in workgroup memory, into partials (T, totalChunks) at this buffer's column offset.
 *  - clip_scale: one workgroup per slot sums its row of partials the same way, writes gradNorm and
 *    gradScale = min(1, maxGradNorm / (norm + 1e-6)) (1 when maxGradNorm ≤ 0: clipping off).
 * Workgroup memory is slow on lavapipe, but these run once per parameter buffer per step; a real GPU wants it.
 */
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { ELEMENTWISE_WORKGROUP, linearIndexWgsl } from '../common.js';

/** Rows of the hyperparameter table, (ADAMW_FIELD_COUNT, T). Rows 0–2 are rewritten by the CPU every step. */
export const ADAMW_FIELDS = {
  lr: 0,
  /** 1 − β1^t for this slot's step t (t ≥ 1). */
  biasCorrection1: 1,
  /** 1 − β2^t. */
  biasCorrection2: 2,
  beta1: 3,
  beta2: 4,
  eps: 5,
  weightDecay: 6,
  /** Global-norm clipping threshold per slot; ≤ 0 turns clipping off. */
  maxGradNorm: 7,
  /** Multiplies the gradient before the update: written by clip_scale, 1 when no clipping runs. */
  gradScale: 8,
  /** The last gradient norm clip_scale measured, for logging. */
  gradNorm: 9,
} as const;
export const ADAMW_FIELD_COUNT = 10;

const fieldConstants = Object.entries(ADAMW_FIELDS)
  .map(([name, row]) => `const ${name.toUpperCase()} = ${row}u;`)
  .join('\n');

/**
 * v1 (`vectorWidth` 1): one element per invocation. v2 (`vectorWidth` 4): four consecutive elements of one slot per
 * invocation as vec4 loads, so the eight hyperparameter loads are paid once per four elements; needs
 * elementsPerSlot % 4 == 0 (the launcher picks it then). On lavapipe, where every load is a lane-by-lane loop,
 * v2 measured 1.9–3.6× v1 (adamw.bench.ts, 2026-11-27, VM shared with other jobs: 4M values 41 vs 150 ms and
 * 153 vs 287 ms in two runs; 8 slots × 512k 58 vs 119 ms); on a GPU it cuts the hyperparameter loads by 4.
 */
export function adamwWgsl(vectorWidth: 1 | 4): string {
  const T = vectorWidth === 4 ? 'vec4f' : 'f32';
  return wgsl`
${fieldConstants}
// count and elementsPerSlot are in units of ${T}.
struct Params { count: u32, elementsPerSlot: u32, slots: u32, decay: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> param: array<${T}>;   // (T, ...elementsPerSlot)
@group(0) @binding(2) var<storage, read> grad: array<${T}>;          // (T, ...elementsPerSlot)
@group(0) @binding(3) var<storage, read_write> m: array<${T}>;       // (T, ...elementsPerSlot) first moment
@group(0) @binding(4) var<storage, read_write> v: array<${T}>;       // (T, ...elementsPerSlot) second moment
@group(0) @binding(5) var<storage, read> hyper: array<f32>;          // (ADAMW_FIELD_COUNT, T)
${linearIndexWgsl()}

fn field(row: u32, slot: u32) -> f32 { return hyper[row * params.slots + slot]; }

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(group, local, groups);
  if (i >= params.count) { return; }
  let slot = i / params.elementsPerSlot;
  let lr = field(LR, slot);
  let beta1 = field(BETA1, slot);
  let beta2 = field(BETA2, slot);
  let g = grad[i] * field(GRADSCALE, slot);
  var p = param[i];
  // Decoupled weight decay, applied to the parameter before the Adam step (torch.optim.AdamW).
  if (params.decay != 0u) { p = p - lr * field(WEIGHTDECAY, slot) * p; }
  let mNew = beta1 * m[i] + (1.0 - beta1) * g;
  let vNew = beta2 * v[i] + (1.0 - beta2) * g * g;
  let mHat = mNew / field(BIASCORRECTION1, slot);
  let vHat = vNew / field(BIASCORRECTION2, slot);
  m[i] = mNew;
  v[i] = vNew;
  param[i] = p - lr * mHat / (sqrt(vHat) + field(EPS, slot));
}`;
}

export const CLIP_WORKGROUP = 256;
/**
 * Values per thread in clip_partials (one workgroup covers CLIP_WORKGROUP × this many values of a slot): fewer,
 * longer workgroups on lavapipe, where each barrier is costly (64 measured ~2× faster than 8 there), more
 * workgroups on a GPU to fill its cores.
 */
export const CLIP_PER_THREAD_SOFTWARE = 64;
export const CLIP_PER_THREAD_GPU = 16;

/** Fixed-order tree sum of `sums` in workgroup memory; the result lands in sums[0]. */
const treeSumWgsl = /* wgsl */ `
var<workgroup> sums: array<f32, ${CLIP_WORKGROUP}>;
fn treeSum(lane: u32) {
  for (var width = ${CLIP_WORKGROUP / 2}u; width > 0u; width = width / 2u) {
    workgroupBarrier();
    if (lane < width) { sums[lane] = sums[lane] + sums[lane + width]; }
  }
  workgroupBarrier();
}`;

export function clipPartialsWgsl(perThread: number): string {
  return wgsl`
struct Params { elementsPerSlot: u32, totalChunks: u32, column: u32, pad: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;              // (T, elementsPerSlot)
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;    // (T, totalChunks)
${treeSumWgsl}

@compute @workgroup_size(${CLIP_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u) {
  let chunk = group.x;
  let slot = group.y;
  let start = chunk * ${CLIP_WORKGROUP * perThread}u;
  var total = 0.0;
  for (var k = 0u; k < ${perThread}u; k++) {
    let j = start + k * ${CLIP_WORKGROUP}u + local.x; // coalesced: neighbouring lanes read neighbouring values
    if (j < params.elementsPerSlot) {
      let g = grad[slot * params.elementsPerSlot + j];
      total += g * g;
    }
  }
  sums[local.x] = total;
  treeSum(local.x);
  if (local.x == 0u) { partials[slot * params.totalChunks + params.column + chunk] = sums[0]; }
}`;
}

export function clipScaleWgsl(): string {
  return wgsl`
${fieldConstants}
struct Params { totalChunks: u32, slots: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;      // (T, totalChunks)
@group(0) @binding(2) var<storage, read_write> hyper: array<f32>;   // (ADAMW_FIELD_COUNT, T)
${treeSumWgsl}

@compute @workgroup_size(${CLIP_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u) {
  let slot = group.x;
  var total = 0.0;
  for (var c = local.x; c < params.totalChunks; c += ${CLIP_WORKGROUP}u) {
    total += partials[slot * params.totalChunks + c];
  }
  sums[local.x] = total;
  treeSum(local.x);
  if (local.x == 0u) {
    let norm = sqrt(sums[0]);
    let maxNorm = hyper[MAXGRADNORM * params.slots + slot];
    hyper[GRADNORM * params.slots + slot] = norm;
    hyper[GRADSCALE * params.slots + slot] = select(1.0, min(1.0, maxNorm / (norm + 1e-6)), maxNorm > 0.0);
  }
}`;
}
