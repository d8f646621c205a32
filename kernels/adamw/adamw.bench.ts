/**
 * AdamW (v1 scalar vs v2 vec4) and global-norm clipping GB/s next to the copy probe, in one process (this VM drifts
 * ±15% between runs). Bytes: AdamW 7 × values × 4 (read p, g, m, v; write p, m, v); clipping 1 × values × 4.
 * Run: npx vite-node kernels/adamw/adamw.bench.ts
 */
import { measureCopyCeiling, medianMs } from '../../bench/probes/probes.js';
import { createDevice } from '../../src/gpu/device.js';
import { randomArray } from '../../test/helpers/random.js';
import { launchAdamW, launchGradNormClip, packAdamWHyperparameters } from './adamw.js';

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
device.destroy();
