/**
 * Launchers for the fused AdamW update and the per-slot global-norm gradient clipping, plus the CPU-side packing of
 * the hyperparameter table they share (layout in adamw.wgsl.ts). The optimizer class lives in src/nn.
 *
 * A training step: `device.write(hyper, packAdamWStepFields(...))` once (rows 0–2 for every slot), then
 * `launchGradNormClip` over all gradient buffers (writes gradScale per slot), then `launchAdamW` once per parameter
 * buffer. Without clipping, gradScale stays as packed (1).
 */
import { packParams, type Device } from '../../src/gpu/device.js';
import { ShapeError } from '../../src/gpu/errors.js';
import { assertCount, gridFor, wgslFor } from '../common.js';
import {
  ADAMW_FIELD_COUNT,
  ADAMW_FIELDS,
  adamwWgsl,
  CLIP_PER_THREAD_GPU,
  CLIP_PER_THREAD_SOFTWARE,
  CLIP_WORKGROUP,
  clipPartialsWgsl,
  clipScaleWgsl,
} from './adamw.wgsl.js';

export { ADAMW_FIELD_COUNT, ADAMW_FIELDS } from './adamw.wgsl.js';

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

export interface GradientBuffer {
  buffer: GPUBuffer; // (T, elementsPerSlot)
  elementsPerSlot: number;
}

/**
 * Per slot: norm = sqrt(Σ over all `grads` of g²), gradScale = min(1, maxGradNorm / (norm + 1e-6)); both written
 * into `hyper`. One dispatch per gradient buffer plus one; the summation order is fixed, so repeats are bit-identical.
 */
export function launchGradNormClip(
  device: Device,
  grads: readonly GradientBuffer[],
  hyper: GPUBuffer, // (ADAMW_FIELD_COUNT, T)
  slots: number,
  /** Tests: values each thread sums in the first pass (default by adapter, see adamw.wgsl.ts). */
  valuesPerThread = device.info.isSoftware ? CLIP_PER_THREAD_SOFTWARE : CLIP_PER_THREAD_GPU,
): void {
  const CHUNK = CLIP_WORKGROUP * valuesPerThread;
  checkSlots('grad_norm_clip', slots, 0);
  checkBuffer('grad_norm_clip', 'hyper', hyper, ADAMW_FIELD_COUNT * slots);
  const chunks = grads.map((g, k) => {
    checkSlots('grad_norm_clip', slots, g.elementsPerSlot);
    assertCount('grad_norm_clip', slots * g.elementsPerSlot);
    checkBuffer('grad_norm_clip', `grads[${k}]`, g.buffer, slots * g.elementsPerSlot);
    return Math.ceil(g.elementsPerSlot / CHUNK);
  });
  const totalChunks = chunks.reduce((p, c) => p + c, 0);
  if (slots > 65535) throw new ShapeError(`grad_norm_clip: slots ${slots} is over 65535`);
  const partials = device.allocate(Math.max(slots * totalChunks, 1) * 4, 'grad_norm_clip partials');
  let column = 0;
  grads.forEach((g, k) => {
    if (chunks[k] > 65535) {
      throw new ShapeError(`grad_norm_clip: grads[${k}] elementsPerSlot ${g.elementsPerSlot} is over ${65535 * CHUNK}`);
    }
    device.dispatch({
      kernel: 'grad_norm_partials',
      wgsl: wgslFor(clipPartialsWgsl, valuesPerThread),
      buffers: [g.buffer, partials],
      params: packParams([g.elementsPerSlot, totalChunks, column, 0]),
      workgroups: [chunks[k], slots],
      shapes: `grads[${k}] slots=${slots} elementsPerSlot=${g.elementsPerSlot}`,
    });
    column += chunks[k];
  });
  device.dispatch({
    kernel: 'grad_norm_scale',
    wgsl: wgslFor(clipScaleWgsl),
    buffers: [partials, hyper],
    params: packParams([totalChunks, slots]),
    workgroups: [slots],
    shapes: `slots=${slots} buffers=${grads.length} chunks=${totalChunks}`,
  });
  device.release(partials);
}
