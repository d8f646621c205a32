/**
 * Launchers for the fused AdamW update and the per-slot global-norm gradient clipping, plus the CPU-side packing of
 * the hyperparameter table they share (layout in adamw.wgsl.ts). The optimizer class lives in src/nn.
 *
 * A training step: `device.write(hyper, packAdamWStepFields(...))` once (rows 0–2 for every slot), then
 * `launchGradNormClipMultiTensor` over all gradient buffers (writes gradScale per slot), then
 * `launchAdamWMultiTensor` over all parameters. Without clipping, gradScale stays as packed (1).
 *
 * The multi-tensor launchers ship (AdamW.step): the default model's 81 optimizer dispatches per step become 11 on
 * lavapipe's 16 storage bindings per stage (adamw v4 keeps the tensors' m and v in a few moments chunks, each bound
 * once per dispatch, so a tensor costs two bindings), and a small model's step is bound by per-dispatch CPU cost.
 * The moments are chunks, not one buffer, because one binding holding every m and v would bound parameters × slots
 * by the largest binding; with chunks only each single m or v must fit one, as with a buffer per m and v. The single-tensor launchers
 * (`launchAdamW`, `launchGradNormClip`) are kept as their own kernels, not as the multi-tensor ones with one tensor:
 * they are the baseline the multi-tensor results are checked against bit for bit (adamw.test.ts), and the
 * per-element benchmark (adamw.bench.ts, bench kernels) times them without the tensor lookup. How many tensors fit
 * one dispatch follows `device.limits.maxStorageBuffersPerShaderStage` (at least 8).
 */
import { packParams, type Device } from '../../src/gpu/device.js';
import { ShapeError } from '../../src/gpu/errors.js';
import { assertCount, ELEMENTWISE_WORKGROUP, gridFor, wgslFor } from '../common.js';
import {
  ADAMW_FIELD_COUNT,
  ADAMW_FIELDS,
  ADAMW_MAX_TENSORS,
  adamwArenaWgsl,
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
  /** The chunk (index into `chunks`) that holds this tensor's first moment, (T, ...), and where it starts there, in floats. */
  mChunk: number;
  mOffset: number;
  /** The same for its second moment; it may be another chunk than m's. Both start at zero. */
  vChunk: number;
  vOffset: number;
  elementsPerSlot: number;
  /** False for parameters excluded from weight decay (biases, LayerNorm). */
  weightDecay: boolean;
}

export interface AdamWMultiTensorLaunch {
  tensors: readonly AdamWTensor[];
  hyper: GPUBuffer; // (ADAMW_FIELD_COUNT, T)
  /** The moments chunks: every tensor's m and v, at their chunks and offsets (planMomentsArena), updated in place. */
  chunks: readonly GPUBuffer[];
  slots: number;
  /** Tests and benchmarks: force scalar (1) or vec4 (4) for every tensor; by default vec4 where elementsPerSlot % 4 == 0. */
  forceVectorWidth?: 1 | 4;
  /** Tests: tensors per dispatch at most (default `adamwTensorsPerDispatch(device)`); chunk bindings may allow fewer. */
  tensorsPerDispatch?: number;
}

/** Where one tensor's m and v live: chunk index and offset in floats (a multiple of 4) of each. */
export interface MomentsPlacement {
  mChunk: number;
  mOffset: number;
  vChunk: number;
  vOffset: number;
}

export interface MomentsArena {
  tensors: MomentsPlacement[];
  /** Floats each chunk holds (at least one chunk, possibly empty); each ≤ maxFloatsPerChunk. */
  chunkFloats: number[];
}

/**
 * Lays out the moments of tensors of `elementCounts` values (slots × elementsPerSlot each) in chunks of at most
 * `maxFloatsPerChunk` floats (a chunk is one buffer, bound whole, so the device's largest binding bounds it): the
 * ranges m₀, v₀, m₁, v₁, … in order, each at a multiple of 4 floats so that vec4 and scalar tensors share a chunk,
 * first fit into the current chunk, a new chunk when the next range does not fit (so a tensor's m and v may be in
 * different chunks). Only a single range larger than a chunk is refused: the same bound as a buffer per m and v.
 */
