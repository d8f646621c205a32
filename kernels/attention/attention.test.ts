/**
 * Fused attention (forward, and the gradients of q, k, v from the two backward dispatches) against the float64
 * reference, with and without dropout, with padding, for odd and multi-tile sequence lengths, odd head sizes,
 * several slots and the default model's d = 64; the dropout mask element for element against kernels/dropout's
 * reference; keys and query rows after a sequence's last unmasked key are never visited (NaN there changes no bit,
 * and those rows' context and gradients are 0); the op's gradients against finite differences; unsupported shapes.
 *
 * Tolerance: compare.ts's measure (|error| / (|expected| + 1% of the expected RMS)) below 3e-4 for the forward and
 * 1e-3 for the gradients (the registry gradcheck's gradient bound, test/tensor/ops-gradcheck.test.ts). The GPU sums
 * in float32 over up to 128 keys of 64-term dot products, rescales the running sum per key tile and takes exp:
 * absolute errors of a few 1e-7 on outputs of order 1, which the 1%-of-RMS floor turns into up to ~1e-4 on outputs
 * near 0. Measured on lavapipe (printed at the end): forward worst 6.7e-5 and gradients worst 1.2e-4, both at
 * d = 64 with S = 64 or 128; 1e-6 to 5e-5 for the small shapes. A wrong mask bit or a missing term moves an output by
 * about a probability times a value (≥ 1/S of the output's scale), two orders above the bounds.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { backward } from '../../src/tensor/autograd.js';
import { tensor } from '../../src/tensor/create.js';
import { ShapeError } from '../../src/gpu/errors.js';
import { attention } from '../../src/tensor/ops/attention.js';
import { tidy } from '../../src/tensor/scope.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { expectClose, maxRelativeError } from '../../test/helpers/compare.js';
import { checkForwardAndGradients } from '../../test/helpers/gradcheck.js';
import { useDevice } from '../../test/helpers/gpu.js';
import { randomArray } from '../../test/helpers/random.js';
import { dropoutMaskReference } from '../dropout/reference.js';
import { attentionUnsupported, type AttentionDims, type AttentionVariant } from './attention.js';
import { attentionBackwardReference, attentionReference, type AttentionReferenceDropout } from './reference.js';

const device = useDevice();

interface Case {
  dims: AttentionDims;
  /** Tokens of each of the T·B sequences (the rest is padding); default all S. */
  lengths?: number[];
  dropout?: { seeds: number[]; probabilities: number[]; base: [number, number]; offset: number };
  /** Default: the adapter's (broadcast on lavapipe). */
  variant?: AttentionVariant;
  /** The packed layout: (T, B, 2) first row and rows owned per sequence, and rows per slot. Default: padded. */
  packed?: { sequences: Int32Array; rowsPerSlot: number };
}

/** (T, B, S) mask bias: 0 for tokens, -1e9 for padding. */
function maskBiasOf({ slots, batch, seq }: AttentionDims, lengths?: number[]): Float32Array {
  return Float32Array.from({ length: slots * batch * seq }, (_, n) => (n % seq < (lengths?.[Math.floor(n / seq)] ?? seq) ? 0 : -1e9));
}

const measured: string[] = [];
afterAll(() => console.log(`attention errors (forward; dq, dk, dv):\n${measured.join('\n')}`));

/** Runs the op forward and backward (gradient `gradContext`) on the GPU: context, dq, dk, dv. */
async function runGpu(c: Case, inputs: Float32Array[], gradContext: Float32Array): Promise<Float32Array[]> {
  const d = device();
  const { slots, batch, seq, heads, headSize } = c.dims;
  const shape = [slots, c.packed?.rowsPerSlot ?? batch * seq, heads * headSize];
  const [q, k, v] = inputs.slice(0, 3).map((data) => tensor(d, data, shape, { requiresGrad: true }));
  const mask = tensor(d, inputs[3], [slots, batch, 1, 1, seq]);
  const extra: Tensor[] = [];
  const sequences = c.packed && tensor(d, c.packed.sequences, [slots, batch, 2]);
  if (sequences) extra.push(sequences);
  const packing = c.packed && { sequences: sequences!, rowsPerSlot: c.packed.rowsPerSlot };
  let dropout = null;
  if (c.dropout) {
    const { seeds, probabilities, base, offset } = c.dropout;
    const s = tensor(d, Int32Array.from(seeds), [slots]);
    const p = tensor(d, Float32Array.from(probabilities), [slots]);
    const callBase = tensor(d, Int32Array.from({ length: 2 * slots }, (_, i) => base[i % 2]), [slots, 2]);
    extra.push(s, p, callBase);
    dropout = { seeds: s, probabilities: p, callBase, callIndex: offset };
  }
  const context = tidy(() => {
    const out = attention(q, k, v, mask, { slots, batch, seq, heads, dropout, variant: c.variant, ...packing });
    backward(out, { gradient: tensor(d, gradContext, shape) });
    return out;
  });
  const results = await Promise.all([context, q.grad!, k.grad!, v.grad!].map(async (t) => (await t.toArray()) as Float32Array));
  for (const t of [context, q, k, v, mask, ...extra]) t.release();
  return results;
}

