/**
 * AdamW: 10 steps with per-slot clipping against the float64 reference for three slots with their own lr, betas,
 * eps and weight decay, on odd sizes; the clip norm and scale against a CPU norm; bit-identical repeats; bad shapes.
 * Multi-tensor launchers (what AdamW.step runs): bit-identical to the single-tensor ones over buffer counts around
 * the per-dispatch limit (lavapipe's and WebGPU's minimum), mixed sizes, widths and decay flags, several slots; adamw
 * v4's m and v in moments chunks, with guard values between the ranges that no launch may touch: one chunk, and
 * small chunks that split a tensor's m and v and leave fewer tensors per dispatch by their bindings. The AdamW class
 * with small chunks against one chunk, bit for bit, through steps, a slot reset and a state round trip.
 */
import { describe, expect, it, vi } from 'vitest';
import type { Device, Dispatch } from '../../src/gpu/device.js';
import { ShapeError } from '../../src/gpu/errors.js';
import { AdamW } from '../../src/nn/adamw.js';
import type { SlotOptimizerSettings } from '../../src/nn/optimizer.js';
import { tensor as makeTensor } from '../../src/tensor/create.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { expectClose } from '../../test/helpers/compare.js';
import { useDevice } from '../../test/helpers/gpu.js';
import { randomArray } from '../../test/helpers/random.js';
import {
  ADAMW_FIELD_COUNT,
  ADAMW_FIELDS,
  adamwTensorsPerDispatch,
  gradNormTensorsPerDispatch,
  launchAdamW,
  launchAdamWMultiTensor,
  launchGradNormClip,
  launchGradNormClipMultiTensor,
  packAdamWHyperparameters,
  packAdamWStepFields,
  planMomentsArena,
  type AdamWSlotSettings,
  type MomentsArena,
} from './adamw.js';
import { adamwReferenceStep, clipReference } from './reference.js';

const device = useDevice();

const slots: AdamWSlotSettings[] = [
  { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 }, // clips every step
  { lr: 3e-3, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1, maxGradNorm: 1e4 }, // never clips
  { lr: 5e-2, beta1: 0.95, beta2: 0.9, eps: 1e-3, weightDecay: 0 }, // clipping off
];
const T = slots.length;
// Two parameter buffers: one decayed, one not (as biases), odd sizes; the second spans several clip chunks.
const sizes = [37, 2049 * 3 + 5];
const decays = [true, false];

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function upload(d: Device, data: Float32Array, what: string): GPUBuffer {
  const buffer = d.allocate(data.length * 4, what);
  d.write(buffer, data);
  return buffer;
}

/** Runs `steps` steps on the GPU; returns the final params, moments and hyper table. */
interface GpuRun {
  params: Float32Array[];
  m: Float32Array[];
  v: Float32Array[];
  hyper: Float32Array;
}

/** 'single': a launch per buffer (v1/v2 and clip v1); 'multi': the multi-tensor launchers (v4 and clip v2). */
type Launchers = 'single' | 'multi';

/** Floats in the device's largest moments chunk, as AdamW plans them. */
/** launchAdamWMultiTensor's tensors: each parameter's buffers, with its m and v where `arena` placed them. */
function arenaTensors(arena: MomentsArena, tensorSizes: readonly number[], params: GPUBuffer[], grads: GPUBuffer[], weightDecays: readonly boolean[]) {
  return tensorSizes.map((n, k) => ({ param: params[k], grad: grads[k], ...arena.tensors[k], elementsPerSlot: n, weightDecay: weightDecays[k] }));
}

const largestChunk = (d: Device) => Math.floor(Math.min(d.limits.maxStorageBufferBindingSize, d.limits.maxBufferSize) / 4);

/** `chunkFloats`: 'multi' only, floats per moments chunk at most (default the device's largest). */
async function runGpu(steps: number, forceVectorWidth?: 1, launchers: Launchers = 'single', chunkFloats?: number): Promise<GpuRun> {
  const d = device();
  const params = sizes.map((n, k) => upload(d, randomArray(T * n, 10 + k), 'param'));
  // 'single' keeps m and v in buffers of their own, 'multi' in moments chunks (the buffers then go unused).
  const ms = sizes.map((n) => upload(d, new Float32Array(T * n), 'm'));
  const vs = sizes.map((n) => upload(d, new Float32Array(T * n), 'v'));
  const arena = planMomentsArena(sizes.map((n) => T * n), chunkFloats ?? largestChunk(d));
  const chunks = arena.chunkFloats.map((floats) => upload(d, new Float32Array(Math.max(floats, 4)), 'moments'));
  const grads = sizes.map((n) => d.allocate(T * n * 4, 'grad'));
  const hyper = upload(d, packAdamWHyperparameters(slots, slots.map(() => 1)), 'hyper');
  for (let step = 1; step <= steps; step++) {
    sizes.forEach((n, k) => d.write(grads[k], randomArray(T * n, 1000 * step + k, -3, 3)));
    const schedule = slots.map((s) => s.lr * (1 - step / 20)); // a linear decay, as the CPU would schedule it
    d.write(hyper, packAdamWStepFields(schedule, slots.map(() => step), slots.map((s) => s.beta1), slots.map((s) => s.beta2)));
    const gradients = sizes.map((n, k) => ({ buffer: grads[k], elementsPerSlot: n }));
    if (launchers === 'multi') {
      launchGradNormClipMultiTensor(d, gradients, hyper, T);
      launchAdamWMultiTensor(d, { tensors: arenaTensors(arena, sizes, params, grads, decays), hyper, chunks, slots: T, forceVectorWidth });
      continue;
    }
    launchGradNormClip(d, gradients, hyper, T);
    sizes.forEach((n, k) =>
      launchAdamW(d, {
        param: params[k],
        grad: grads[k],
        m: ms[k],
        v: vs[k],
        hyper,
        slots: T,
        elementsPerSlot: n,
        weightDecay: decays[k],
        forceVectorWidth,
      }),
    );
  }
  const read = async (b: GPUBuffer, n: number, at = 0) => new Float32Array(await d.read(b, n * 4, at * 4));
  const moment = (k: number, which: 'm' | 'v') => {
    const at = arena.tensors[k];
    if (launchers === 'single') return read((which === 'm' ? ms : vs)[k], T * sizes[k]);
    return which === 'm' ? read(chunks[at.mChunk], T * sizes[k], at.mOffset) : read(chunks[at.vChunk], T * sizes[k], at.vOffset);
  };
  const result = {
    params: await Promise.all(sizes.map((n, k) => read(params[k], T * n))),
    m: await Promise.all(sizes.map((_, k) => moment(k, 'm'))),
    v: await Promise.all(sizes.map((_, k) => moment(k, 'v'))),
    hyper: await read(hyper, ADAMW_FIELD_COUNT * T),
  };
  for (const b of [...params, ...ms, ...vs, ...grads, hyper, ...chunks]) d.release(b);
  return result;
}

