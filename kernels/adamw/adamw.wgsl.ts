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
 * deterministic. Versions (the arithmetic is one WGSL function, `adamwUpdate`, in all of them, so they agree bit for
 * bit):
 *  - v1: one tensor, one element per invocation.
 *  - v2: one tensor, vec4 (elementsPerSlot % 4 == 0).
 *  - v3 (gone): up to 8 tensors per dispatch, each binding param, grad, m and v: 3 tensors per dispatch at
 *    lavapipe's 16 storage bindings, so the default model's 40 parameter tensors took 14 dispatches.
 *  - v4 (ships, in AdamW.step): v3 with the tensors' m and v packed into moments chunks (buffers the optimizer
 *    owns, each at most the largest binding, laid out by planMomentsArena), each chunk a dispatch uses bound once,
 *    m and v at per-tensor offsets; a tensor binds only param and grad, so with one chunk 7 fit a dispatch at 16
 *    bindings and the default model takes 7 dispatches (6 vec4, 1 scalar); a dispatch whose tensors span more
 *    chunks takes fewer. A small model's step is bound by the CPU cost of each dispatch (ARCHITECTURE.md). Each
 *    tensor's elements start at a workgroup boundary, so the tensor index is workgroup-uniform (no divergence in the
 *    switch that picks its bindings; WGSL cannot index bindings dynamically, so the shader is generated per width,
 *    tensor count and which chunk binding holds each tensor's m and v).
 *
 * Clipping, llm.c style and deterministic (fixed summation trees, no float atomics):
 *  - clip_partials: workgroup (chunk, slot) sums the squares of one chunk of one slot of one gradient buffer with a
 *    fixed tree in workgroup memory, into partials (T, totalChunks) at this buffer's column offset. v1: one buffer
 *    per dispatch; v2 (ships): up to CLIP_MAX_TENSORS buffers per dispatch, workgroup x running over their chunks
 *    back to back, so partials gets the same columns and values as v1's dispatches and the norm the same bits.
 *  - clip_scale: one workgroup per slot sums its row of partials the same way, writes gradNorm and
 *    gradScale = min(1, maxGradNorm / (norm + 1e-6)) (1 when maxGradNorm ≤ 0: clipping off).
 * Workgroup memory is slow on lavapipe, but these run a few times per step; a real GPU wants it.
 *
 * Measured for v3 (adamw.bench.ts, lavapipe on the 2-core VM with other jobs, 2026-12-02): the default model's
 * optimizer step (40 tensors) took 18 dispatches instead of 81 and 0.71–0.80 ms of CPU to record instead of
 * 1.25–1.33 ms; on the GPU side adamw v3 ran 9.0–9.2 ms against v1/v2's 9.2–9.8 ms, clip v2 3.5–6.6 ms against
 * v1's 4.9–7.6 ms (bench/kernel-log.md, adamw). With v4 the step takes 11 dispatches.
 */
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { ELEMENTWISE_WORKGROUP, linearIndexWgsl, range } from '../common.js';

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
 * The update of one element (or vec4 of one slot's elements) in torch.optim.AdamW's order, shared by every version so
 * that they agree bit for bit. Needs `field(row, slot)` (hyper) in scope.
 */
function adamwUpdateWgsl(T: 'f32' | 'vec4f'): string {
  return /* wgsl */ `
struct Moments { param: ${T}, m: ${T}, v: ${T} }

fn adamwUpdate(pOld: ${T}, gRaw: ${T}, mOld: ${T}, vOld: ${T}, slot: u32, decay: bool) -> Moments {
  let lr = field(LR, slot);
  let beta1 = field(BETA1, slot);
  let beta2 = field(BETA2, slot);
  let g = gRaw * field(GRADSCALE, slot);
  var p = pOld;
  // Decoupled weight decay, applied to the parameter before the Adam step (torch.optim.AdamW).
  if (decay) { p = p - lr * field(WEIGHTDECAY, slot) * p; }
  let mNew = beta1 * mOld + (1.0 - beta1) * g;
  let vNew = beta2 * vOld + (1.0 - beta2) * g * g;
  let mHat = mNew / field(BIASCORRECTION1, slot);
  let vHat = vNew / field(BIASCORRECTION2, slot);
  return Moments(p - lr * mHat / (sqrt(vHat) + field(EPS, slot)), mNew, vNew);
}`;
}

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
${adamwUpdateWgsl(T)}

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(group, local, groups);
  if (i >= params.count) { return; }
  let next = adamwUpdate(param[i], grad[i], m[i], v[i], i / params.elementsPerSlot, params.decay != 0u);
  m[i] = next.m;
  v[i] = next.v;
  param[i] = next.param;
}`;
}

/**
 * Parameter tensors one v4 dispatch updates at most, whatever the device allows: two storage bindings each (plus
 * hyper and the moments chunks), and a switch of this many cases in the shader.
 */
export const ADAMW_MAX_TENSORS = 16;

/**
 * v4: one tensor per entry of `momentChunks`, all of `vectorWidth`. Bindings: hyper, then the C moments chunks the
 * dispatch uses (chunk0 … chunk{C−1}, C = the largest index in `momentChunks` + 1), then param_k, grad_k per tensor.
 * `momentChunks[k]` = [which chunk binding holds tensor k's m, which its v]; they start at mOffset_k and vOffset_k
 * there (in units of the width). Tensor k covers workgroups [firstGroup_k, firstGroup_k + ⌈count_k / 256⌉) of the
 * linear grid; the last tensor whose firstGroup is ≤ this workgroup's index is this workgroup's (uniform across it).
 */
export function adamwArenaWgsl(vectorWidth: 1 | 4, momentChunks: readonly (readonly [number, number])[]): string {
  const T = vectorWidth === 4 ? 'vec4f' : 'f32';
  const tensorCount = momentChunks.length;
  const chunkCount = Math.max(0, ...momentChunks.flat()) + 1;
  const tensors = range(tensorCount);
  const chunkBindings = range(chunkCount)
    .map((c) => `@group(0) @binding(${2 + c}) var<storage, read_write> chunk${c}: array<${T}>;`)
    .join('\n');
  const bindings = tensors
    .map((k) => {
      const b = 2 + chunkCount + 2 * k;
      return [
        `@group(0) @binding(${b}) var<storage, read_write> param${k}: array<${T}>;`,
        `@group(0) @binding(${b + 1}) var<storage, read> grad${k}: array<${T}>;`,
      ].join('\n');
    })
    .join('\n');
  // The last tensor is the switch's default (WGSL wants one). Load, update and store in one case: lavapipe runs the
  // cases one after another under a lane mask. WGSL cannot index bindings dynamically, so each case names its chunks.
  const label = (k: number) => (k === tensorCount - 1 ? 'default' : `case ${k}u`);
  const cases = tensors
    .map((k) => {
      const [m, v] = momentChunks[k].map((c) => `chunk${c}`);
      return `    ${label(k)}: {
      let next = adamwUpdate(param${k}[i], grad${k}[i], ${m}[mi], ${v}[vi], slot, decay);
      ${m}[mi] = next.m;
      ${v}[vi] = next.v;
      param${k}[i] = next.param;
    }`;
    })
    .join('\n');
  return wgsl`
