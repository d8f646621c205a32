/**
 * Launchers for the fused AdamW update and the per-slot global-norm gradient clipping, plus the CPU-side packing of
 * the hyperparameter table they share (layout in adamw.wgsl.ts). The optimizer class lives in src/nn.
 *
 * A training step: `device.write(hyper, packAdamWStepFields(...))` once (rows 0–2 for every slot), then
 * `launchGradNormClipMultiTensor` over all gradient buffers (writes gradScale per slot), then
 * `launchAdamWMultiTensor` over all parameters. Without clipping, gradScale stays as packed (1).
 *
 * The multi-tensor launchers ship (AdamW.step): the default model's 81 optimizer dispatches per step become 18 on
 * lavapipe's 16 storage bindings per stage, and a small model's step is bound by per-dispatch CPU cost. The
 * single-tensor launchers (`launchAdamW`, `launchGradNormClip`) are kept as their own kernels, not as the
 * multi-tensor ones with one tensor: they are the baseline the multi-tensor results are checked against bit for bit
 * (adamw.test.ts), and the per-element benchmark (adamw.bench.ts, bench kernels) times them without the tensor
 * lookup. How many tensors fit one dispatch follows `device.limits.maxStorageBuffersPerShaderStage` (at least 8).
 */
import { packParams, type Device } from '../../src/gpu/device.js';
import { ShapeError } from '../../src/gpu/errors.js';
import { assertCount, ELEMENTWISE_WORKGROUP, gridFor, wgslFor } from '../common.js';
import {
  ADAMW_FIELD_COUNT,
  ADAMW_FIELDS,
  ADAMW_MAX_TENSORS,
  adamwMultiTensorWgsl,
  adamwWgsl,
  CLIP_MAX_TENSORS,
  CLIP_PER_THREAD_GPU,
  CLIP_PER_THREAD_SOFTWARE,
  CLIP_WORKGROUP,
  clipPartialsMultiTensorWgsl,
  clipPartialsWgsl,
  clipScaleWgsl,
} from './adamw.wgsl.js';

export { ADAMW_FIELD_COUNT, ADAMW_FIELDS, ADAMW_MAX_TENSORS, CLIP_MAX_TENSORS } from './adamw.wgsl.js';

/** One slot's settings, as a trial states them. */
export interface AdamWSlotSettings {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Global-norm clip threshold; 0 or absent: no clipping. */
  maxGradNorm?: number;
}

/** The per-step fields for step `t` (1-based): lr, 1 − β1^t, 1 − β2^t. */
export function stepFields(lr: number, step: number, beta1: number, beta2: number): [number, number, number] {
  if (!Number.isInteger(step) || step < 1) throw new ShapeError(`adamw: step ${step} must be an integer ≥ 1`);
  return [lr, 1 - beta1 ** step, 1 - beta2 ** step];
}

/** The whole (ADAMW_FIELD_COUNT, T) table for slots at the given steps; gradScale 1, gradNorm 0. */
export function packAdamWHyperparameters(slots: readonly AdamWSlotSettings[], steps: readonly number[]): Float32Array {
  if (steps.length !== slots.length) {
    throw new ShapeError(`adamw: ${steps.length} steps for ${slots.length} slots`);
  }
  const T = slots.length;
  const table = new Float32Array(ADAMW_FIELD_COUNT * T);
  const F = ADAMW_FIELDS;
  slots.forEach((s, slot) => {
    const [lr, c1, c2] = stepFields(s.lr, steps[slot], s.beta1, s.beta2);
    table[F.lr * T + slot] = lr;
    table[F.biasCorrection1 * T + slot] = c1;
    table[F.biasCorrection2 * T + slot] = c2;
    table[F.beta1 * T + slot] = s.beta1;
    table[F.beta2 * T + slot] = s.beta2;
    table[F.eps * T + slot] = s.eps;
    table[F.weightDecay * T + slot] = s.weightDecay;
    table[F.maxGradNorm * T + slot] = s.maxGradNorm ?? 0;
    table[F.gradScale * T + slot] = 1;
  });
  return table;
}

