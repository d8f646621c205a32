/**
 * Embedding forward and backward (v1 scalar vs v2 vec4 along hidden) next to the copy probe, in one process.
 * Bytes: forward 2 × tokens × hidden × 4; backward (vocab + tokens) × hidden × 4 (read dout, write dtable).
 * Id patterns: all distinct (the link scan's shortest path) and a 2000-id vocabulary cycled (gaps of 2000).
 * Run: npx vite-node kernels/embedding/embedding.bench.ts
 */
import { measureCopyCeiling, medianMs } from '../../bench/probes/probes.js';
import { createDevice } from '../../src/gpu/device.js';
import { randomArray } from '../../test/helpers/random.js';
import { launchEmbeddingBackward, launchEmbeddingForward } from './embedding.js';

const device = await createDevice();
const copy = await measureCopyCeiling(device);
console.log(`${device.info.description} ${device.info.device}: copy probe ${copy.gbps.toFixed(2)} GB/s`);
const [vocab, hidden] = [30522, 128];
const show = (name: string, bytes: number, ms: number) => `${name} ${ms.toFixed(2)} ms ${(bytes / (ms * 1e6)).toFixed(2)} GB/s`;
for (const tokens of [4096, 16384]) {
  for (const pattern of ['distinct', 'cycled 2000'] as const) {
    const ids = Int32Array.from({ length: tokens }, (_, i) => (pattern === 'distinct' ? i : (i * 7919) % 2000));
    const idBuffer = device.allocate(tokens * 4, 'ids');
    device.write(idBuffer, ids);
    const table = device.allocate(vocab * hidden * 4, 'table');
    const out = device.allocate(tokens * hidden * 4, 'out');
    const gradOut = device.allocate(tokens * hidden * 4, 'gradOut');
    device.write(gradOut, randomArray(tokens * hidden, 1));
    const gradTable = device.allocate(vocab * hidden * 4, 'gradTable');
    const line = [`tokens ${tokens} ${pattern}`];
    for (const width of [1, 4] as const) {
      const shape = { slots: 1, vocab, hidden, rowsPerSlot: tokens, forceVectorWidth: width };
      const forward = await medianMs(async () => {
        launchEmbeddingForward(device, table, idBuffer, out, shape);
        await device.sync();
      }, 5);
      const backward = await medianMs(async () => {
        launchEmbeddingBackward(device, idBuffer, gradOut, gradTable, shape);
        await device.sync();
      }, 5);
      const v = `v${width === 4 ? 2 : 1}`;
      line.push(show(`forward ${v}`, 2 * tokens * hidden * 4, forward), show(`backward ${v}`, (vocab + tokens) * hidden * 4, backward));
    }
    console.log(line.join('  '));
    for (const buffer of [idBuffer, table, out, gradOut, gradTable]) device.release(buffer);
  }
}
device.destroy();
