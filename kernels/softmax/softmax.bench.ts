/**
 * Softmax GB/s per variant as a share of the copy probe. This VM is shared and drifts a lot within a run, so each
 * sample times the copy probe (same bytes) and every variant back to back, and the reported share is the median
 * over samples of (variant GB/s / copy GB/s) from the same sample.
 * Bytes counted: forward 2 × rows × cols × 4 (read x, write y); backward 3 × rows × cols × 4 (read y, dy; write dx).
 * v3 `subgroup`, which never shipped, is timed from bench/experiments/softmax.
 * Run: npx vite-node kernels/softmax/softmax.bench.ts
 */
import { launchCopyProbe, median } from '../../bench/probes/probes.js';
import { createDevice } from '../../src/gpu/device.js';
import { randomArray } from '../../test/helpers/random.js';
import { launchSoftmaxBackwardSubgroup, launchSoftmaxSubgroup } from '../../bench/experiments/softmax/subgroup.js';
import { launchSoftmax, launchSoftmaxBackward } from './softmax.js';
import type { SoftmaxVariant } from './softmax.wgsl.js';

const SAMPLES = 9;
const RUNS = 4; // Dispatches per timed sample.
const device = await createDevice();
console.log(`${device.info.description} ${device.info.device}`);

async function time(record: () => void): Promise<number> {
  const start = performance.now();
  for (let r = 0; r < RUNS; r++) record();
  await device.sync();
  return (performance.now() - start) / RUNS;
}

const shapes: [number, number][] = [[4096, 512], [8192, 128], [1024, 1000], [256, 4096], [65536, 2]];
for (const [rows, cols] of shapes) {
  const count = rows * cols;
  const [x, y, dx, copyTarget] = ['x', 'y', 'dx', 'copy'].map((what) => device.allocate(count * 4, what));
  device.write(x, randomArray(count, 1, -4, 4));
  const variants: (SoftmaxVariant | 'subgroup')[] = cols >= 4096 ? ['row', 'subgroup', 'workgroup'] : ['row', 'subgroup', 'registers'];
  const shares = new Map<string, number[]>();
  const ms = new Map<string, number[]>();
  const note = (key: string, millis: number, share: number) => {
    (ms.get(key) ?? ms.set(key, []).get(key)!).push(millis);
    (shares.get(key) ?? shares.set(key, []).get(key)!).push(share);
  };
  for (let sample = -1; sample < SAMPLES; sample++) {
    const copyMs = await time(() => launchCopyProbe(device, x, copyTarget, Math.floor((count * 4) / 16) * 16));
    const copyGbps = (2 * count * 4) / (copyMs * 1e6);
    for (const variant of variants) {
      const forward = await time(() =>
        variant === 'subgroup' ? launchSoftmaxSubgroup(device, x, y, rows, cols) : launchSoftmax(device, x, y, rows, cols, variant),
      );
      const backward = await time(() =>
        variant === 'subgroup'
          ? launchSoftmaxBackwardSubgroup(device, y, x, dx, rows, cols)
          : launchSoftmaxBackward(device, y, x, dx, rows, cols, variant),
      );
      if (sample < 0) continue; // Warm-up: compiles.
      note(`${variant} forward`, forward, (2 * count * 4) / (forward * 1e6) / copyGbps);
      note(`${variant} backward`, backward, (3 * count * 4) / (backward * 1e6) / copyGbps);
    }
    if (sample >= 0) note('copy', copyMs, 1);
  }
  const copyMs = median(ms.get('copy')!);
  console.log(`[${rows}, ${cols}] copy probe ${((2 * count * 4) / (copyMs * 1e6)).toFixed(2)} GB/s (median)`);
  for (const [key, values] of shares) {
    if (key === 'copy') continue;
    console.log(`  ${key.padEnd(20)} ${median(ms.get(key)!).toFixed(2)} ms  ${(100 * median(values)).toFixed(0)}% of copy`);
  }
  for (const b of [x, y, dx, copyTarget]) device.release(b);
}
device.destroy();
