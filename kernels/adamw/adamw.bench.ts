/**
 * AdamW (v1 scalar vs v2 vec4) and global-norm clipping GB/s next to the copy probe, in one process (this VM drifts
 * ±15% between runs). Bytes: AdamW 7 × values × 4 (read p, g, m, v; write p, m, v); clipping 1 × values × 4.
 * Then the optimizer step of the default `bench train` model (its 40 parameter tensors, one slot): clipping + AdamW
 * per tensor (clip v1, adamw v1/v2) against the multi-tensor launchers (clip v2, adamw v4, its m and v in moments
 * chunks): dispatches, the CPU time to record them and the time with the GPU's work.
 * Run: npx vite-node kernels/adamw/adamw.bench.ts
 */
import { parameterSpecs } from '../../bench/peers/train-model-spec.js';
import { measureCopyCeiling, medianMs } from '../../bench/probes/probes.js';
import { createDevice } from '../../src/gpu/device.js';
import { randomArray } from '../../test/helpers/random.js';
import {
  launchAdamW,
  launchAdamWMultiTensor,
  launchGradNormClip,
  launchGradNormClipMultiTensor,
  packAdamWHyperparameters,
  planMomentsArena,
} from './adamw.js';

const device = await createDevice();
const copy = await measureCopyCeiling(device);
console.log(`${device.info.description} ${device.info.device}: copy probe ${copy.gbps.toFixed(2)} GB/s`);
// [slots, values per slot]: one BERT-small-sized buffer, the same split over 8 fused trials, an odd size.
const shapes: [number, number][] = [[1, 1 << 22], [8, 1 << 19], [4, 100003]];
const show = (name: string, bytes: number, ms: number) =>
  `${name} ${ms.toFixed(2)} ms ${(bytes / (ms * 1e6)).toFixed(2)} GB/s (${((100 * bytes) / (ms * 1e6) / copy.gbps).toFixed(0)}% of copy)`;
for (const [slots, perSlot] of shapes) {
  const count = slots * perSlot;
  const [param, grad, m, v] = ['param', 'grad', 'm', 'v'].map((what, k) => {
    const buffer = device.allocate(count * 4, what);
    device.write(buffer, randomArray(count, k + 1, 0, 1));
    return buffer;
  });
  const settings = Array.from({ length: slots }, (_, t) => ({
    lr: 1e-3 * 2 ** -t, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1,
  }));
  const hyper = device.allocate(10 * slots * 4, 'hyper');
  device.write(hyper, packAdamWHyperparameters(settings, settings.map(() => 10)));
  const line = [`[${slots}, ${perSlot}]`];
  for (const width of perSlot % 4 === 0 ? ([1, 4] as const) : ([1] as const)) {
    const ms = await medianMs(async () => {
      launchAdamW(device, { param, grad, m, v, hyper, slots, elementsPerSlot: perSlot, weightDecay: true, forceVectorWidth: width });
      await device.sync();
    }, 5);
    line.push(show(`adamw v${width === 4 ? 2 : 1}`, 7 * count * 4, ms));
  }
  const clip = await medianMs(async () => {
    launchGradNormClip(device, [{ buffer: grad, elementsPerSlot: perSlot }], hyper, slots);
    await device.sync();
  }, 5);
  line.push(show('clip', count * 4, clip));
  console.log(line.join('  '));
  for (const buffer of [param, grad, m, v, hyper]) device.release(buffer);
}

// The default model's optimizer step, per tensor vs multi-tensor.
const tensors = parameterSpecs().map((spec, k) => {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const [param, grad, m, v] = ['param', 'grad', 'm', 'v'].map((what, j) => {
    const buffer = device.allocate(n * 4, what);
    device.write(buffer, randomArray(n, 100 * k + j, -0.1, 0.1));
    return buffer;
  });
  return { param, grad, m, v, elementsPerSlot: n, weightDecay: spec.decay };
});
// adamw v4's moments: the same starting m and v, copied into their ranges of the chunks (one for this model).
const arena = planMomentsArena(
  tensors.map((t) => t.elementsPerSlot),
  Math.floor(Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize) / 4),
);
const chunks = arena.chunkFloats.map((floats) => device.allocate(Math.max(floats, 4) * 4, 'moments'));
tensors.forEach((t, k) => {
  const at = arena.tensors[k];
  device.copy(t.m, 0, chunks[at.mChunk], at.mOffset * 4, t.elementsPerSlot * 4);
  device.copy(t.v, 0, chunks[at.vChunk], at.vOffset * 4, t.elementsPerSlot * 4);
});
const arenaTensors = tensors.map((t, k) => ({ ...t, ...arena.tensors[k] }));
const hyper = device.allocate(10 * 4, 'hyper');
device.write(hyper, packAdamWHyperparameters([{ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 }], [10]));
const grads = tensors.map((t) => ({ buffer: t.grad, elementsPerSlot: t.elementsPerSlot }));
const steps = {
  'per tensor': () => {
    launchGradNormClip(device, grads, hyper, 1);
    for (const t of tensors) launchAdamW(device, { ...t, hyper, slots: 1 });
  },
  'multi-tensor': () => {
    launchGradNormClipMultiTensor(device, grads, hyper, 1);
    launchAdamWMultiTensor(device, { tensors: arenaTensors, hyper, chunks, slots: 1 });
  },
};
console.log(`default model optimizer step (${tensors.length} tensors, one slot):`);
for (let round = 0; round < 2; round++) {
  for (const [name, step] of Object.entries(steps)) {
    const before = device.dispatchCount;
    step();
    await device.sync();
    const dispatches = device.dispatchCount - before;
    const recordUs: number[] = [];
    const ms = await medianMs(async () => {
      const start = performance.now();
      step();
      recordUs.push((performance.now() - start) * 1000);
      await device.sync();
    }, 9);
    recordUs.sort((a, b) => a - b);
    const record = recordUs[recordUs.length >> 1];
    console.log(`  ${name}: ${dispatches} dispatches, recording ${record.toFixed(0)} µs of CPU, ${ms.toFixed(2)} ms with the GPU's work`);
  }
}
for (const t of tensors) for (const buffer of [t.param, t.grad, t.m, t.v]) device.release(buffer);
for (const chunk of chunks) device.release(chunk);
device.release(hyper);
device.destroy();