function referenceDropout(c: Case): AttentionReferenceDropout | null {
  if (!c.dropout) return null;
  const { seeds, probabilities, base, offset } = c.dropout;
  return { seeds, probabilities, callIndex: base[0] + base[1] * 2 ** 32 + offset };
}

const cases: [string, Case][] = [
  ['one head, no padding, no dropout', { dims: { slots: 1, batch: 1, seq: 5, heads: 1, headSize: 4 } }],
  ['odd S and d, padding, 2 slots', { dims: { slots: 2, batch: 2, seq: 7, heads: 3, headSize: 5 }, lengths: [7, 4, 2, 6] }],
  [
    'odd S and d, padding, dropout per slot',
    {
      dims: { slots: 2, batch: 2, seq: 7, heads: 3, headSize: 5 },
      lengths: [7, 4, 2, 6],
      dropout: { seeds: [11, -3], probabilities: [0.3, 0.6], base: [4096 * 5, 0], offset: 3 },
    },
  ],
  [
    'S 37 (two key tiles), dropout with a carry into the call\'s high word',
    {
      dims: { slots: 1, batch: 2, seq: 37, heads: 2, headSize: 8 },
      lengths: [37, 20],
      dropout: { seeds: [7], probabilities: [0.25], base: [2 ** 32 - 2, 1], offset: 5 },
    },
  ],
  [
    'S 70 (two row blocks, three key tiles), 2 slots, dropout p 0 and 1',
    {
      dims: { slots: 2, batch: 1, seq: 70, heads: 2, headSize: 16 },
      lengths: [70, 33],
      dropout: { seeds: [1, 2], probabilities: [0, 1], base: [0, 0], offset: 9 },
    },
  ],
  [
    'the default model\'s head: S 64, d 64, padding, dropout 0.1',
    {
      dims: { slots: 1, batch: 2, seq: 64, heads: 2, headSize: 64 },
      lengths: [48, 64],
      dropout: { seeds: [42], probabilities: [0.1], base: [4096 * 3, 0], offset: 1 },
    },
  ],
  ['S 128, d 64, padding, no dropout', { dims: { slots: 1, batch: 1, seq: 128, heads: 1, headSize: 64 }, lengths: [100] }],
];
// The workgroup-memory variant too, on the shapes that matter most: lavapipe defaults to broadcast (which needs its
// 8-lane subgroups), hardware adapters to shared.
const variantCases = (variant: AttentionVariant): [string, Case][] =>
  cases.filter((_, n) => [2, 4, 5].includes(n)).map(([what, c]) => [`${what}, ${variant} variant`, { ...c, variant }]);