/**
 * Rows 0–2 (lr, 1 − β1^t, 1 − β2^t) for every slot: write it at byte offset 0 of the table, once per step.
 * `lrs[slot]` is the scheduled learning rate, `steps[slot]` that slot's own 1-based step.
 */
export function packAdamWStepFields(
  lrs: readonly number[],
  steps: readonly number[],
  beta1s: readonly number[],
  beta2s: readonly number[],
): Float32Array {
  const T = lrs.length;
  if (steps.length !== T || beta1s.length !== T || beta2s.length !== T) {
    throw new ShapeError(`adamw step fields: lengths ${T}, ${steps.length}, ${beta1s.length}, ${beta2s.length} differ`);
  }
  const rows = new Float32Array(3 * T);
  for (let slot = 0; slot < T; slot++) {
    const [lr, c1, c2] = stepFields(lrs[slot], steps[slot], beta1s[slot], beta2s[slot]);
    rows[slot] = lr;
    rows[T + slot] = c1;
    rows[2 * T + slot] = c2;
  }
  return rows;
}

function checkBuffer(kernel: string, what: string, buffer: GPUBuffer, count: number): void {
  if (buffer.size < count * 4) {
    throw new ShapeError(`${kernel}: ${what} holds ${buffer.size / 4} values, needs ${count}`);
  }
}

function checkSlots(kernel: string, slots: number, elementsPerSlot: number): void {
  if (!Number.isInteger(slots) || slots < 1) throw new ShapeError(`${kernel}: slots ${slots} must be an integer ≥ 1`);
  if (!Number.isInteger(elementsPerSlot) || elementsPerSlot < 0) {
    throw new ShapeError(`${kernel}: elementsPerSlot ${elementsPerSlot} must be an integer ≥ 0`);
  }
}

export interface AdamWLaunch {
  param: GPUBuffer; // (T, ...) updated in place
  grad: GPUBuffer; // (T, ...)
  m: GPUBuffer; // (T, ...) first moment, in place (start at zero)
  v: GPUBuffer; // (T, ...) second moment, in place (start at zero)
  hyper: GPUBuffer; // (ADAMW_FIELD_COUNT, T)
  slots: number;
  elementsPerSlot: number;
  /** False for parameters excluded from weight decay (biases, LayerNorm). */
  weightDecay: boolean;
  /** Tests and benchmarks: force v1 (1) or v2 (4); by default v2 when elementsPerSlot % 4 == 0. */
  forceVectorWidth?: 1 | 4;
}

/** One dispatch: param, m and v of every slot updated in place. */
export function launchAdamW(device: Device, a: AdamWLaunch): void {
  checkSlots('adamw', a.slots, a.elementsPerSlot);
  const count = a.slots * a.elementsPerSlot;
  assertCount('adamw', count);
  for (const [what, buffer] of [['param', a.param], ['grad', a.grad], ['m', a.m], ['v', a.v]] as const) {
    checkBuffer('adamw', what, buffer, count);
  }
  checkBuffer('adamw', 'hyper', a.hyper, ADAMW_FIELD_COUNT * a.slots);
  if (new Set([a.param, a.grad, a.m, a.v]).size !== 4) {
    throw new ShapeError('adamw: param, grad, m and v must be distinct buffers');
  }
  const width = (a.forceVectorWidth ?? (a.elementsPerSlot % 4 === 0 ? 4 : 1)) as 1 | 4;
  if (a.elementsPerSlot % width !== 0) {
    throw new ShapeError(`adamw: vector width ${width} does not divide elementsPerSlot ${a.elementsPerSlot}`);
  }
  device.dispatch({
    kernel: `adamw_v${width === 4 ? 2 : 1}`,
    wgsl: wgslFor(adamwWgsl, width),
    buffers: [a.param, a.grad, a.m, a.v, a.hyper],
    params: packParams([count / width, Math.max(a.elementsPerSlot / width, 1), a.slots, a.weightDecay ? 1 : 0]),
    workgroups: gridFor(count / width),
    shapes: `slots=${a.slots} elementsPerSlot=${a.elementsPerSlot}`,
  });
}

