/**
 * Permute GB/s (2 × values × 4 bytes) next to the copy probe: the attention head split (v2, vec4 along the head
 * dimension), the same with an odd head dimension (v1), and a last-two-axes transpose (v1).
 * Run: npx vite-node kernels/permute/permute.bench.ts
 */
import { measureCopyCeiling, medianMs } from '../../bench/probes/probes.js';
import { createDevice } from '../../src/gpu/device.js';
import { launchPermute } from './permute.js';

const device = await createDevice();
const copy = await measureCopyCeiling(device);
console.log(`${device.info.description} ${device.info.device}: copy probe ${copy.gbps.toFixed(2)} GB/s`);
const cases: [number[], number[]][] = [
  [[2, 32, 128, 4, 64], [0, 1, 3, 2, 4]],
  [[2, 32, 128, 4, 63], [0, 1, 3, 2, 4]],
  [[2, 512, 1024], [0, 2, 1]],
];
for (const [shape, axes] of cases) {
  const count = shape.reduce((p, d) => p * d, 1);
  const [input, output] = [device.allocate(count * 4, 'in'), device.allocate(count * 4, 'out')];
  const ms = await medianMs(async () => {
    launchPermute(device, input, output, shape, axes);
    await device.sync();
  }, 5);
  const gbps = (2 * count * 4) / (ms * 1e6);
  console.log(`[${shape}] by [${axes}]: ${ms.toFixed(2)} ms ${gbps.toFixed(2)} GB/s (${((100 * gbps) / copy.gbps).toFixed(0)}% of copy)`);
  device.release(input);
  device.release(output);
}
device.destroy();