describe('adamw', () => {
  // Buffer 1's size is a multiple of 4, so by default it runs v2 (vec4) and buffer 0 runs v1; forcing v1 checks v1 there.
  const variants = [
    ['v2 where possible', undefined, 'single', undefined],
    ['v1 everywhere', 1 as const, 'single', undefined],
    ['multi-tensor', undefined, 'multi', undefined],
    ['multi-tensor, scalar everywhere', 1 as const, 'multi', undefined],
    ['multi-tensor, a moments chunk per range of buffer 1', undefined, 'multi', T * sizes[1]],
  ] as const;
  it.each(variants)('10 steps with per-slot settings and clipping match the float64 reference (%s)', async (_, force, launchers, chunkFloats) => {
    const steps = 10;
    const gpu = await runGpu(steps, force, launchers, chunkFloats);
    const params = sizes.map((n, k) => Float64Array.from(randomArray(T * n, 10 + k)));
    const ms = sizes.map((n) => new Float64Array(T * n));
    const vs = sizes.map((n) => new Float64Array(T * n));
    let lastNorms: number[] = [];
    for (let step = 1; step <= steps; step++) {
      const grads = sizes.map((n, k) => randomArray(T * n, 1000 * step + k, -3, 3));
      lastNorms = [];
      for (let slot = 0; slot < T; slot++) {
        const slice = (a: ArrayLike<number> & { subarray(s: number, e: number): ArrayLike<number> }, n: number) =>
          a.subarray(slot * n, (slot + 1) * n);
        const { norm, scale } = clipReference(sizes.map((n, k) => slice(grads[k], n)), slots[slot].maxGradNorm ?? 0);
        lastNorms.push(norm);
        const settings = { ...slots[slot], lr: Math.fround(slots[slot].lr * (1 - step / 20)) };
        sizes.forEach((n, k) =>
          adamwReferenceStep(
            params[k].subarray(slot * n, (slot + 1) * n),
            slice(grads[k], n),
            ms[k].subarray(slot * n, (slot + 1) * n),
            vs[k].subarray(slot * n, (slot + 1) * n),
            settings,
            step,
            scale,
            decays[k],
          ),
        );
      }
    }
    sizes.forEach((_, k) => {
      expectClose(gpu.params[k], params[k], 1e-4, `param buffer ${k}`);
      expectClose(gpu.m[k], ms[k], 1e-4, `m buffer ${k}`);
      expectClose(gpu.v[k], vs[k], 1e-4, `v buffer ${k}`);
    });
    const T0 = ADAMW_FIELDS.gradNorm * T;
    expectClose(gpu.hyper.subarray(T0, T0 + T), lastNorms, 1e-5, 'grad norms');
  });

  it('repeats bit for bit, and the multi-tensor launchers give the same bits, in one moments chunk or several', async () => {
    const a = await runGpu(3);
    const b = await runGpu(3);
    const c = await runGpu(3, undefined, 'multi');
    // Chunks the size of the larger tensor's m: buffer 0's m and v share chunk 0, buffer 1's m and v one each.
    const chunkFloats = T * sizes[1];
    expect(planMomentsArena(sizes.map((n) => T * n), chunkFloats).chunkFloats).toHaveLength(3);
    const e = await runGpu(3, undefined, 'multi', chunkFloats);
    for (const other of [b, c, e]) {
      sizes.forEach((_, k) => {
        expect(sameBits(a.params[k], other.params[k])).toBe(true);
        expect(sameBits(a.m[k], other.m[k])).toBe(true);
        expect(sameBits(a.v[k], other.v[k])).toBe(true);
      });
      expect(sameBits(a.hyper, other.hyper)).toBe(true);
    }
  });

  it('rejects buffers too small for the slots', () => {
    const d = device();
    const small = d.allocate(16, 'small');
    const hyper = d.allocate(ADAMW_FIELD_COUNT * 2 * 4, 'hyper');
    expect(() =>
      launchAdamW(d, { param: small, grad: small, m: small, v: small, hyper, slots: 2, elementsPerSlot: 100, weightDecay: true }),
    ).toThrow(ShapeError);
    expect(() =>
      launchAdamW(d, { param: small, grad: small, m: small, v: small, hyper, slots: 2, elementsPerSlot: 5, weightDecay: true }),
    ).toThrow(/distinct/);
    expect(() => launchGradNormClip(d, [{ buffer: small, elementsPerSlot: 100 }], hyper, 2)).toThrow(/grads\[0\] holds/);
    expect(() => packAdamWStepFields([1], [0], [0.9], [0.999])).toThrow(/step 0/);
    d.release(small);
    d.release(hyper);
  });
});