export interface AdamWTensor {
  param: GPUBuffer; // (T, ...) updated in place
  grad: GPUBuffer; // (T, ...)
  m: GPUBuffer; // (T, ...) first moment, in place (start at zero)
  v: GPUBuffer; // (T, ...) second moment, in place (start at zero)
  elementsPerSlot: number;
  /** False for parameters excluded from weight decay (biases, LayerNorm). */
  weightDecay: boolean;
}

export interface AdamWMultiTensorLaunch {
  tensors: readonly AdamWTensor[];
  hyper: GPUBuffer; // (ADAMW_FIELD_COUNT, T)
  slots: number;
  /** Tests and benchmarks: force scalar (1) or vec4 (4) for every tensor; by default vec4 where elementsPerSlot % 4 == 0. */
  forceVectorWidth?: 1 | 4;
  /** Tests: tensors per dispatch (default `adamwTensorsPerDispatch(device)`). */
  tensorsPerDispatch?: number;
}

/** Parameter tensors per v3 dispatch: four storage bindings each plus the table, capped at ADAMW_MAX_TENSORS. */
export function adamwTensorsPerDispatch(device: Device): number {
  return Math.max(1, Math.min(ADAMW_MAX_TENSORS, Math.floor((device.limits.maxStorageBuffersPerShaderStage - 1) / 4)));
}

/**
 * Every tensor's param, m and v updated in place, all slots, in ⌈n₁ / P⌉ + ⌈n₄ / P⌉ dispatches (adamw v3): n₄
 * tensors whose elementsPerSlot % 4 == 0 run as vec4, the n₁ others as scalars, P = tensorsPerDispatch per dispatch
 * in the order given. Per element, the same arithmetic as `launchAdamW` (the same bits).
 */
export function launchAdamWMultiTensor(device: Device, a: AdamWMultiTensorLaunch): void {
  const most = adamwTensorsPerDispatch(device);
  const perDispatch = a.tensorsPerDispatch ?? most;
  if (!Number.isInteger(perDispatch) || perDispatch < 1 || perDispatch > most) {
    throw new ShapeError(`adamw: tensorsPerDispatch ${perDispatch} must be an integer in [1, ${most}] on this device`);
  }
  checkSlots('adamw', a.slots, 0);
  checkBuffer('adamw', 'hyper', a.hyper, ADAMW_FIELD_COUNT * a.slots);
  const byWidth: Record<1 | 4, AdamWTensor[]> = { 1: [], 4: [] };
  const seen = new Set<GPUBuffer>();
  a.tensors.forEach((t, k) => {
    const kernel = `adamw tensors[${k}]`;
    checkSlots(kernel, a.slots, t.elementsPerSlot);
    const count = a.slots * t.elementsPerSlot;
    assertCount(kernel, count);
    for (const [what, buffer] of [['param', t.param], ['grad', t.grad], ['m', t.m], ['v', t.v]] as const) {
      checkBuffer(kernel, what, buffer, count);
      // A buffer written in a dispatch may not be bound twice in it (WebGPU usage scopes), nor updated twice.
      if (seen.has(buffer)) throw new ShapeError(`${kernel}: ${what} is a buffer another tensor already uses; all must be distinct`);
      seen.add(buffer);
    }
    const width = (a.forceVectorWidth ?? (t.elementsPerSlot % 4 === 0 ? 4 : 1)) as 1 | 4;
    if (t.elementsPerSlot % width !== 0) {
      throw new ShapeError(`${kernel}: vector width ${width} does not divide elementsPerSlot ${t.elementsPerSlot}`);
    }
    if (count > 0) byWidth[width].push(t);
  });
  for (const width of [4, 1] as const) {
    const tensors = byWidth[width];
    for (let first = 0; first < tensors.length; ) {
      // Up to perDispatch tensors, each starting on a workgroup boundary, while the linear index fits a u32.
      const group: AdamWTensor[] = [];
      const ranges: number[] = [];
      let groups = 0;
      for (; first < tensors.length && group.length < perDispatch; first++) {
        const t = tensors[first];
        const count = (a.slots * t.elementsPerSlot) / width;
        const tensorGroups = Math.ceil(count / ELEMENTWISE_WORKGROUP);
        if (group.length > 0 && (groups + tensorGroups) * ELEMENTWISE_WORKGROUP > 0xffffffff) break;
        group.push(t);
        ranges.push(t.elementsPerSlot / width, groups, count, t.weightDecay ? 1 : 0);
        groups += tensorGroups;
      }
      device.dispatch({
        kernel: 'adamw_v3',
        wgsl: wgslFor(adamwMultiTensorWgsl, width, group.length),
        buffers: [a.hyper, ...group.flatMap((t) => [t.param, t.grad, t.m, t.v])],
        params: packParams([a.slots, 0, 0, 0, ...ranges]),
        workgroups: gridFor(groups * ELEMENTWISE_WORKGROUP),
        shapes: `slots=${a.slots} vec${width} elementsPerSlot=${group.map((t) => t.elementsPerSlot).join(',')}`,
      });
    }
  }
}