${fieldConstants}
// Per tensor, in units of ${T}: values per slot, first workgroup, values in all slots, its weight-decay flag, and
// where its m and v start in their chunks. Padded to 32 bytes (uniform arrays want 16-byte strides).
struct TensorRange {
  elementsPerSlot: u32, firstGroup: u32, count: u32, decay: u32,
  mOffset: u32, vOffset: u32, pad0: u32, pad1: u32,
}
struct Params { slots: u32, pad0: u32, pad1: u32, pad2: u32, tensors: array<TensorRange, ${tensorCount}> }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> hyper: array<f32>;   // (ADAMW_FIELD_COUNT, T)
// Moments chunks: the tensors' m and v, (T, ...) each.
${chunkBindings}
// Tensor k: param, grad, each (T, ...elementsPerSlot_k).
${bindings}

fn field(row: u32, slot: u32) -> f32 { return hyper[row * params.slots + slot]; }
${adamwUpdateWgsl(T)}

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let flatGroup = group.y * groups.x + group.x;
  var tensor = 0u;
  for (var k = 1u; k < ${tensorCount}u; k++) {
    if (flatGroup >= params.tensors[k].firstGroup) { tensor = k; }
  }
  let span = params.tensors[tensor];
  let i = (flatGroup - span.firstGroup) * ${ELEMENTWISE_WORKGROUP}u + local.x;
  if (i >= span.count) { return; }
  let slot = i / span.elementsPerSlot;
  let decay = span.decay != 0u;
  let mi = span.mOffset + i;
  let vi = span.vOffset + i;
  switch tensor {
${cases}
  }
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