describe('grad norm clip', () => {
  // 1 value per thread: chunks of 256, so the buffers span many chunks and columns of the partials.
  const chunkings = [['default chunks', undefined], ['chunks of 256', 1]] as const;
  it.each(chunkings)('norm and scale per slot match a CPU norm over several buffers (%s)', async (_, perThread) => {
    const d = device();
    const perSlot = [5, 3000, 2049];
    const settings: AdamWSlotSettings[] = [
      { lr: 1, beta1: 0.9, beta2: 0.9, eps: 1, weightDecay: 0, maxGradNorm: 2 },
      { lr: 1, beta1: 0.9, beta2: 0.9, eps: 1, weightDecay: 0, maxGradNorm: 1e6 },
    ];
    const data = perSlot.map((n, k) => randomArray(2 * n, 77 + k));
    const buffers = data.map((a) => upload(d, a, 'grad'));
    const hyper = upload(d, packAdamWHyperparameters(settings, [1, 1]), 'hyper');
    launchGradNormClip(d, perSlot.map((n, k) => ({ buffer: buffers[k], elementsPerSlot: n })), hyper, 2, perThread);
    const table = new Float32Array(await d.read(hyper, ADAMW_FIELD_COUNT * 2 * 4));
    for (let slot = 0; slot < 2; slot++) {
      const { norm, scale } = clipReference(
        perSlot.map((n, k) => data[k].subarray(slot * n, (slot + 1) * n)),
        settings[slot].maxGradNorm!,
      );
      expectClose([table[ADAMW_FIELDS.gradNorm * 2 + slot]], [norm], 1e-5, `norm slot ${slot}`);
      expectClose([table[ADAMW_FIELDS.gradScale * 2 + slot]], [scale], 1e-5, `scale slot ${slot}`);
    }
    expect(table[ADAMW_FIELDS.gradScale * 2 + 1]).toBe(1);
    for (const b of [...buffers, hyper]) d.release(b);
  });
});

/** Sizes per slot that cycle through odd ones, multiples of 4, of the chunk (256 × values per thread) and not. */
const mixedSizes = [37, 4096, 5, 2049 * 3 + 5, 256, 1000, 16384 + 3, 12, 1, 300, 64 * 256, 7, 100];
const sizesFor = (count: number) => Array.from({ length: count }, (_, k) => mixedSizes[k % mixedSizes.length]);

const clipSlots: AdamWSlotSettings[] = [
  { lr: 1, beta1: 0.9, beta2: 0.9, eps: 1, weightDecay: 0, maxGradNorm: 2 }, // clips
  { lr: 1, beta1: 0.9, beta2: 0.9, eps: 1, weightDecay: 0, maxGradNorm: 1e6 }, // does not
  { lr: 1, beta1: 0.9, beta2: 0.9, eps: 1, weightDecay: 0 }, // clipping off
];

describe('grad norm clip, multi-tensor', () => {
  // G: lavapipe's (16 storage bindings per stage: 15) and WebGPU's default minimum of 8 (7).
  const limits = [['this device', undefined], ['8 storage bindings', 7]] as const;
  const counts = (G: number) => [1, G - 1, G, G + 1, 2 * G + 3];
  for (const [limit, forcedG] of limits) {
    for (const perThread of [undefined, 1]) {
      it(`is bit-identical to per-buffer launches over 1, G−1, G, G+1, 2G+3 buffers (G for ${limit}, ${perThread ? 'chunks of 256' : 'default chunks'})`, async () => {
        const d = device();
        const G = forcedG ?? gradNormTensorsPerDispatch(d);
        expect(G).toBeGreaterThanOrEqual(7);
        const S = clipSlots.length;
        for (const count of counts(G)) {
          const perSlot = sizesFor(count);
          const data = perSlot.map((n, k) => randomArray(S * n, 500 + 31 * count + k, -2, 2));
          const grads = data.map((a) => upload(d, a, 'grad'));
          const gradients = perSlot.map((n, k) => ({ buffer: grads[k], elementsPerSlot: n }));
          const [single, multi] = [0, 1].map(() => upload(d, packAdamWHyperparameters(clipSlots, [1, 1, 1]), 'hyper'));
          launchGradNormClip(d, gradients, single, S, perThread);
          const before = d.dispatchCount;
          launchGradNormClipMultiTensor(d, gradients, multi, S, { valuesPerThread: perThread, tensorsPerDispatch: forcedG });
          expect(d.dispatchCount - before, `dispatches for ${count} buffers`).toBe(Math.ceil(count / G) + 1);
          const [a, b] = await Promise.all([single, multi].map(async (h) => new Float32Array(await d.read(h, ADAMW_FIELD_COUNT * S * 4))));
          expect(sameBits(a, b), `${count} buffers: tables differ`).toBe(true);
          for (let slot = 0; slot < S; slot++) {
            const { norm, scale } = clipReference(
              perSlot.map((n, k) => data[k].subarray(slot * n, (slot + 1) * n)),
              clipSlots[slot].maxGradNorm ?? 0,
            );
            expectClose([b[ADAMW_FIELDS.gradNorm * S + slot]], [norm], 1e-5, `${count} buffers: norm slot ${slot}`);
            expectClose([b[ADAMW_FIELDS.gradScale * S + slot]], [scale], 1e-5, `${count} buffers: scale slot ${slot}`);
          }
          for (const buffer of [...grads, single, multi]) d.release(buffer);
        }
      });
    }
  }

  it('skips empty buffers and splits a dispatch whose chunks pass one grid dimension', async () => {
    const d = device();
    // Chunks of 256: one dispatch's grid holds 65535 of them, so buffers of 33,000 chunks need a dispatch each.
    const perSlot = [0, 33000 * 256, 3, 0, 33000 * 256 - 1];
    const data = perSlot.map((n, k) => Float32Array.from({ length: n }, (_, i) => (((i + k) * 7919) % 1999) / 1999 - 0.5));
    const grads = data.map((a) => upload(d, a.length > 0 ? a : new Float32Array(1), 'grad'));
    const gradients = perSlot.map((n, k) => ({ buffer: grads[k], elementsPerSlot: n }));
    const settings = clipSlots.slice(0, 1);
    const [single, multi] = [0, 1].map(() => upload(d, packAdamWHyperparameters(settings, [1]), 'hyper'));
    launchGradNormClip(d, gradients, single, 1, 1);
    const before = d.dispatchCount;
    launchGradNormClipMultiTensor(d, gradients, multi, 1, { valuesPerThread: 1 });
    expect(d.dispatchCount - before).toBe(3);
    const [a, b] = await Promise.all([single, multi].map(async (h) => new Float32Array(await d.read(h, ADAMW_FIELD_COUNT * 4))));
    expect(sameBits(a, b)).toBe(true);
    expectClose([b[ADAMW_FIELDS.gradNorm]], [clipReference(data, 0).norm], 1e-5, 'norm');
    for (const buffer of [...grads, single, multi]) d.release(buffer);
  });

  it('rejects more buffers per dispatch than the device binds', () => {
    const d = device();
    const grad = d.allocate(16, 'grad');
    const hyper = d.allocate(ADAMW_FIELD_COUNT * 4, 'hyper');
    const G = gradNormTensorsPerDispatch(d);
    expect(() => launchGradNormClipMultiTensor(d, [{ buffer: grad, elementsPerSlot: 4 }], hyper, 1, { tensorsPerDispatch: G + 1 })).toThrow(
      /tensorsPerDispatch/,
    );
    expect(() => launchGradNormClipMultiTensor(d, [{ buffer: grad, elementsPerSlot: 5000 }], hyper, 1)).toThrow(/grads\[0\] holds/);
    d.release(grad);
    d.release(hyper);
  });
});

