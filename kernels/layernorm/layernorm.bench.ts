/**
 * Layernorm GB/s per variant as a share of the copy probe. This VM is shared and drifts a lot within a run, so each
 * sample times the copy probe (same bytes) and every variant back to back, and the reported share is the median
 * over samples of (variant GB/s / copy GB/s) from the same sample.
 * Bytes counted: forward 2 × rows × hidden × 4 (read x, write y); backward dx 3 × rows × hidden × 4 (read x, dy;
 * write dx); "dx+dw+db" counts the same bytes. v2 `subgroup` and v3 `subgroup4`, which never shipped, are timed from
 * bench/experiments/layernorm. Run: npx vite-node kernels/layernorm/layernorm.bench.ts
 */
import { launchCopyProbe, median } from '../../bench/probes/probes.js';
import { createDevice } from '../../src/gpu/device.js';
import { randomArray } from '../../test/helpers/random.js';
import {
  launchLayerNormBackwardExperiment,
  launchLayerNormExperiment,
  type ExperimentalLayerNormVariant,
} from '../../bench/experiments/layernorm/subgroup.js';
import { launchLayerNorm, launchLayerNormBackward } from './layernorm.js';
import type { LayerNormVariant } from './layernorm.wgsl.js';

const SAMPLES = 9;
const isShipped = (variant: LayerNormVariant | ExperimentalLayerNormVariant): variant is LayerNormVariant =>
  variant === 'row' || variant === 'registers';
const RUNS = 4;
const device = await createDevice();
console.log(`${device.info.description} ${device.info.device}`);

async function time(record: () => void): Promise<number> {
  const start = performance.now();
  for (let r = 0; r < RUNS; r++) record();
  await device.sync();
  return (performance.now() - start) / RUNS;
}

// [slots, rowsPerSlot, hidden]: BERT-base-like and small-BERT-like activations.
const shapes: [number, number, number][] = [[1, 4096, 768], [4, 1024, 256], [1, 8192, 128], [2, 1000, 36]];
for (const [slots, perSlot, hidden] of shapes) {
  const rows = slots * perSlot;
  const count = rows * hidden;
  const [x, y, dx, dy, copyTarget] = ['x', 'y', 'dx', 'dy', 'copy'].map((what) => device.allocate(count * 4, what));
  const [w, b, dw, db] = ['w', 'b', 'dw', 'db'].map((what) => device.allocate(slots * hidden * 4, what));
  const [mean, rstd] = ['mean', 'rstd'].map((what) => device.allocate(rows * 4, what));
  device.write(x, randomArray(count, 1, -4, 4));
  device.write(dy, randomArray(count, 2));
  device.write(w, randomArray(slots * hidden, 3));
  device.write(b, randomArray(slots * hidden, 4));
  const shares = new Map<string, number[]>();
  const ms = new Map<string, number[]>();
  const note = (key: string, millis: number, share: number) => {
    (ms.get(key) ?? ms.set(key, []).get(key)!).push(millis);
    (shares.get(key) ?? shares.set(key, []).get(key)!).push(share);
  };
  for (let sample = -1; sample < SAMPLES; sample++) {
    const copyMs = await time(() => launchCopyProbe(device, x, copyTarget, Math.floor((count * 4) / 16) * 16));
    const copyGbps = (2 * count * 4) / (copyMs * 1e6);
    for (const variant of ['row', 'subgroup', 'subgroup4', 'registers'] as const) {
      const forward = await time(() =>
        isShipped(variant)
          ? launchLayerNorm(device, x, w, b, y, mean, rstd, rows, hidden, slots, 1e-12, variant)
          : launchLayerNormExperiment(device, x, w, b, y, mean, rstd, rows, hidden, slots, 1e-12, variant),
      );
      const backward = (dw: GPUBuffer | null, db: GPUBuffer | null) =>
        isShipped(variant)
          ? launchLayerNormBackward(device, x, w, mean, rstd, dy, dx, dw, db, rows, hidden, slots, variant)
          : launchLayerNormBackwardExperiment(device, x, w, mean, rstd, dy, dx, dw, db, rows, hidden, slots, variant);
      const backwardDx = await time(() => backward(null, null));
      const backwardAll = await time(() => backward(dw, db));
      if (sample < 0) continue;
      note(`${variant} forward`, forward, (2 * count * 4) / (forward * 1e6) / copyGbps);
      if (variant !== 'subgroup4') note(`${variant} backward dx`, backwardDx, (3 * count * 4) / (backwardDx * 1e6) / copyGbps);
      note(`${variant} dx+dw+db`, backwardAll, (3 * count * 4) / (backwardAll * 1e6) / copyGbps);
    }
    if (sample >= 0) note('copy', copyMs, 1);
  }
  const copyMs = median(ms.get('copy')!);
  console.log(`[${slots}, ${perSlot}, ${hidden}] copy probe ${((2 * count * 4) / (copyMs * 1e6)).toFixed(2)} GB/s (median)`);
  for (const [key, values] of shares) {
    if (key === 'copy') continue;
    console.log(`  ${key.padEnd(22)} ${median(ms.get(key)!).toFixed(2)} ms  ${(100 * median(values)).toFixed(0)}% of copy`);
  }
  for (const buffer of [x, y, dx, dy, copyTarget, w, b, dw, db, mean, rstd]) device.release(buffer);
}
device.destroy();