export interface GradientBuffer {
  buffer: GPUBuffer; // (T, elementsPerSlot)
  elementsPerSlot: number;
}

interface ClipPlan {
  /** Chunks of each gradient buffer: its columns of partials, in order. */
  chunks: number[];
  totalChunks: number;
  partials: GPUBuffer; // (T, totalChunks)
}

/** Checks the clip's arguments, counts each buffer's chunks and allocates the partials both clip versions fill. */
function planClip(device: Device, grads: readonly GradientBuffer[], hyper: GPUBuffer, slots: number, chunk: number): ClipPlan {
  checkSlots('grad_norm_clip', slots, 0);
  checkBuffer('grad_norm_clip', 'hyper', hyper, ADAMW_FIELD_COUNT * slots);
  const chunks = grads.map((g, k) => {
    checkSlots('grad_norm_clip', slots, g.elementsPerSlot);
    assertCount('grad_norm_clip', slots * g.elementsPerSlot);
    checkBuffer('grad_norm_clip', `grads[${k}]`, g.buffer, slots * g.elementsPerSlot);
    const n = Math.ceil(g.elementsPerSlot / chunk);
    if (n > 65535) throw new ShapeError(`grad_norm_clip: grads[${k}] elementsPerSlot ${g.elementsPerSlot} is over ${65535 * chunk}`);
    return n;
  });
  if (slots > 65535) throw new ShapeError(`grad_norm_clip: slots ${slots} is over 65535`);
  const totalChunks = chunks.reduce((p, c) => p + c, 0);
  const partials = device.allocate(Math.max(slots * totalChunks, 1) * 4, 'grad_norm_clip partials');
  return { chunks, totalChunks, partials };
}

/** The second pass (one dispatch): each slot's row of partials → gradNorm and gradScale in `hyper`. */
function dispatchClipScale(device: Device, plan: ClipPlan, hyper: GPUBuffer, slots: number, buffers: number): void {
  device.dispatch({
    kernel: 'grad_norm_scale',
    wgsl: wgslFor(clipScaleWgsl),
    buffers: [plan.partials, hyper],
    params: packParams([plan.totalChunks, slots]),
    workgroups: [slots],
    shapes: `slots=${slots} buffers=${buffers} chunks=${plan.totalChunks}`,
  });
  device.release(plan.partials);
}

function defaultValuesPerThread(device: Device): number {
  return device.info.isSoftware ? CLIP_PER_THREAD_SOFTWARE : CLIP_PER_THREAD_GPU;
}

/**
 * Per slot: norm = sqrt(Σ over all `grads` of g²), gradScale = min(1, maxGradNorm / (norm + 1e-6)); both written
 * into `hyper`. v1: one dispatch per gradient buffer plus one; the summation order is fixed, so repeats are
 * bit-identical.
 */