describe('adamw, multi-tensor', () => {
  const S = slots.length;
  // Mixed widths (multiples of 4 and not), decay flags and sizes; 13 tensors so that no P divides them evenly.
  const tensorSizes = sizesFor(13);
  const tensorDecays = tensorSizes.map((_, k) => k % 3 !== 1);
  // Values past each tensor's end that no launch may touch: not NaN, since a stray write computed from the pool's
  // NaN poison would carry the same NaN bits.
  const GUARD = 8;
  const SENTINEL = 12345.5;

  interface Run {
    state: Float32Array[]; // param, m, v of each tensor, with their guards
    dispatches: number;
    /** 'multi': whether every value of every chunk outside the tensors' m and v ranges is still SENTINEL. */
    chunkGuardsIntact: boolean;
    /** 'multi', the last step's v4 dispatches: storage buffers bound, tensors, chunks. */
    bound: { buffers: number; tensors: number; chunks: number }[];
  }

  interface GuardedArena {
    tensors: { mChunk: number; mOffset: number; vChunk: number; vOffset: number }[];
    chunkFloats: number[];
  }

  /**
   * Moments chunks of at most `floatsPerChunk` floats with guards: SENTINEL at each chunk's start and after every
   * range (past the rounding to 4 floats), the m ranges in tensor order and then the v ranges in reverse, so that a
   * tensor's m and v are not neighbours (and, with several chunks, mostly in different chunks).
   */
  function guardedArena(floatsPerChunk = Infinity): GuardedArena {
    const chunkFloats = [GUARD];
    const take = (count: number): [number, number] => {
      const size = Math.ceil(count / 4) * 4 + GUARD;
      if (chunkFloats[chunkFloats.length - 1] + size > floatsPerChunk) chunkFloats.push(GUARD);
      const chunk = chunkFloats.length - 1;
      const at = chunkFloats[chunk];
      chunkFloats[chunk] += size;
      return [chunk, at];
    };
    const m = tensorSizes.map((n) => take(S * n));
    const v = [...tensorSizes].reverse().map((n) => take(S * n)).reverse();
    return { tensors: tensorSizes.map((_, k) => ({ mChunk: m[k][0], mOffset: m[k][1], vChunk: v[k][0], vOffset: v[k][1] })), chunkFloats };
  }

  /** Three steps of clip + update over `tensorSizes`, single- or multi-tensor; param, m, v read back with guards. */
  /** Every param, m and v of the multi-tensor run has the single-tensor run's bits; no guard or chunk gap written. */
  function expectSameBitsAsSingle(multi: Run, single: { state: Float32Array[] }): void {
    expect(multi.chunkGuardsIntact, 'a value of a moments chunk outside every range was written').toBe(true);
    const guard = new Float32Array(GUARD).fill(SENTINEL);
    multi.state.forEach((values, i) => {
      const [k, what] = [Math.floor(i / 3), ['param', 'm', 'v'][i % 3]];
      expect(sameBits(values, single.state[i]), `tensor ${k} (${tensorSizes[k]} per slot) ${what} differs`).toBe(true);
      expect(sameBits(values.subarray(values.length - GUARD), guard), `tensor ${k} ${what}: guard written`).toBe(true);
    });
  }

  async function run(launchers: Launchers, forceVectorWidth?: 1, tensorsPerDispatch?: number, arena = guardedArena()): Promise<Run> {
    const d = device();
    // Buffers one guard longer than the tensor, the guard filled with SENTINEL.
    const make = (n: number, data: Float32Array, what: string) => {
      const b = d.allocate((S * n + GUARD) * 4, what);
      const withGuard = new Float32Array(S * n + GUARD).fill(SENTINEL);
      withGuard.set(data);
      d.write(b, withGuard);
      return b;
    };
    const params = tensorSizes.map((n, k) => make(n, randomArray(S * n, 70 + k), 'param'));
    const grads = tensorSizes.map((n) => d.allocate(S * n * 4, 'grad'));
    const hyper = upload(d, packAdamWHyperparameters(slots, slots.map(() => 1)), 'hyper');
    // 'single': m and v in buffers of their own; 'multi': in the chunks, zero in each range, SENTINEL around them.
    const single = launchers === 'single';
    const ms = single ? tensorSizes.map((n) => make(n, new Float32Array(S * n), 'm')) : [];
    const vs = single ? tensorSizes.map((n) => make(n, new Float32Array(S * n), 'v')) : [];
    const initial = arena.chunkFloats.map((floats) => new Float32Array(floats).fill(SENTINEL));
    const inRange = arena.chunkFloats.map((floats) => new Uint8Array(floats));
    tensorSizes.forEach((n, k) => {
      const at = arena.tensors[k];
      for (const [chunk, offset] of [[at.mChunk, at.mOffset], [at.vChunk, at.vOffset]]) {
        initial[chunk].fill(0, offset, offset + S * n);
        inRange[chunk].fill(1, offset, offset + S * n);
      }
    });
    const chunks = single ? [] : initial.map((values) => upload(d, values, 'moments'));
    let dispatches = 0;
    let bound: Run['bound'] = [];
    for (let step = 1; step <= 3; step++) {
      tensorSizes.forEach((n, k) => d.write(grads[k], randomArray(S * n, 3000 * step + k, -3, 3)));
      d.write(hyper, packAdamWStepFields(slots.map((s) => s.lr), slots.map(() => step), slots.map((s) => s.beta1), slots.map((s) => s.beta2)));
      launchGradNormClipMultiTensor(d, tensorSizes.map((n, k) => ({ buffer: grads[k], elementsPerSlot: n })), hyper, S);
      const before = d.dispatchCount;
      if (single) {
        tensorSizes.forEach((n, k) =>
          launchAdamW(d, { param: params[k], grad: grads[k], m: ms[k], v: vs[k], hyper, slots: S, elementsPerSlot: n, weightDecay: tensorDecays[k], forceVectorWidth }),
        );
      } else {
        const tensors = arenaTensors(arena, tensorSizes, params, grads, tensorDecays);
        const spy = vi.spyOn(d, 'dispatch');
        try {
          launchAdamWMultiTensor(d, { tensors, hyper, chunks, slots: S, forceVectorWidth, tensorsPerDispatch });
          bound = spy.mock.calls.map(([call]: [Dispatch]) => {
            const inChunks = call.buffers.filter((b) => chunks.includes(b as GPUBuffer)).length;
            return { buffers: call.buffers.length, chunks: inChunks, tensors: (call.buffers.length - 1 - inChunks) / 2 };
          });
        } finally {
          spy.mockRestore();
        }
      }
      dispatches = d.dispatchCount - before;
    }
    const finals = await Promise.all(chunks.map(async (b, c) => new Float32Array(await d.read(b, arena.chunkFloats[c] * 4))));
    const state: Float32Array[] = [];
    for (const [k, n] of tensorSizes.entries()) {
      const at = arena.tensors[k];
      state.push(new Float32Array(await d.read(params[k], (S * n + GUARD) * 4)));
      for (const [buffers, chunk, offset] of [[ms, at.mChunk, at.mOffset], [vs, at.vChunk, at.vOffset]] as const) {
        // The chunk's range and the values after it: padding and guard, as SENTINEL as a buffer's own guard.
        state.push(single ? new Float32Array(await d.read(buffers[k], (S * n + GUARD) * 4)) : finals[chunk].slice(offset, offset + S * n + GUARD));
      }
    }
    // Outside the ranges, every chunk must still hold what it was given.
    const chunkGuardsIntact = finals.every((values, c) => values.every((x, i) => inRange[c][i] === 1 || Object.is(x, SENTINEL)));
    for (const b of [...params, ...ms, ...vs, ...grads, hyper, ...chunks]) d.release(b);
    return { state, dispatches, chunkGuardsIntact, bound };
  }

  // Per-tensor launches do not depend on P or the chunks: run once per width and shared by the cases below.
  const singles = new Map<1 | undefined, Promise<Run>>();
  const singleRun = (force?: 1) => {
    let result = singles.get(force);
    if (!result) singles.set(force, (result = run('single', force)));
    return result;
  };

  /** Checks every range of `arena` against its chunk: inside it, at a multiple of 4, no overlaps. */
  function expectValidPlan(counts: readonly number[], arena: ReturnType<typeof planMomentsArena>, maxFloats: number) {
    expect(arena.tensors).toHaveLength(counts.length);
    arena.chunkFloats.forEach((floats) => expect(floats).toBeLessThanOrEqual(maxFloats));
    const ranges = counts.flatMap((n, k) => {
      const at = arena.tensors[k];
      return [[at.mChunk, at.mOffset, n], [at.vChunk, at.vOffset, n]];
    });
    ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    ranges.forEach(([chunk, at, n], j) => {
      expect(at % 4).toBe(0);
      expect(at + n).toBeLessThanOrEqual(arena.chunkFloats[chunk]);
      if (j > 0 && ranges[j - 1][0] === chunk) expect(at).toBeGreaterThanOrEqual(ranges[j - 1][1] + ranges[j - 1][2]);
    });
  }

  it('plans non-overlapping ranges at multiples of 4 floats, in one chunk when they fit', () => {
    const counts = [5, 0, 8, 1, 4099];
    const arena = planMomentsArena(counts, 1 << 20);
    expectValidPlan(counts, arena, 1 << 20);
    expect(arena.chunkFloats).toEqual([2 * (8 + 0 + 8 + 4 + 4100)]);
    expect(arena.tensors.every((t) => t.mChunk === 0 && t.vChunk === 0)).toBe(true);
    expect(() => planMomentsArena([3, -1], 1 << 20)).toThrow(/elementCounts\[1\] -1/);
  });

  it('plans several chunks when the ranges do not fit one, splitting a tensor\'s m and v, and refuses a range over a chunk', () => {
    // 16 floats a chunk: [m0 v0] [m1 v1] [m2 v2] [m3] [v3].
    const counts = [5, 8, 3, 10];
    const arena = planMomentsArena(counts, 16);
    expectValidPlan(counts, arena, 16);
    expect(arena.chunkFloats).toEqual([16, 16, 8, 12, 12]);
    expect(arena.tensors).toEqual([
      { mChunk: 0, mOffset: 0, vChunk: 0, vOffset: 8 },
      { mChunk: 1, mOffset: 0, vChunk: 1, vOffset: 8 },
      { mChunk: 2, mOffset: 0, vChunk: 2, vOffset: 4 },
      { mChunk: 3, mOffset: 0, vChunk: 4, vOffset: 0 },
    ]);
    // A limit that is not a multiple of 4: the chunk stops at it, the next range opens a new one.
    const odd = planMomentsArena([5], 6);
    expectValidPlan([5], odd, 6);
    expect(odd.chunkFloats).toEqual([6, 6]);
    // Empty ranges never open a chunk; a range of exactly a chunk fills one.
    const exact = planMomentsArena([0, 16, 0], 16);
    expectValidPlan([0, 16, 0], exact, 16);
    expect(exact.chunkFloats).toEqual([16, 16]);
    // Mixed sizes over chunks of the largest range: every range placed, several chunks.
    const mixed = sizesFor(13).map((n) => 3 * n);
    const spread = planMomentsArena(mixed, Math.max(...mixed));
    expectValidPlan(mixed, spread, Math.max(...mixed));
    expect(spread.chunkFloats.length).toBeGreaterThan(2);
    expect(() => planMomentsArena([3, 17], 16)).toThrow(/tensor 1's m of 17 floats \(68 bytes\) is over the largest chunk, 16 floats \(64 bytes\)/);
    expect(() => planMomentsArena([3], 0)).toThrow(/maxFloatsPerChunk 0/);
  });

  const vec4Count = tensorSizes.filter((n) => n % 4 === 0).length;
  const cases = [
    ['P for this device', undefined, undefined],
    ['P for this device, scalar everywhere', undefined, 1 as const],
    ['P = 3 (8 storage bindings)', 3, undefined],
    ['P = 1', 1, undefined],
  ] as const;
  it.each(cases)('is bit-identical to per-tensor launches and leaves the guards alone (%s)', async (_, forcedP, force) => {
    const P = forcedP ?? adamwTensorsPerDispatch(device());
    const single = await singleRun(force);
    const multi = await run('multi', force, forcedP);
    const scalarCount = force === 1 ? tensorSizes.length : tensorSizes.length - vec4Count;
    const vectorCount = tensorSizes.length - scalarCount;
    expect(multi.dispatches).toBe(Math.ceil(scalarCount / P) + Math.ceil(vectorCount / P));
    expectSameBitsAsSingle(multi, single);
  });

  /**
   * Dispatches the launcher should make: per width, tensors in order while the table, the distinct chunks and two
   * bindings per tensor fit `bindings` and there are at most P.
   */
  function expectedDispatches(arena: GuardedArena, force: 1 | undefined, P: number, bindings: number): number {
    let count = 0;
    for (const width of [4, 1]) {
      const ks = tensorSizes.map((n, k) => ({ n, k })).filter(({ n }) => (force ?? (n % 4 === 0 ? 4 : 1)) === width);
      for (let i = 0; i < ks.length; count++) {
        let used = new Set<number>();
        for (let taken = 0; i < ks.length && taken < P; taken++, i++) {
          const at = arena.tensors[ks[i].k];
          const next = new Set([...used, at.mChunk, at.vChunk]);
          if (taken > 0 && 1 + next.size + 2 * (taken + 1) > bindings) break;
          used = next;
        }
      }
    }
    return count;
  }

  // The largest range fills a chunk (so most chunks hold few ranges), or chunks of 64 Ki floats (a few per chunk).
  const largestRange = S * Math.max(...tensorSizes);
  const chunkCases = [
    ['chunks of the largest range, P for this device', largestRange + 2 * GUARD, undefined, undefined],
    ['chunks of the largest range, scalar everywhere', largestRange + 2 * GUARD, undefined, 1 as const],
    ['chunks of 64 Ki floats, P for this device', 1 << 16, undefined, undefined],
    ['chunks of 64 Ki floats, P = 3', 1 << 16, 3, undefined],
    ['chunks of 64 Ki floats, P = 1', 1 << 16, 1, undefined],
  ] as const;
  it.each(chunkCases)('over several moments chunks, is bit-identical to per-tensor launches and leaves the guards alone (%s)', async (_, floatsPerChunk, forcedP, force) => {
    const d = device();
    const arena = guardedArena(floatsPerChunk);
    expect(arena.chunkFloats.length, 'chunks').toBeGreaterThan(2);
    expect(arena.tensors.some((t) => t.mChunk !== t.vChunk), 'a tensor with m and v in different chunks').toBe(true);
    const P = forcedP ?? adamwTensorsPerDispatch(d);
    const bindings = d.limits.maxStorageBuffersPerShaderStage;
    const single = await singleRun(force);
    const multi = await run('multi', force, forcedP, arena);
    const expected = expectedDispatches(arena, force, P, bindings);
    expect(multi.dispatches).toBe(expected);
    expect(multi.bound).toHaveLength(expected);
    for (const b of multi.bound) {
      expect(b.buffers, 'storage buffers bound').toBeLessThanOrEqual(bindings);
      expect(b.tensors).toBeLessThanOrEqual(P);
    }
    // With the device's own P, its storage bindings are what limits a dispatch (2 + 2P of them for one chunk, as
    // lavapipe's 16 for P = 7), so more chunks leave fewer tensors per dispatch than P.
    if (forcedP === undefined && 2 + 2 * P > bindings - 1) {
      const oneChunk = expectedDispatches(guardedArena(), force, P, bindings);
      expect(expected).toBeGreaterThan(oneChunk);
      expect(multi.bound.some((b) => b.chunks > 1 && b.tensors < P)).toBe(true);
    }
    expectSameBitsAsSingle(multi, single);
  });

  it('matches the float64 reference', async () => {
    const multi = await run('multi');
    const d64 = (n: number, k: number) => ({
      p: Float64Array.from(randomArray(S * n, 70 + k)),
      m: new Float64Array(S * n),
      v: new Float64Array(S * n),
    });
    const state = tensorSizes.map(d64);
    for (let step = 1; step <= 3; step++) {
      const grads = tensorSizes.map((n, k) => randomArray(S * n, 3000 * step + k, -3, 3));
      for (let slot = 0; slot < S; slot++) {
        const at = <A extends { subarray(s: number, e: number): A }>(a: A, n: number) => a.subarray(slot * n, (slot + 1) * n);
        const { scale } = clipReference(tensorSizes.map((n, k) => at(grads[k], n)), slots[slot].maxGradNorm ?? 0);
        const settings = { ...slots[slot], lr: Math.fround(slots[slot].lr) };
        tensorSizes.forEach((n, k) =>
          adamwReferenceStep(at(state[k].p, n), at(grads[k], n), at(state[k].m, n), at(state[k].v, n), settings, step, scale, tensorDecays[k]),
        );
      }
    }
    tensorSizes.forEach((n, k) => {
      const values = [state[k].p, state[k].m, state[k].v];
      values.forEach((expected, j) => expectClose(multi.state[3 * k + j].subarray(0, S * n), expected, 1e-4, `tensor ${k} ${['param', 'm', 'v'][j]}`));
    });
  });

  it('rejects shared buffers, bad chunks and moments ranges, a vec4 width that does not divide, and more tensors than the device binds', () => {
    const d = device();
    const [a, b, e, f] = [0, 1, 2, 3].map(() => d.allocate(64, 'buffer'));
    const hyper = d.allocate(ADAMW_FIELD_COUNT * 4, 'hyper');
    const moments = d.allocate(256, 'moments'); // 64 floats
    const second = d.allocate(256, 'moments'); // 64 floats
    const floats = moments.size / 4;
    const tensor = { param: a, grad: b, mChunk: 0, mOffset: 0, vChunk: 0, vOffset: 8, elementsPerSlot: 4, weightDecay: true };
    const other = { ...tensor, param: e, grad: f, mOffset: 16, vOffset: 24 };
    const extras = { forceVectorWidth: undefined as 1 | 4 | undefined, tensorsPerDispatch: undefined as number | undefined };
    const launch = (tensors: (typeof tensor)[], extra: Partial<typeof extras> = {}, chunks = [moments]) =>
      launchAdamWMultiTensor(d, { tensors, hyper, chunks, slots: 1, ...extra });
    expect(() => launch([tensor, other])).not.toThrow();
    expect(() => launch([tensor, { ...other, param: a }])).toThrow(/tensors\[1\]: param is the buffer of tensors\[0\]\.param.*distinct/);
    expect(() => launch([tensor, { ...other, grad: a }])).toThrow(/tensors\[1\]: grad .*distinct/);
    expect(() => launch([{ ...tensor, param: moments }])).toThrow(/param is the buffer of chunks\[0\]/);
    expect(() => launch([{ ...tensor, grad: second }], {}, [moments, second])).toThrow(/grad is the buffer of chunks\[1\]/);
    expect(() => launch([{ ...tensor, grad: hyper }])).toThrow(/grad is the buffer of hyper/);
    expect(() => launch([tensor], {}, [hyper])).toThrow(/chunks\[0\] is the buffer of hyper/);
    expect(() => launch([tensor], {}, [moments, moments])).toThrow(/chunks\[1\] is the buffer of chunks\[0\]/);
    expect(() => launch([tensor, { ...other, mOffset: 6 }], { forceVectorWidth: 1 })).toThrow(/tensors\[0\] v \[8, 12\) overlaps tensors\[1\] m \[6, 10\) in chunks\[0\]/);
    expect(() => launch([{ ...tensor, vOffset: 2 }], { forceVectorWidth: 1 })).toThrow(/overlaps/);
    // The same offsets in different chunks do not overlap.
    expect(() => launch([tensor, { ...other, mChunk: 1, mOffset: 0, vChunk: 1, vOffset: 8 }], {}, [moments, second])).not.toThrow();
    expect(() => launch([tensor, { ...other, mChunk: 1, mOffset: 6, vChunk: 0, vOffset: 10 }], { forceVectorWidth: 1 }, [moments, second])).toThrow(
      /tensors\[1\] v \[10, 14\) overlaps tensors\[0\] v \[8, 12\) in chunks\[0\]/,
    );
    expect(() => launch([{ ...tensor, vChunk: 2 }], {}, [moments, second])).toThrow(/tensors\[0\]: vChunk 2 is not in \[0, 2\)/);
    expect(() => launch([{ ...tensor, mChunk: -1 }])).toThrow(/tensors\[0\]: mChunk -1 is not in \[0, 1\)/);
    expect(() => launch([{ ...other, vOffset: floats - 2 }], { forceVectorWidth: 1 })).toThrow(/tensors\[0\]: vOffset .* runs past chunks\[0\], which holds 64/);
    expect(() => launch([{ ...other, mChunk: 1, mOffset: floats - 2 }], { forceVectorWidth: 1 }, [moments, second])).toThrow(/mOffset 62 \+ 4 values runs past chunks\[1\]/);
    expect(() => launch([{ ...other, mOffset: 2 }])).toThrow(/tensors\[0\]: mOffset 2 is not a multiple of its vector width 4/);
    expect(() => launch([{ ...other, mOffset: 2 }], { forceVectorWidth: 1 })).not.toThrow();
    expect(() => launch([{ ...tensor, elementsPerSlot: 6, vOffset: 32 }], { forceVectorWidth: 4 })).toThrow(/does not divide/);
    expect(() => launch([{ ...tensor, elementsPerSlot: 100 }])).toThrow(/param holds/);
    const P = adamwTensorsPerDispatch(d);
    expect(() => launch([tensor], { tensorsPerDispatch: P + 1 })).toThrow(/tensorsPerDispatch/);
    for (const buffer of [a, b, e, f, hyper, moments, second]) d.release(buffer);
  });
});

describe('AdamW (src/nn) over several moments chunks', () => {
  const S = 2;
  // Slot-axis shapes, widths scalar and vec4, decayed or not; the largest takes 60 floats of m (and of v).
  const shapes: [string, number[]][] = [
    ['layer.bias', [S, 7]],
    ['layer.weight', [S, 3, 8]],
    ['encoder.norm.weight', [S, 5]],
    ['out.weight', [S, 30]],
  ];
  const settings = (lr: number, maxGradNorm: number): SlotOptimizerSettings => ({ learningRate: lr, beta1: 0.9, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.05, maxGradNorm });
  const slotSettings = [settings(1e-2, 0.5), settings(3e-3, 0)];
  // 64 floats a chunk: 6 chunks for these, layer.weight's m and v in different ones, and out.weight's, one each.
  const SMALL = 64 * 4;

  function parameters(d: Device): [string, Tensor][] {
    return shapes.map(([name, shape], k) => {
      const size = shape.reduce((p, n) => p * n, 1);
      return [name, makeTensor(d, randomArray(size, 900 + k), shape)];
    });
  }

  function setGrads(d: Device, named: [string, Tensor][], step: number) {
    named.forEach(([, p], k) => {
      p.grad?.release();
      p.grad = makeTensor(d, randomArray(p.size, 50 * step + k, -2, 2), [...p.shape]);
    });
  }

  const readAll = async (d: Device, named: [string, Tensor][]) => Promise.all(named.map(async ([, p]) => new Float32Array(await d.read(p.buffer, p.size * 4))));
  const readState = async (d: Device, o: AdamW) =>
    new Map(
      await Promise.all(
        [...o.stateArrays()].map(async ([name, a]) => {
          const size = a.shape.reduce((p, n) => p * n, 1);
          return [name, new Float32Array(await d.read(a.buffer, size * 4, a.byteOffset))] as const;
        }),
      ),
    );

  it('gives the same bits as one chunk through steps and a slot reset, and its state round-trips', async () => {
    const d = device();
    const runs = [undefined, SMALL].map((chunkBytes) => {
      const named = parameters(d);
      return { named, optimizer: new AdamW(d, named, slotSettings, { maxMomentsChunkBytes: chunkBytes }) };
    });
    // The small chunks really are several, and split a tensor's m and v (its state arrays: different buffers).
    const small = runs[1].optimizer.stateArrays();
    expect(new Set([...small.values()].map((a) => a.buffer)).size).toBe(6);
    expect(small.get('out.weight.exp_avg')!.buffer).not.toBe(small.get('out.weight.exp_avg_sq')!.buffer);
    expect(new Set([...runs[0].optimizer.stateArrays().values()].map((a) => a.buffer)).size).toBe(1);
    const stepBoth = (step: number) => {
      for (const { named, optimizer } of runs) {
        setGrads(d, named, step);
        optimizer.step([1e-2 * (1 - step / 10), 3e-3]);
      }
    };
    for (let step = 1; step <= 3; step++) stepBoth(step);
    for (const { optimizer } of runs) optimizer.resetSlot(1, settings(5e-3, 1));
    for (let step = 4; step <= 5; step++) stepBoth(step);
    const [oneParams, smallParams] = await Promise.all(runs.map(({ named }) => readAll(d, named)));
    shapes.forEach(([name], k) => expect(sameBits(smallParams[k], oneParams[k]), `${name} differs`).toBe(true));
    const [oneState, smallState] = await Promise.all(runs.map(({ optimizer }) => readState(d, optimizer)));
    expect([...smallState.keys()]).toEqual([...oneState.keys()]);
    for (const [name, values] of oneState) {
      expect(values.some((x) => x !== 0), `${name} is all zeros`).toBe(true);
      expect(sameBits(smallState.get(name)!, values), `${name} differs`).toBe(true);
    }
    // One chunk's state loaded into a small-chunk optimizer on a copy of the parameters: the same state read back,
    // then the same next step.
    const named = parameters(d);
    named.forEach(([, p], k) => d.write(p.buffer, oneParams[k]));
    const loaded = new AdamW(d, named, [slotSettings[0], settings(5e-3, 1)], { maxMomentsChunkBytes: SMALL });
    loaded.loadState(oneState, runs[0].optimizer.stepCount);
    const back = await readState(d, loaded);
    for (const [name, values] of oneState) expect(sameBits(back.get(name)!, values), `${name} after loadState`).toBe(true);
    // The reset slot's own step count is not part of the saved state: step both from a common count.
    runs[0].optimizer.slotSteps.fill(runs[0].optimizer.stepCount);
    setGrads(d, runs[0].named, 6);
    runs[0].optimizer.step([1e-3, 1e-3]);
    setGrads(d, named, 6);
    loaded.step([1e-3, 1e-3]);
    const [after, loadedAfter] = await Promise.all([readAll(d, runs[0].named), readAll(d, named)]);
    shapes.forEach(([name], k) => expect(sameBits(loadedAfter[k], after[k]), `${name} after a step from loaded state`).toBe(true));
    for (const { named: ps, optimizer } of [...runs, { named, optimizer: loaded }]) {
      optimizer.zeroGrad();
      optimizer.release();
      for (const [, p] of ps) p.release();
    }
  });

  it('refuses a parameter over the largest chunk by name, and a chunk size the device cannot bind', () => {
    const d = device();
    const named = parameters(d);
    expect(() => new AdamW(d, named, slotSettings, { maxMomentsChunkBytes: 50 * 4 })).toThrow(
      /AdamW: parameter out\.weight \[2,30\] needs 240 bytes .* over the largest moments chunk \(200 bytes\)/,
    );
    const most = Math.min(d.limits.maxStorageBufferBindingSize, d.limits.maxBufferSize);
    expect(() => new AdamW(d, named, slotSettings, { maxMomentsChunkBytes: most + 4 })).toThrow(/maxMomentsChunkBytes/);
    for (const [, p] of named) p.release();
  });
});
