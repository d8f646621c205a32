/**
 * Dropout GB/s (2 × values × 4 bytes) next to the copy probe; Philox's 10 rounds are paid once per 4 values.
 * Run: npx vite-node kernels/dropout/dropout.bench.ts
 */
import { measureCopyCeiling, medianMs } from '../../bench/probes/probes.js';
import { createDevice } from '../../src/gpu/device.js';
import { launchDropout } from './dropout.js';

const device = await createDevice();
const copy = await measureCopyCeiling(device);
console.log(`${device.info.description} ${device.info.device}: copy probe ${copy.gbps.toFixed(2)} GB/s`);
for (const [slots, perSlot] of [[1, 1 << 22], [8, 1 << 19]]) {
  const count = slots * perSlot;
  const [input, output] = [device.allocate(count * 4, 'in'), device.allocate(count * 4, 'out')];
  const seeds = device.allocate(slots * 4, 'seeds');
  const probabilities = device.allocate(slots * 4, 'p');
  const callBase = device.allocate(8 * slots, 'call base');
  device.write(callBase, new Uint32Array(2 * slots));
  device.write(seeds, Uint32Array.from({ length: slots }, (_, t) => 1000 + t));
  device.write(probabilities, new Float32Array(slots).fill(0.1));
  const ms = await medianMs(async () => {
    launchDropout(device, { input, output, seeds, probabilities, slots, slotShape: [perSlot / 256, 256], callBase, callOffset: 3 });
    await device.sync();
  }, 5);
  const gbps = (2 * count * 4) / (ms * 1e6);
  console.log(`[${slots}, ${perSlot}]: ${ms.toFixed(2)} ms ${gbps.toFixed(2)} GB/s (${((100 * gbps) / copy.gbps).toFixed(0)}% of copy)`);
  for (const buffer of [input, output, seeds, probabilities, callBase]) device.release(buffer);
}
device.destroy();
