/**
 * AdamW: 10 steps with per-slot clipping against the float64 reference for three slots with their own lr, betas,
 * eps and weight decay, on odd sizes; the clip norm and scale against a CPU norm; bit-identical repeats; bad shapes.
 * Multi-tensor launchers (what AdamW.step runs): bit-identical to the single-tensor ones over buffer counts around
 * the per-dispatch limit (lavapipe's and WebGPU's minimum), mixed sizes, widths and decay flags, several slots.
 */
import { describe, expect, it } from 'vitest';
import type { Device } from '../../src/gpu/device.js';
import { ShapeError } from '../../src/gpu/errors.js';
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
  type AdamWSlotSettings,
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

/** 'single': a launch per buffer (v1/v2 and clip v1); 'multi': the multi-tensor launchers (v3 and clip v2). */
type Launchers = 'single' | 'multi';

async function runGpu(steps: number, forceVectorWidth?: 1, launchers: Launchers = 'single'): Promise<GpuRun> {
  const d = device();
  const params = sizes.map((n, k) => upload(d, randomArray(T * n, 10 + k), 'param'));
  const ms = sizes.map((n) => upload(d, new Float32Array(T * n), 'm'));
  const vs = sizes.map((n) => upload(d, new Float32Array(T * n), 'v'));
  const grads = sizes.map((n) => d.allocate(T * n * 4, 'grad'));
  const hyper = upload(d, packAdamWHyperparameters(slots, slots.map(() => 1)), 'hyper');
  for (let step = 1; step <= steps; step++) {
    sizes.forEach((n, k) => d.write(grads[k], randomArray(T * n, 1000 * step + k, -3, 3)));
    const schedule = slots.map((s) => s.lr * (1 - step / 20)); // a linear decay, as the CPU would schedule it
    d.write(hyper, packAdamWStepFields(schedule, slots.map(() => step), slots.map((s) => s.beta1), slots.map((s) => s.beta2)));
    const gradients = sizes.map((n, k) => ({ buffer: grads[k], elementsPerSlot: n }));
    if (launchers === 'multi') {
      launchGradNormClipMultiTensor(d, gradients, hyper, T);
      const tensors = sizes.map((n, k) => ({ param: params[k], grad: grads[k], m: ms[k], v: vs[k], elementsPerSlot: n, weightDecay: decays[k] }));
      launchAdamWMultiTensor(d, { tensors, hyper, slots: T, forceVectorWidth });
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
  const read = async (b: GPUBuffer, n: number) => new Float32Array(await d.read(b, n * 4));
  const result = {
    params: await Promise.all(sizes.map((n, k) => read(params[k], T * n))),
    m: await Promise.all(sizes.map((n, k) => read(ms[k], T * n))),
    v: await Promise.all(sizes.map((n, k) => read(vs[k], T * n))),
    hyper: await read(hyper, ADAMW_FIELD_COUNT * T),
  };
  for (const b of [...params, ...ms, ...vs, ...grads, hyper]) d.release(b);
  return result;
}

describe('adamw', () => {
  // Buffer 1's size is a multiple of 4, so by default it runs v2 (vec4) and buffer 0 runs v1; forcing v1 checks v1 there.
  const variants = [
    ['v2 where possible', undefined, 'single'],
    ['v1 everywhere', 1 as const, 'single'],
    ['multi-tensor', undefined, 'multi'],
    ['multi-tensor, scalar everywhere', 1 as const, 'multi'],
  ] as const;
  it.each(variants)('10 steps with per-slot settings and clipping match the float64 reference (%s)', async (_, force, launchers) => {
    const steps = 10;
    const gpu = await runGpu(steps, force, launchers);
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

  it('repeats bit for bit, and the multi-tensor launchers give the same bits', async () => {
    const a = await runGpu(3);
    const b = await runGpu(3);
    const c = await runGpu(3, undefined, 'multi');
    for (const other of [b, c]) {
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
  }

  /** Three steps of clip + update over `tensorSizes`, single- or multi-tensor; param, m, v read back with guards. */
  async function run(launchers: Launchers, forceVectorWidth?: 1, tensorsPerDispatch?: number): Promise<Run> {
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
    const ms = tensorSizes.map((n) => make(n, new Float32Array(S * n), 'm'));
    const vs = tensorSizes.map((n) => make(n, new Float32Array(S * n), 'v'));
    const grads = tensorSizes.map((n) => d.allocate(S * n * 4, 'grad'));
    const hyper = upload(d, packAdamWHyperparameters(slots, slots.map(() => 1)), 'hyper');
    let dispatches = 0;
    for (let step = 1; step <= 3; step++) {
      tensorSizes.forEach((n, k) => d.write(grads[k], randomArray(S * n, 3000 * step + k, -3, 3)));
      d.write(hyper, packAdamWStepFields(slots.map((s) => s.lr), slots.map(() => step), slots.map((s) => s.beta1), slots.map((s) => s.beta2)));
      launchGradNormClipMultiTensor(d, tensorSizes.map((n, k) => ({ buffer: grads[k], elementsPerSlot: n })), hyper, S);
      const before = d.dispatchCount;
      if (launchers === 'multi') {
        const tensors = tensorSizes.map((n, k) => ({ param: params[k], grad: grads[k], m: ms[k], v: vs[k], elementsPerSlot: n, weightDecay: tensorDecays[k] }));
        launchAdamWMultiTensor(d, { tensors, hyper, slots: S, forceVectorWidth, tensorsPerDispatch });
      } else {
        tensorSizes.forEach((n, k) =>
          launchAdamW(d, { param: params[k], grad: grads[k], m: ms[k], v: vs[k], hyper, slots: S, elementsPerSlot: n, weightDecay: tensorDecays[k], forceVectorWidth }),
        );
      }
      dispatches = d.dispatchCount - before;
    }
    const state: Float32Array[] = [];
    for (const [k, n] of tensorSizes.entries()) {
      for (const b of [params[k], ms[k], vs[k]]) state.push(new Float32Array(await d.read(b, (S * n + GUARD) * 4)));
    }
    for (const b of [...params, ...ms, ...vs, ...grads, hyper]) d.release(b);
    return { state, dispatches };
  }

  const vec4Count = tensorSizes.filter((n) => n % 4 === 0).length;
  const cases = [
    ['P for this device', undefined, undefined],
    ['P for this device, scalar everywhere', undefined, 1 as const],
    ['P = 1 (8 storage bindings)', 1, undefined],
    ['P = 2', 2, undefined],
  ] as const;
  it.each(cases)('is bit-identical to per-tensor launches and leaves the guards alone (%s)', async (_, forcedP, force) => {
    const P = forcedP ?? adamwTensorsPerDispatch(device());
    const single = await run('single', force);
    const multi = await run('multi', force, forcedP);
    const scalarCount = force === 1 ? tensorSizes.length : tensorSizes.length - vec4Count;
    const vectorCount = tensorSizes.length - scalarCount;
    expect(multi.dispatches).toBe(Math.ceil(scalarCount / P) + Math.ceil(vectorCount / P));
    const guard = new Float32Array(GUARD).fill(SENTINEL);
    multi.state.forEach((values, i) => {
      const [k, what] = [Math.floor(i / 3), ['param', 'm', 'v'][i % 3]];
      expect(sameBits(values, single.state[i]), `tensor ${k} (${tensorSizes[k]} per slot) ${what} differs`).toBe(true);
      expect(sameBits(values.subarray(values.length - GUARD), guard), `tensor ${k} ${what}: guard written`).toBe(true);
    });
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

  it('rejects shared buffers, a vec4 width that does not divide, and more tensors than the device binds', () => {
    const d = device();
    const [a, b, c, e, f] = [0, 1, 2, 3, 4].map(() => d.allocate(64, 'buffer'));
    const hyper = d.allocate(ADAMW_FIELD_COUNT * 4, 'hyper');
    const tensor = { param: a, grad: b, m: c, v: e, elementsPerSlot: 4, weightDecay: true };
    expect(() => launchAdamWMultiTensor(d, { tensors: [tensor, { ...tensor, param: f }], hyper, slots: 1 })).toThrow(/distinct/);
    expect(() => launchAdamWMultiTensor(d, { tensors: [{ ...tensor, elementsPerSlot: 6 }], hyper, slots: 1, forceVectorWidth: 4 })).toThrow(
      /does not divide/,
    );
    expect(() => launchAdamWMultiTensor(d, { tensors: [{ ...tensor, elementsPerSlot: 100 }], hyper, slots: 1 })).toThrow(/param holds/);
    const P = adamwTensorsPerDispatch(d);
    expect(() => launchAdamWMultiTensor(d, { tensors: [tensor], hyper, slots: 1, tensorsPerDispatch: P + 1 })).toThrow(/tensorsPerDispatch/);
    for (const buffer of [a, b, c, e, f, hyper]) d.release(buffer);
  });
});
