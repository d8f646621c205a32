/**
 * The fused embeddings kernels against the float64 reference (reference.ts) on poisoned outputs: z, y, mean, rstd
 * and the gradients of both tables, weight and bias, for T = 1..3 slots, hidden a multiple of 4 or not, positions
 * periodic (computed from the row) or read from positionIds (any ids, repeated), without dropout, p = 0, p per slot,
 * p = 1, a call index past 2^32; the dropout masks exactly those of kernels/dropout's CPU twin; a bad id giving a
 * NaN row; bit-identical repeats; bad shapes. The op (src/tensor/ops): forward and gradients against float64 finite
 * differences of the reference (gradcheck.ts's defaults, forward 1e-4 and gradient 1e-3, as ops-gradcheck).
 *
 * Tolerances: 1e-4 (compare.ts's measure) for z, y, mean, rstd, the tables' and LN's gradients, as
 * kernels/residual-layernorm's tests: a few float32 roundings on terms of order 1–10, and LN's dx judged against
 * the size of the terms it cancels.
 */
import { describe, expect, it } from 'vitest';
import type { Device } from '../../src/gpu/device.js';
import { ShapeError } from '../../src/gpu/errors.js';
import { tensor } from '../../src/tensor/create.js';
import { embeddingsLayerNorm, embeddingsLayerNormOp } from '../../src/tensor/ops/embeddings-layernorm.js';
import { checkForwardAndGradients } from '../../test/helpers/gradcheck.js';
import { expectClose } from '../../test/helpers/compare.js';
import { useDevice } from '../../test/helpers/gpu.js';
import { randomArray, randomInts } from '../../test/helpers/random.js';
import { slotColumnSums } from '../../test/helpers/slot-column-sums.js';
import { dropoutMaskReference } from '../dropout/reference.js';
import { launchEmbeddingsLayerNorm, launchEmbeddingsLayerNormBackward, type EmbeddingsShape } from './embeddings-layernorm.js';
import { embeddingsLayerNormBackwardReference, embeddingsLayerNormReference, type EmbeddingsReferenceInput } from './reference.js';

const device = useDevice();
const EPS = 1e-5;

interface Case {
  slots: number;
  batch: number;
  seq: number;
  hidden: number;
  vocab: number;
  /** Position table rows (≥ seq). */
  positions: number;
  /** True: positions are row mod seq, computed by the kernels; false: random ids read from positionIds. */
  periodic: boolean;
  /** Per slot; null: no dropout. */
  probabilities: number[] | null;
  callLow?: number;
  callOffset?: number;
  /** Put an out-of-range word id at this row. */
  badRow?: number;
}

