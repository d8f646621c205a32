/**
 * Fused attention's forward dispatch, and its two backward dispatches together, at the default model's shape
 * (B 32, S 64, 2 heads of 32, dropout 0.1) on the adapter's default variant: ms, and GFLOP/s of the matmul work they
 * replace (forward: 2 products of 2·S²·d per head; backward: 4).
 * Run: npx vite-node kernels/attention/attention.bench.ts
 */
import { medianMs } from '../../bench/probes/probes.js';
import { createDevice } from '../../src/gpu/device.js';
import { keepBitsWords, launchAttention, launchAttentionBackward, paddedSequences, type AttentionDims } from './attention.js';

const device = await createDevice();
console.log(`${device.info.description} ${device.info.device}`);
const dims: AttentionDims = { slots: 1, batch: 32, seq: 64, heads: 2, headSize: 32 };
const { slots, batch, seq, heads, headSize } = dims;
const values = slots * batch * seq * heads * headSize;
const rows = slots * batch * heads * seq;
const buffer = (n: number, what: string, fill = 0.5) => {
  const b = device.allocate(n * 4, what);
  device.write(b, new Float32Array(n).fill(fill));
  return b;
};
const [q, k, v, context, gradContext, gradQuery, gradKey, gradValue] = ['q', 'k', 'v', 'context', 'dcontext', 'dq', 'dk', 'dv'].map((w) => buffer(values, w));
const maskBias = buffer(slots * batch * seq, 'mask', 0);
const stats = buffer(2 * rows, 'stats', 1);
const delta = buffer(rows, 'delta');
const keepBits = buffer(keepBitsWords(dims), 'keep bits');
const seeds = device.allocate(4 * slots, 'seeds');
device.write(seeds, new Uint32Array(slots).fill(7));
const probabilities = buffer(slots, 'p', 0.1);
const callBase = device.allocate(8 * slots, 'call base');
device.write(callBase, new Uint32Array(2 * slots));
const sequences = device.allocate(8 * slots * batch, 'sequences');
device.write(sequences, paddedSequences(slots, batch, seq));
const common = { dims, q, k, v, maskBias, sequences, scale: 1 / 8, dropout: { seeds, probabilities, callBase, callOffset: 3 } };
const flops = 2 * 2 * seq * seq * headSize * batch * heads * slots; // two S×S×d products
for (const [what, run, products] of [
  ['forward', () => launchAttention(device, { ...common, context, stats }), 1],
  ['backward', () => launchAttentionBackward(device, { ...common, context, gradContext, stats, delta, keepBits, gradQuery, gradKey, gradValue }), 2],
] as const) {
  const ms = await medianMs(async () => {
    run();
    await device.sync();
  }, 7);
  console.log(`${what}: ${ms.toFixed(2)} ms, ${((products * flops) / (ms * 1e6)).toFixed(2)} GFLOP/s`);
}
device.destroy();