export function planMomentsArena(elementCounts: readonly number[], maxFloatsPerChunk: number): MomentsArena {
  if (!Number.isInteger(maxFloatsPerChunk) || maxFloatsPerChunk < 1) {
    throw new ShapeError(`adamw moments: maxFloatsPerChunk ${maxFloatsPerChunk} must be an integer ≥ 1`);
  }
  const chunkFloats = [0];
  let next = 0; // where the current chunk's next range may start
  const take = (count: number, k: number, which: 'm' | 'v') => {
    if (count > maxFloatsPerChunk) {
      throw new ShapeError(`adamw moments: tensor ${k}'s ${which} of ${count} floats (${count * 4} bytes) is over the largest chunk, ${maxFloatsPerChunk} floats (${maxFloatsPerChunk * 4} bytes)`);
    }
    if (count > 0 && next + count > maxFloatsPerChunk) {
      chunkFloats.push(0);
      next = 0;
    }
    const chunk = chunkFloats.length - 1;
    const at = next;
    next += Math.ceil(count / 4) * 4;
    // Rounded up to a vec4 where the limit allows: a chunk bound as array<vec4f> then covers all of its last range.
    chunkFloats[chunk] = Math.max(chunkFloats[chunk], Math.min(next, maxFloatsPerChunk));
    return [chunk, at];
  };
  const tensors = elementCounts.map((count, k) => {
    if (!Number.isInteger(count) || count < 0) throw new ShapeError(`adamw moments: elementCounts[${k}] ${count} must be an integer ≥ 0`);
    const [mChunk, mOffset] = take(count, k, 'm');
    const [vChunk, vOffset] = take(count, k, 'v');
    return { mChunk, mOffset, vChunk, vOffset };
  });
  return { tensors, chunkFloats };
}

/**
 * Parameter tensors per v4 dispatch at most: two storage bindings each plus the table and one moments chunk, capped
 * at ADAMW_MAX_TENSORS. A dispatch whose tensors use more chunks takes fewer (launchAdamWMultiTensor).
 */
export function adamwTensorsPerDispatch(device: Device): number {
  return Math.max(1, Math.min(ADAMW_MAX_TENSORS, Math.floor((device.limits.maxStorageBuffersPerShaderStage - 2) / 2)));
}

/**
 * Every tensor's param, m and v updated in place, all slots (adamw v4): tensors whose elementsPerSlot % 4 == 0 run
 * as vec4, the others as scalars, each in the order given, a dispatch taking the next tensors while its bindings
 * (the table, the distinct chunks its tensors use, param and grad per tensor) fit the device's storage bindings and
 * there are at most tensorsPerDispatch of them. With every moment in one chunk that is ⌈n₁ / P⌉ + ⌈n₄ / P⌉
 * dispatches. Per element, the same arithmetic as `launchAdamW` (the same bits).
 */