/** `weightRows`: the backward writes the rows dy·ẑ (and the masked dy) instead of dweight and dbias, summed here. */
async function run(d: Device, c: Case, seed: number, weightRows = false) {
  const rowsPerSlot = c.batch * c.seq;
  const rows = c.slots * rowsPerSlot;
  const n = rows * c.hidden;
  const words = randomArray(c.slots * c.vocab * c.hidden, seed, -1, 1);
  const positionTable = randomArray(c.slots * c.positions * c.hidden, seed + 1, -1, 1);
  // Few ids, so tokens repeat within a slot: the word gradient sums several rows.
  const inputIds = randomInts(rows, seed + 2, 0, Math.min(c.vocab, 5));
  if (c.badRow !== undefined) inputIds[c.badRow] = c.vocab;
  const positionIds = c.periodic ? Int32Array.from({ length: rows }, (_, r) => r % c.seq) : randomInts(rows, seed + 3, 0, c.positions);
  const weight = randomArray(c.slots * c.hidden, seed + 4, 0.5, 1.5);
  const bias = randomArray(c.slots * c.hidden, seed + 5, -0.5, 0.5);
  const dy = randomArray(n, seed + 6);
  const seeds = Int32Array.from({ length: c.slots }, (_, t) => 7 + 13 * t);
  const callLow = c.callLow ?? 3 * 4096;
  const callOffset = c.callOffset ?? 2;
  const upload = (data: ArrayBufferView & { length: number }) => {
    const buffer = d.allocate(Math.max(data.length, 1) * 4, 'test input');
    d.write(buffer, data);
    return buffer;
  };
  const inputs = [words, positionTable, inputIds, positionIds, weight, bias, dy].map(upload);
  const [wb, pb, ib, pib, weightb, biasb, dyb] = inputs;
  const dropoutInputs = c.probabilities
    ? [upload(seeds), upload(Float32Array.from(c.probabilities)), upload(Uint32Array.from({ length: 2 * c.slots }, (_, i) => (i % 2 ? 0 : callLow)))]
    : [];
  const slotShape = [c.batch, c.seq, c.hidden];
  const dropout = c.probabilities
    ? { seeds: dropoutInputs[0], probabilities: dropoutInputs[1], callBase: dropoutInputs[2], slots: c.slots, slotShape, callOffset }
    : null;
  const shape: EmbeddingsShape = { slots: c.slots, rowsPerSlot, hidden: c.hidden, vocab: c.vocab, positions: c.positions, period: c.periodic ? c.seq : 0 };
  const sizes = [n, n, rows, rows, words.length, positionTable.length, weight.length, bias.length];
  const out = sizes.map((count) => d.allocate(count * 4, 'test output')); // poisoned with NaN
  const [z, y, mean, rstd, dwords, dpositions, dweight, dbias] = out;
  // Periodic launches get no positionIds: the kernels must not need them.
  const ids = c.periodic ? null : pib;
  launchEmbeddingsLayerNorm(d, wb, pb, ib, ids, weightb, biasb, z, y, mean, rstd, shape, EPS, dropout);
  const rowsOut = weightRows ? { dyxhat: d.allocate(n * 4, 'test dyxhat'), maskedDy: dropout ? d.allocate(n * 4, 'test masked dy') : null } : null;
  if (rowsOut) launchEmbeddingsLayerNormBackward(d, ib, ids, z, weightb, mean, rstd, dyb, dwords, dpositions, null, null, shape, dropout, rowsOut);
  else launchEmbeddingsLayerNormBackward(d, ib, ids, z, weightb, mean, rstd, dyb, dwords, dpositions, dweight, dbias, shape, dropout);
  const results = await Promise.all(out.map(async (buffer, k) => new Float32Array(await d.read(buffer, sizes[k] * 4))));
  if (rowsOut) {
    results[6] = slotColumnSums(new Float32Array(await d.read(rowsOut.dyxhat, n * 4)), c.slots, c.hidden);
    results[7] = slotColumnSums(rowsOut.maskedDy ? new Float32Array(await d.read(rowsOut.maskedDy, n * 4)) : dy, c.slots, c.hidden);
    for (const buffer of [rowsOut.dyxhat, rowsOut.maskedDy]) if (buffer) d.release(buffer);
  }
  for (const buffer of [...inputs, ...dropoutInputs, ...out]) d.release(buffer);
  const reference: EmbeddingsReferenceInput = {
    words, positionTable, inputIds, positionIds, weight, bias, slots: c.slots, vocab: c.vocab, positions: c.positions, hidden: c.hidden, eps: EPS,
    dropout: c.probabilities ? { seeds, probabilities: c.probabilities, slotShape, callIndex: callLow + callOffset } : null,
  };
  return { reference, dy, results };
}

function check(c: Case, r: Awaited<ReturnType<typeof run>>): void {
  const [z, y, mean, rstd, dwords, dpositions, dweight, dbias] = r.results;
  const forward = embeddingsLayerNormReference(r.reference);
  const grads = embeddingsLayerNormBackwardReference(r.reference, r.dy);
  expectClose(z, forward.z, 1e-4, 'z');
  expectClose(y, forward.out, 1e-4, 'y');
  expectClose(mean, forward.mean, 1e-4, 'mean');
  expectClose(rstd, forward.rstd, 1e-4, 'rstd');
  // LN's dx cancels terms of size rstd·|dy·weight| (as kernels/residual-layernorm's tests): judged against that.
  const cancelled = Math.max(...forward.rstd.filter(Number.isFinite)) * 1.5 * Math.sqrt(r.dy.reduce((s, v) => s + v * v, 0) / r.dy.length);
  expectClose(dwords, grads.dwords, 1e-4, 'words gradient', 0.01 * cancelled);
  expectClose(dpositions, grads.dpositions, 1e-4, 'positions gradient', 0.01 * cancelled);
  expectClose(dweight, grads.dweight, 1e-4, 'dweight');
  expectClose(dbias, grads.dbias, 1e-4, 'dbias');
  if (r.reference.dropout) {
    // The masks are exactly kernels/dropout's: y is 0 where (and, LN's output being nonzero, only where) it drops.
    const d = r.reference.dropout;
    const keep = dropoutMaskReference(d.seeds, d.probabilities, d.slotShape, d.callIndex);
    const mismatches = [...keep].filter((k, i) => (k === 0) !== (y[i] === 0)).length;
    expect(mismatches, 'dropout decisions differing from kernels/dropout').toBe(0);
    if (c.probabilities!.some((p) => p > 0 && p < 1)) expect([...keep].filter((k) => k === 0).length, 'some values dropped').toBeGreaterThan(0);
  }
}

