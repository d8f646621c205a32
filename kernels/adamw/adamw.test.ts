/**
 * AdamW: 10 steps with per-slot clipping against the float64 reference for three slots with their own lr, betas,
 * eps and weight decay, on odd sizes; the clip norm and scale against a CPU norm; bit-identical repeats; bad shapes.
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
  launchAdamW,
  launchGradNormClip,
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

async function runGpu(steps: number, forceVectorWidth?: 1): Promise<GpuRun> {
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
    launchGradNormClip(d, sizes.map((n, k) => ({ buffer: grads[k], elementsPerSlot: n })), hyper, T);
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
  const variants = [['v2 where possible', undefined], ['v1 everywhere', 1 as const]] as const;
  it.each(variants)('10 steps with per-slot settings and clipping match the float64 reference (%s)', async (_, force) => {
    const steps = 10;
    const gpu = await runGpu(steps, force);
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

  it('repeats bit for bit', async () => {
    const a = await runGpu(3);
    const b = await runGpu(3);
    sizes.forEach((_, k) => expect(Buffer.from(a.params[k].buffer).equals(Buffer.from(b.params[k].buffer))).toBe(true));
    expect(Buffer.from(a.hyper.buffer).equals(Buffer.from(b.hyper.buffer))).toBe(true);
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