/** v1: the chunks of one gradient buffer, at columns [column, column + chunks) of partials. */
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

/** Gradient buffers one clip_partials v2 dispatch sums at most, whatever the device allows. */
export const CLIP_MAX_TENSORS = 16;

/**
 * v2: `tensorCount` gradient buffers (grad0 … at bindings 2 …) in one dispatch. Workgroup x runs over their chunks
 * back to back (tensor k's from firstChunk_k) and writes column `column + x`: the columns v1 gives them when the
 * buffers are launched in the same order. The sum of a chunk is v1's, operation for operation.
 */
export function clipPartialsMultiTensorWgsl(perThread: number, tensorCount: number): string {
  const tensors = range(tensorCount);
  const bindings = tensors
    .map((k) => `@group(0) @binding(${2 + k}) var<storage, read> grad${k}: array<f32>;   // (T, elementsPerSlot_${k})`)
    .join('\n');
  const label = (k: number) => (k === tensorCount - 1 ? 'default' : `case ${k}u`);
  // One loop per tensor inside the switch, not a switch per load: lavapipe runs a switch's cases one after another
  // under a lane mask, and a switch in the loop made v2 1.3× slower than v1's dispatches there.
  const cases = tensors
    .map((k) => `    ${label(k)}: {
      for (var k = 0u; k < ${perThread}u; k++) {
        let j = start + k * ${CLIP_WORKGROUP}u + local.x; // coalesced: neighbouring lanes read neighbouring values
        if (j < elementsPerSlot) {
          let g = grad${k}[slot * elementsPerSlot + j];
          total += g * g;
        }
      }
    }`)
    .join('\n');
  return wgsl`
// Per tensor: values per slot and its first chunk (workgroup x).
struct TensorChunks { elementsPerSlot: u32, firstChunk: u32, pad0: u32, pad1: u32 }
struct Params { totalChunks: u32, column: u32, pad0: u32, pad1: u32, tensors: array<TensorChunks, ${tensorCount}> }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;    // (T, totalChunks)
${bindings}
${treeSumWgsl}

@compute @workgroup_size(${CLIP_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u) {
  let slot = group.y;
  var tensor = 0u; // uniform across the workgroup: it depends on group.x only
  for (var k = 1u; k < ${tensorCount}u; k++) {
    if (group.x >= params.tensors[k].firstChunk) { tensor = k; }
  }
  let elementsPerSlot = params.tensors[tensor].elementsPerSlot;
  let start = (group.x - params.tensors[tensor].firstChunk) * ${CLIP_WORKGROUP * perThread}u;
  var total = 0.0;
  switch tensor {
${cases}
  }
  sums[local.x] = total;
  treeSum(local.x);
  if (local.x == 0u) { partials[slot * params.totalChunks + params.column + group.x] = sums[0]; }
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