export function launchAdamWMultiTensor(device: Device, a: AdamWMultiTensorLaunch): void {
  const most = adamwTensorsPerDispatch(device);
  const perDispatch = a.tensorsPerDispatch ?? most;
  if (!Number.isInteger(perDispatch) || perDispatch < 1 || perDispatch > most) {
    throw new ShapeError(`adamw: tensorsPerDispatch ${perDispatch} must be an integer in [1, ${most}] on this device`);
  }
  const bindings = device.limits.maxStorageBuffersPerShaderStage;
  checkSlots('adamw', a.slots, 0);
  checkBuffer('adamw', 'hyper', a.hyper, ADAMW_FIELD_COUNT * a.slots);
  // A buffer written in a dispatch may not be bound twice in it (WebGPU usage scopes), nor updated twice.
  const seen = new Map<GPUBuffer, string>([[a.hyper, 'hyper']]);
  a.chunks.forEach((chunk, c) => {
    const other = seen.get(chunk);
    if (other) throw new ShapeError(`adamw: chunks[${c}] is the buffer of ${other}; chunks and hyper must be distinct buffers`);
    seen.set(chunk, `chunks[${c}]`);
  });
  const byWidth: Record<1 | 4, AdamWTensor[]> = { 1: [], 4: [] };
  const ranges: { chunk: number; start: number; end: number; what: string }[] = [];
  a.tensors.forEach((t, k) => {
    const kernel = `adamw tensors[${k}]`;
    checkSlots(kernel, a.slots, t.elementsPerSlot);
    const count = a.slots * t.elementsPerSlot;
    assertCount(kernel, count);
    for (const [what, buffer] of [['param', t.param], ['grad', t.grad]] as const) {
      checkBuffer(kernel, what, buffer, count);
      const other = seen.get(buffer);
      if (other) throw new ShapeError(`${kernel}: ${what} is the buffer of ${other}; param, grad, chunks and hyper buffers must all be distinct`);
      seen.set(buffer, `tensors[${k}].${what}`);
    }
    const width = (a.forceVectorWidth ?? (t.elementsPerSlot % 4 === 0 ? 4 : 1)) as 1 | 4;
    if (t.elementsPerSlot % width !== 0) {
      throw new ShapeError(`${kernel}: vector width ${width} does not divide elementsPerSlot ${t.elementsPerSlot}`);
    }
    const moments = [['m', t.mChunk, t.mOffset], ['v', t.vChunk, t.vOffset]] as const;
    for (const [which, chunk, offset] of moments) {
      if (!Number.isInteger(chunk) || chunk < 0 || chunk >= a.chunks.length) {
        throw new ShapeError(`${kernel}: ${which}Chunk ${chunk} is not in [0, ${a.chunks.length}) (the chunks given)`);
      }
      if (!Number.isInteger(offset) || offset < 0) throw new ShapeError(`${kernel}: ${which}Offset ${offset} must be an integer ≥ 0`);
      if (offset % width !== 0) throw new ShapeError(`${kernel}: ${which}Offset ${offset} is not a multiple of its vector width ${width}`);
      const floats = a.chunks[chunk].size / 4;
      if (offset + count > floats) {
        throw new ShapeError(`${kernel}: ${which}Offset ${offset} + ${count} values runs past chunks[${chunk}], which holds ${floats}`);
      }
      if (count > 0) ranges.push({ chunk, start: offset, end: offset + count, what: `tensors[${k}] ${which}` });
    }
    if (count > 0) byWidth[width].push(t);
  });
  ranges.sort((x, y) => x.chunk - y.chunk || x.start - y.start);
  for (let j = 1; j < ranges.length; j++) {
    const [before, after] = [ranges[j - 1], ranges[j]];
    if (after.chunk === before.chunk && after.start < before.end) {
      throw new ShapeError(`adamw: ${after.what} [${after.start}, ${after.end}) overlaps ${before.what} [${before.start}, ${before.end}) in chunks[${after.chunk}]`);
    }
  }
  for (const width of [4, 1] as const) {
    const tensors = byWidth[width];
    for (let first = 0; first < tensors.length; ) {
      // Up to perDispatch tensors, each starting on a workgroup boundary, while the linear index fits a u32 and the
      // bindings fit the device. One tensor always fits: 1 + 2 + 2 bindings, and every device has at least 8.
      const group: AdamWTensor[] = [];
      const used: number[] = []; // chunk indices in `a.chunks`, in the order this dispatch binds them
      const spans: number[] = [];
      let groups = 0;
      for (; first < tensors.length && group.length < perDispatch; first++) {
        const t = tensors[first];
        const count = (a.slots * t.elementsPerSlot) / width;
        const tensorGroups = Math.ceil(count / ELEMENTWISE_WORKGROUP);
        const added = [...new Set([t.mChunk, t.vChunk])].filter((c) => !used.includes(c));
        if (group.length > 0 && (groups + tensorGroups) * ELEMENTWISE_WORKGROUP > 0xffffffff) break;
        if (group.length > 0 && 1 + used.length + added.length + 2 * (group.length + 1) > bindings) break;
        group.push(t);
        used.push(...added);
        spans.push(t.elementsPerSlot / width, groups, count, t.weightDecay ? 1 : 0, t.mOffset / width, t.vOffset / width, 0, 0);
        groups += tensorGroups;
      }
      // Which of this dispatch's chunk bindings holds each tensor's m and v: part of the shader's text.
      const local = group.map((t) => [used.indexOf(t.mChunk), used.indexOf(t.vChunk)] as [number, number]);
      device.dispatch({
        kernel: 'adamw_v4',
        wgsl: wgslFor(adamwArenaWgsl, width, local),
        buffers: [a.hyper, ...used.map((c) => a.chunks[c]), ...group.flatMap((t) => [t.param, t.grad])],
        params: packParams([a.slots, 0, 0, 0, ...spans]),
        workgroups: gridFor(groups * ELEMENTWISE_WORKGROUP),
        shapes: `slots=${a.slots} vec${width} chunks=${used.join(',')} elementsPerSlot=${group.map((t) => t.elementsPerSlot).join(',')}`,
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