export function launchGradNormClip(
  device: Device,
  grads: readonly GradientBuffer[],
  hyper: GPUBuffer, // (ADAMW_FIELD_COUNT, T)
  slots: number,
  /** Tests: values each thread sums in the first pass (default by adapter, see adamw.wgsl.ts). */
  valuesPerThread = defaultValuesPerThread(device),
): void {
  const plan = planClip(device, grads, hyper, slots, CLIP_WORKGROUP * valuesPerThread);
  let column = 0;
  grads.forEach((g, k) => {
    device.dispatch({
      kernel: 'grad_norm_partials',
      wgsl: wgslFor(clipPartialsWgsl, valuesPerThread),
      buffers: [g.buffer, plan.partials],
      params: packParams([g.elementsPerSlot, plan.totalChunks, column, 0]),
      workgroups: [plan.chunks[k], slots],
      shapes: `grads[${k}] slots=${slots} elementsPerSlot=${g.elementsPerSlot}`,
    });
    column += plan.chunks[k];
  });
  dispatchClipScale(device, plan, hyper, slots, grads.length);
}

export interface GradNormClipOptions {
  /** Tests: values each thread sums in the first pass (default by adapter, see adamw.wgsl.ts). */
  valuesPerThread?: number;
  /** Tests: gradient buffers per dispatch (default `gradNormTensorsPerDispatch(device)`). */
  tensorsPerDispatch?: number;
}

/** Gradient buffers per clip_partials v2 dispatch: every storage binding but the partials', capped at CLIP_MAX_TENSORS. */
export function gradNormTensorsPerDispatch(device: Device): number {
  return Math.max(1, Math.min(CLIP_MAX_TENSORS, device.limits.maxStorageBuffersPerShaderStage - 1));
}

/**
 * `launchGradNormClip` in ⌈buffers / G⌉ + 1 dispatches (clip_partials v2), G = tensorsPerDispatch: the same partials,
 * column for column, and so the same norm and scale, bit for bit.
 */
export function launchGradNormClipMultiTensor(
  device: Device,
  grads: readonly GradientBuffer[],
  hyper: GPUBuffer, // (ADAMW_FIELD_COUNT, T)
  slots: number,
  options: GradNormClipOptions = {},
): void {
  const valuesPerThread = options.valuesPerThread ?? defaultValuesPerThread(device);
  const most = gradNormTensorsPerDispatch(device);
  const perDispatch = options.tensorsPerDispatch ?? most;
  if (!Number.isInteger(perDispatch) || perDispatch < 1 || perDispatch > most) {
    throw new ShapeError(`grad_norm_clip: tensorsPerDispatch ${perDispatch} must be an integer in [1, ${most}] on this device`);
  }
  const plan = planClip(device, grads, hyper, slots, CLIP_WORKGROUP * valuesPerThread);
  // Buffers with no values have no chunks and no column; they are not bound.
  const pending = grads.map((g, k) => ({ g, k })).filter(({ k }) => plan.chunks[k] > 0);
  let column = 0;
  for (let first = 0; first < pending.length; ) {
    // Up to perDispatch buffers while their chunks fit one grid dimension.
    const group: typeof pending = [];
    const tensors: number[] = [];
    let chunks = 0;
    for (; first < pending.length && group.length < perDispatch; first++) {
      const { g, k } = pending[first];
      if (chunks + plan.chunks[k] > 65535) break;
      group.push(pending[first]);
      tensors.push(g.elementsPerSlot, chunks, 0, 0);
      chunks += plan.chunks[k];
    }
    device.dispatch({
      kernel: 'grad_norm_partials_v2',
      wgsl: wgslFor(clipPartialsMultiTensorWgsl, valuesPerThread, group.length),
      buffers: [plan.partials, ...group.map(({ g }) => g.buffer)],
      params: packParams([plan.totalChunks, column, 0, 0, ...tensors]),
      workgroups: [chunks, slots],
      shapes: `grads[${group.map(({ k }) => k).join(',')}] slots=${slots} elementsPerSlot=${group.map(({ g }) => g.elementsPerSlot).join(',')}`,
    });
    column += chunks;
  }
  dispatchClipScale(device, plan, hyper, slots, grads.length);
}