describe('fused attention', () => {
  it.each([...cases, ...variantCases('shared')])('forward and dq, dk, dv match the float64 reference: %s', async (what, c) => {
    const { slots, batch, seq, heads, headSize } = c.dims;
    const count = slots * batch * seq * heads * headSize;
    const inputs = [
      randomArray(count, 1, -2, 2),
      randomArray(count, 2, -2, 2),
      randomArray(count, 3, -1, 1),
      maskBiasOf(c.dims, c.lengths),
    ];
    const gradContext = randomArray(count, 4, -1, 1);
    const [context, dq, dk, dv] = await runGpu(c, inputs, gradContext);
    const scale = Math.fround(1 / Math.sqrt(headSize));
    const dropout = referenceDropout(c);
    const expected = attentionReference(inputs[0], inputs[1], inputs[2], inputs[3], c.dims, scale, dropout);
    const grads = attentionBackwardReference(inputs[0], inputs[1], inputs[2], inputs[3], gradContext, c.dims, scale, dropout);
    const pairs = [['dq', dq, grads.q], ['dk', dk, grads.k], ['dv', dv, grads.v]] as const;
    // p = 1 drops everything: those gradients are exactly 0, judged against an absolute floor.
    const errors = pairs.map(([, gpu, ref]) => maxRelativeError(gpu, ref, 1e-6).toExponential(1));
    measured.push(`  ${what}: ${maxRelativeError(context, expected).toExponential(1)}; ${errors.join(', ')}`);
    expectClose(context, expected, 3e-4, 'context');
    for (const [name, gpu, ref] of pairs) expectClose(gpu, ref, 1e-3, name, 1e-6);
  });

  it('draws the dropout mask of kernels/dropout on (T, B, heads, S, S), element for element', async () => {
    // k = 0 makes every probability 1/S; v_j of each head is the unit vector e_j; so context_ij = factor_ij / S.
    const dims = { slots: 2, batch: 2, seq: 8, heads: 2, headSize: 8 };
    const { slots, batch, seq, heads, headSize } = dims;
    const hidden = heads * headSize;
    const count = slots * batch * seq * hidden;
    const v = Float32Array.from({ length: count }, (_, n) => (n % headSize === Math.floor(n / hidden) % seq ? 1 : 0));
    const c: Case = { dims, dropout: { seeds: [5, 6], probabilities: [0.5, 0.3], base: [123, 0], offset: 4 } };
    const [context] = await runGpu(c, [randomArray(count, 8), new Float32Array(count), v, maskBiasOf(dims)], new Float32Array(count));
    const keep = dropoutMaskReference([5, 6], [0.5, 0.3], [batch, heads, seq, seq], 127);
    for (let t = 0; t < slots; t++) {
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < heads; h++) {
          for (let i = 0; i < seq; i++) {
            for (let j = 0; j < seq; j++) {
              const kept = context[((t * batch + b) * seq + i) * hidden + h * headSize + j] !== 0;
              expect(kept, `slot ${t} sequence ${b} head ${h} (${i}, ${j})`).toBe(keep[(((t * batch + b) * heads + h) * seq + i) * seq + j] === 1);
            }
          }
        }
      }
    }
  });

  it.each(['broadcast', 'shared'] as const)('visits no key or query row after a sequence\'s last unmasked key (%s variant): NaN there changes no bit, padding rows get 0', async (variant) => {
    // Right padding, a sequence with padding in the middle (its keys up to the last token are visited), a full one.
    const dims = { slots: 2, batch: 2, seq: 12, heads: 2, headSize: 4 };
    const { slots, batch, seq, heads, headSize } = dims;
    const hidden = heads * headSize;
    const count = slots * batch * seq * hidden;
    const lengths = [5, 12, 9, 1];
    const mask = maskBiasOf(dims, lengths);
    mask[1 * seq + 3] = -1e9; // sequence 1: key 3 masked in the middle, visited all the same
    const [q, k, v, gradContext] = [randomArray(count, 31), randomArray(count, 32), randomArray(count, 33), randomArray(count, 34)];
    const padding = (n: number) => Math.floor(n / hidden) % seq >= lengths[Math.floor(n / (hidden * seq))];
    // Keys, values, queries and the context's gradient of every padding row are NaN.
    const poisoned = [q, k, v, gradContext].map((x) => x.map((value, n) => (padding(n) ? Number.NaN : value)));
    const c: Case = { dims, variant, dropout: { seeds: [3, 9], probabilities: [0.2, 0.4], base: [77, 0], offset: 2 } };
    const clean = await runGpu(c, [q, k, v, mask], gradContext);
    const dirty = await runGpu(c, [poisoned[0], poisoned[1], poisoned[2], mask], poisoned[3]);
    for (const [name, n] of [['context', 0], ['dq', 1], ['dk', 2], ['dv', 3]] as const) {
      expect(dirty[n].every(Number.isFinite), name).toBe(true);
      expect(Buffer.from(dirty[n].buffer).equals(Buffer.from(clean[n].buffer)), name).toBe(true);
      // A padding row attends to nothing and nothing attends to it: all four are +0 there (a block of such rows
      // skips its loop; the sums of the others give +0).
      clean[n].forEach((value, at) => {
        if (padding(at)) expect(Object.is(value, 0), `${name}[${at}]`).toBe(true);
      });
    }
    // And both against the float64 reference (which does visit every key).
    const scale = Math.fround(1 / Math.sqrt(headSize));
    const dropout = referenceDropout(c);
    expectClose(clean[0], attentionReference(q, k, v, mask, dims, scale, dropout), 3e-4, 'context');
    expectClose(clean[1], attentionBackwardReference(q, k, v, mask, gradContext, dims, scale, dropout).q, 1e-3, 'dq', 1e-6);
  });

  it.each(['broadcast', 'shared'] as const)('packed (%s variant): sequences end to end give the padded layout\'s bits, and 0 in each slot\'s tail, whatever is there', async (variant) => {
    // S 20 in row blocks of 24; slot 0 packs 26 rows and slot 1 29 into 64: tails of 38 and 35 rows, past one
    // grid of rows (their rows mod 24 write them). A sequence of 1 token, a full one.
    const dims = { slots: 2, batch: 3, seq: 20, heads: 2, headSize: 8 };
    const { slots, batch, seq, heads, headSize } = dims;
    const hidden = heads * headSize;
    const lengths = [5, 20, 1, 13, 7, 9];
    const rowsPerSlot = 64;
    const sequences = new Int32Array(2 * slots * batch);
    const packedRow: number[] = []; // the padded row each packed row takes, or -1 (a slot's tail)
    for (let t = 0; t < slots; t++) {
      let next = 0;
      for (let b = 0; b < batch; b++) {
        const n = t * batch + b;
        sequences[2 * n] = next;
        sequences[2 * n + 1] = b === batch - 1 ? rowsPerSlot - next : lengths[n];
        for (let s = 0; s < lengths[n]; s++) packedRow.push(n * seq + s);
        next += lengths[n];
      }
      while (packedRow.length < (t + 1) * rowsPerSlot) packedRow.push(-1);
    }
    const count = slots * batch * seq * hidden;
    const [q, k, v, gradContext] = [41, 42, 43, 44].map((seed) => randomArray(count, seed));
    const mask = maskBiasOf(dims, lengths);
    // Packed inputs: each sequence's rows end to end; NaN in every tail row.
    const pack = (x: Float32Array) => {
      const out = new Float32Array(slots * rowsPerSlot * hidden);
      packedRow.forEach((from, to) => out.set(from < 0 ? new Float32Array(hidden).fill(Number.NaN) : x.subarray(from * hidden, (from + 1) * hidden), to * hidden));
      return out;
    };
    const dropout = { seeds: [3, 9], probabilities: [0.2, 0.4], base: [77, 0] as [number, number], offset: 2 };
    const padded = await runGpu({ dims, variant, dropout }, [q, k, v, mask], gradContext);
    const packed = await runGpu({ dims, variant, dropout, packed: { sequences, rowsPerSlot } }, [pack(q), pack(k), pack(v), mask], pack(gradContext));
    for (const [name, n] of [['context', 0], ['dq', 1], ['dk', 2], ['dv', 3]] as const) {
      const expected = pack(padded[n]);
      packedRow.forEach((from, row) => {
        const got = packed[n].subarray(row * hidden, (row + 1) * hidden);
        if (from < 0) expect(got.every((value) => Object.is(value, 0)), `${name}: tail row ${row} is +0`).toBe(true);
        else expect(Buffer.from(got.slice().buffer).equals(Buffer.from(expected.slice(row * hidden, (row + 1) * hidden).buffer)), `${name}: row ${row}`).toBe(true);
      });
    }
  });

  it('gradients match finite differences of the reference (dropout on)', async () => {
    const dims = { slots: 2, batch: 1, seq: 5, heads: 2, headSize: 3 };
    const { slots, batch, seq, heads, headSize } = dims;
    const shape = [slots, batch * seq, heads * headSize];
    const count = slots * batch * seq * heads * headSize;
    const mask = maskBiasOf(dims, [5, 3]);
    const d = device();
    const s = tensor(d, Int32Array.from([3, 4]), [2]);
    const p = tensor(d, Float32Array.from([0.2, 0.4]), [2]);
    await checkForwardAndGradients(d, {
      what: 'attention',
      inputs: [
        { shape, data: randomArray(count, 21, -2, 2) },
        { shape, data: randomArray(count, 22, -2, 2) },
        { shape },
        { shape: [slots, batch, 1, 1, seq], data: mask, differentiable: false },
      ],
      gpu: ([q, k, v, m]) => attention(q, k, v, m, { slots, batch, seq, heads, dropout: { seeds: s, probabilities: p, callIndex: 6 } }),
      reference: ([q, k, v, m]) =>
        attentionReference(q, k, v, m, dims, Math.fround(1 / Math.sqrt(headSize)), { seeds: [3, 4], probabilities: [0.2, 0.4], callIndex: 6 }),
    });
    s.release();
    p.release();
  });

  it('says which shapes it does not take, and the op refuses them', () => {
    const d = device();
    expect(attentionUnsupported(d, { slots: 1, batch: 2, seq: 64, heads: 2, headSize: 64 })).toBeNull();
    expect(attentionUnsupported(d, { slots: 1, batch: 2, seq: 64, heads: 1, headSize: 128 })).toMatch(/head size 128/);
    const x = tensor(d, new Float32Array(2 * 3 * 128), [1, 3, 256]);
    const mask = tensor(d, new Float32Array(3), [1, 3]);
    expect(() => attention(x, x, x, mask, { slots: 1, batch: 1, seq: 3, heads: 2 })).toThrow(/head size 128/);
    expect(() => attention(x, x, x, mask, { slots: 1, batch: 1, seq: 3, heads: 3 })).toThrow(ShapeError);
    expect(() => attention(x, x, x, mask, { slots: 1, batch: 2, seq: 3, heads: 4 })).toThrow(/must be f32/);
    x.release();
    mask.release();
  });
});