describe('embeddings layerNorm kernels', () => {
  const cases: [string, Case][] = [
    ['T=3 hidden=36 (vec4), periodic positions, p per slot 0.1, 0.5, 0', { slots: 3, batch: 2, seq: 5, hidden: 36, vocab: 9, positions: 7, periodic: true, probabilities: [0.1, 0.5, 0] }],
    ['T=2 hidden=7 (scalar), periodic positions, p 0.3, 0.6', { slots: 2, batch: 3, seq: 4, hidden: 7, vocab: 6, positions: 4, periodic: true, probabilities: [0.3, 0.6] }],
    ['T=2 hidden=12, positionIds read (random, repeated), p 0.25', { slots: 2, batch: 2, seq: 3, hidden: 12, vocab: 8, positions: 5, periodic: false, probabilities: [0.25, 0.25] }],
    ['T=2 hidden=9, positionIds read, no dropout', { slots: 2, batch: 3, seq: 2, hidden: 9, vocab: 5, positions: 3, periodic: false, probabilities: null }],
    ['T=1 hidden=8, periodic, p = 0 (every value kept)', { slots: 1, batch: 2, seq: 4, hidden: 8, vocab: 5, positions: 6, periodic: true, probabilities: [0] }],
    ['T=2 hidden=12, periodic, p = 1 and 0.5', { slots: 2, batch: 1, seq: 6, hidden: 12, vocab: 7, positions: 6, periodic: true, probabilities: [1, 0.5] }],
    ['T=2 hidden=20, call index past 2^32 (carry into the high word)', { slots: 2, batch: 2, seq: 3, hidden: 20, vocab: 5, positions: 3, periodic: true, probabilities: [0.4, 0.2], callLow: 0xffffffff, callOffset: 5 }],
    ['T=2 hidden=130, 70 rows per slot (past one workgroup), periodic, p 0.1, 0.3', { slots: 2, batch: 2, seq: 35, hidden: 130, vocab: 11, positions: 40, periodic: true, probabilities: [0.1, 0.3] }],
    ['T=3 hidden=36, periodic, no dropout', { slots: 3, batch: 2, seq: 5, hidden: 36, vocab: 9, positions: 5, periodic: true, probabilities: null }],
  ];
  cases.forEach(([what, c], k) => {
    it(what, async () => check(c, await run(device(), c, 10 * k + 1)));
  });
  // The weight gradient's rows dy·ẑ and the masked dy (what the op hands autograd to sum) give the reference's
  // dweight and dbias.
  [0, 1, 2, cases.length - 1].forEach((k) => {
    const [what, c] = cases[k];
    it(`${what}, writing the weight and bias gradients' rows`, async () => check(c, await run(device(), c, 10 * k + 1, true)));
  });

  it('an out-of-range id makes its row NaN (as the embedding gather) and touches no table row', async () => {
    const c: Case = { slots: 2, batch: 2, seq: 3, hidden: 8, vocab: 5, positions: 3, periodic: true, probabilities: null, badRow: 7 };
    const { results } = await run(device(), c, 3);
    const [z, y, , , dwords] = results;
    for (const t of [z, y]) {
      expect(t.slice(7 * 8, 8 * 8).every(Number.isNaN), 'bad row').toBe(true);
      expect(t.slice(0, 7 * 8).every(Number.isFinite), 'other rows').toBe(true);
    }
    expect(dwords.every(Number.isFinite), 'the word table gradient skips the bad id').toBe(true);
  });

  it('repeats bit-identically', async () => {
    const c: Case = { slots: 2, batch: 2, seq: 20, hidden: 36, vocab: 9, positions: 24, periodic: true, probabilities: [0.2, 0.4] };
    const first = await run(device(), c, 5);
    const second = await run(device(), c, 5);
    first.results.forEach((a, k) => expect(Buffer.from(second.results[k].buffer).equals(Buffer.from(a.buffer))).toBe(true));
  });

  it('bad shapes throw ShapeError naming the kernel and the values', () => {
    const d = device();
    const b = d.allocate(256, 'test');
    const s: EmbeddingsShape = { slots: 2, rowsPerSlot: 4, hidden: 4, vocab: 3, positions: 2, period: 2 };
    const drop = { seeds: b, probabilities: b, callBase: b, slots: 2, slotShape: [2, 2, 4], callOffset: 0 };
    const launch = (shape: EmbeddingsShape, dropout = null as typeof drop | null, ids: GPUBuffer | null = null) =>
      launchEmbeddingsLayerNorm(d, b, b, b, ids, b, b, b, b, b, b, shape, 1e-5, dropout);
    expect(() => launch({ ...s, hidden: 0 })).toThrow(/embeddings_layernorm: hidden must be a whole number >= 1, got 0/);
    expect(() => launch({ ...s, period: 3 })).toThrow(/period 3 is over the position table's 2 rows/);
    expect(() => launch({ ...s, period: 0 })).toThrow(/positionIds are needed without a period/);
    expect(() => launch(s, { ...drop, slotShape: [2, 4, 2] })).toThrow(/must end in hidden=4/);
    expect(() => launch(s, { ...drop, slotShape: [1, 2, 4] })).toThrow(/do not hold 8 rows/);
    expect(() => launchEmbeddingsLayerNormBackward(d, b, b, b, b, b, b, b, null, null, b, null, s, null)).toThrow(/give both dweight and dbias/);
    expect(() => launchEmbeddingsLayerNormBackward(d, b, b, b, b, b, b, b, null, null, null, null, s, drop, { dyxhat: b, maskedDy: null })).toThrow(
      /needs a maskedDy buffer exactly when there is a dropout/,
    );
    d.release(b);
  });
});

describe('embeddingsLayerNorm op', () => {
  const [slots, batch, seq, hidden, vocab, positions] = [2, 2, 3, 6, 5, 4];
  const rows = slots * batch * seq;
  const ids = Int32Array.from({ length: rows }, (_, r) => (r * 7) % vocab);
  const periodicIds = Int32Array.from({ length: rows }, (_, r) => r % seq);
  const inputs = (k: number) => [
    { shape: [slots, vocab, hidden], data: randomArray(slots * vocab * hidden, k, -1, 1) },
    { shape: [slots, positions, hidden], data: randomArray(slots * positions * hidden, k + 1, -1, 1) },
    { shape: [slots, batch * seq], ints: ids },
    { shape: [slots, batch * seq], ints: periodicIds },
    { shape: [slots, hidden], data: randomArray(slots * hidden, k + 2, 0.5, 1.5) },
    { shape: [slots, hidden], data: randomArray(slots * hidden, k + 3, -0.5, 0.5) },
  ];
  const reference = (dropout: EmbeddingsReferenceInput['dropout']) => ([w, p, , , weight, bias]: Float64Array[]) =>
    embeddingsLayerNormReference({
      words: w, positionTable: p, inputIds: ids, positionIds: periodicIds, weight, bias, slots, vocab, positions, hidden, eps: EPS, dropout,
    }).out;

  for (const positionPeriod of [seq, 0]) {
    it(`forward and gradients against finite differences, dropout p per slot, ${positionPeriod ? 'periodic positions' : 'positionIds read'}`, async () => {
      const [seeds, probabilities] = [[3, 4], [0.25, 0.5]];
      const slotShape = [batch, seq, hidden];
      await checkForwardAndGradients(device(), {
        what: 'embeddingsLayerNorm',
        inputs: [...inputs(61), { shape: [slots], ints: Int32Array.from(seeds) }, { shape: [slots], data: Float32Array.from(probabilities), differentiable: false }],
        gpu: ([w, p, i, pi, weight, bias, s, prob]) => {
          const out = embeddingsLayerNorm(w, p, i, pi, weight, bias, { eps: EPS, positionPeriod, dropout: { seeds: s, probabilities: prob, callIndex: 9, slots, slotShape } });
          expect(out.producer?.op).toBe(embeddingsLayerNormOp);
          return out;
        },
        reference: reference({ seeds, probabilities, slotShape, callIndex: 9 }),
      });
    });
  }

  it('forward and gradients without dropout', async () => {
    await checkForwardAndGradients(device(), {
      what: 'embeddingsLayerNorm, no dropout',
      inputs: inputs(71),
      gpu: ([w, p, i, pi, weight, bias]) => embeddingsLayerNorm(w, p, i, pi, weight, bias, { eps: EPS, positionPeriod: seq }),
      reference: reference(null),
    });
  });

  it('bad inputs throw ShapeError', () => {
    const d = device();
    const table = tensor(d, new Float32Array(2 * 5 * 4), [2, 5, 4]);
    const ids = tensor(d, new Int32Array(6), [2, 3]);
    const w = tensor(d, new Float32Array(8), [2, 4]);
    expect(() => embeddingsLayerNorm(table, table, ids, ids, w, w, { positionPeriod: 6 })).toThrow(ShapeError);
    expect(() => embeddingsLayerNorm(table, table, ids, tensor(d, new Int32Array(4), [2, 2]), w, w)).toThrow(/positionIds .* must match inputIds/);
    expect(() => embeddingsLayerNorm(table, table, ids, ids, tensor(d, new Float32Array(4), [4]), w)).toThrow(/must both be \(2, 4\)/);
  });
});
