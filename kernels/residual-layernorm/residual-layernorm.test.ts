/**
 * Residual + dropout + layer normalisation kernels against the float64 reference on poisoned outputs: z, y, mean,
 * rstd and the gradients of x, branch, weight and bias, for T = 1..3 slots (weights per slot and shared), hidden a
 * multiple of 4 or not, without dropout, p = 0, p > 0 per slot, p = 1, and a call index past 2^32; the dropout masks
 * exactly those of kernels/dropout's CPU twin; bit-identical repeats; bad shapes. The op (src/tensor/ops): forward
 * and the gradients of x, branch, weight and bias against float64 finite differences of the reference (gradcheck.ts's
 * default tolerances, forward 1e-4 and gradient 1e-3, as test/tensor/ops-gradcheck.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { Device } from '../../src/gpu/device.js';
import { ShapeError } from '../../src/gpu/errors.js';
import { tensor } from '../../src/tensor/create.js';
import { residualLayerNorm, residualLayerNormOp } from '../../src/tensor/ops/residual-layernorm.js';
import { checkForwardAndGradients } from '../../test/helpers/gradcheck.js';
import { expectClose } from '../../test/helpers/compare.js';
import { useDevice } from '../../test/helpers/gpu.js';
import { randomArray } from '../../test/helpers/random.js';
import { slotColumnSums } from '../../test/helpers/slot-column-sums.js';
import { dropoutMaskReference } from '../dropout/reference.js';
import { launchResidualLayerNorm, launchResidualLayerNormBackward } from './residual-layernorm.js';
import { residualLayerNormBackwardReference, residualLayerNormReference, type DropoutReference } from './reference.js';

const device = useDevice();

interface Case {
  /** Dropout slots T; the weight's slots are T too unless `sharedWeight`. */
  slots: number;
  batch: number;
  seq: number;
  hidden: number;
  /** Per slot; null: no dropout. */
  probabilities: number[] | null;
  sharedWeight?: boolean;
  /** The (T, 2) call base's low word (the same for every slot) and the offset: c = base + offset. */
  callLow?: number;
  callOffset?: number;
}

const EPS = 1e-5;

/** `weightRows`: the backward writes the rows dy·ẑ instead of dweight and dbias, summed here (as autograd would). */
async function run(d: Device, c: Case, seed: number, weightRows = false) {
  const rows = c.slots * c.batch * c.seq;
  const weightSlots = c.sharedWeight ? 1 : c.slots;
  const n = rows * c.hidden;
  const x = randomArray(n, seed, -2, 2);
  const branch = randomArray(n, seed + 1, -2, 2);
  const weight = randomArray(weightSlots * c.hidden, seed + 2, 0.5, 1.5);
  const bias = randomArray(weightSlots * c.hidden, seed + 3, -0.5, 0.5);
  const dy = randomArray(n, seed + 4);
  const seeds = Int32Array.from({ length: c.slots }, (_, t) => 7 + 13 * t);
  const callLow = c.callLow ?? 3 * 4096;
  const callOffset = c.callOffset ?? 2;
  const upload = (data: ArrayBufferView, count: number) => {
    const buffer = d.allocate(count * 4, 'test input');
    d.write(buffer, data);
    return buffer;
  };
  const inputs = [upload(x, n), upload(branch, n), upload(weight, weight.length), upload(bias, bias.length), upload(dy, n)];
  const [xb, bb, wb, biasb, dyb] = inputs;
  const dropoutInputs = c.probabilities
    ? [upload(seeds, c.slots), upload(Float32Array.from(c.probabilities), c.slots), upload(Uint32Array.from({ length: 2 * c.slots }, (_, i) => (i % 2 ? 0 : callLow)), 2 * c.slots)]
    : [];
  const slotShape = [c.batch, c.seq, c.hidden];
  const dropout = c.probabilities
    ? { seeds: dropoutInputs[0], probabilities: dropoutInputs[1], callBase: dropoutInputs[2], slots: c.slots, slotShape, callOffset }
    : null;
  const sizes = [n, n, rows, rows, n, n, weight.length, weight.length];
  const out = sizes.map((count) => d.allocate(count * 4, 'test output'));
  const [z, y, mean, rstd, dx, dbranch, dweight, dbias] = out;
  launchResidualLayerNorm(d, xb, bb, wb, biasb, z, y, mean, rstd, rows, c.hidden, weightSlots, EPS, dropout);
  const dyxhat = weightRows ? d.allocate(n * 4, 'test dyxhat') : null;
  if (dyxhat) launchResidualLayerNormBackward(d, z, wb, mean, rstd, dyb, dx, dbranch, null, null, rows, c.hidden, weightSlots, dropout, dyxhat);
  else launchResidualLayerNormBackward(d, z, wb, mean, rstd, dyb, dx, dbranch, dweight, dbias, rows, c.hidden, weightSlots, dropout);
  const results = await Promise.all(out.map(async (buffer, k) => new Float32Array(await d.read(buffer, sizes[k] * 4))));
  if (dyxhat) {
    results[6] = slotColumnSums(new Float32Array(await d.read(dyxhat, n * 4)), weightSlots, c.hidden);
    results[7] = slotColumnSums(dy, weightSlots, c.hidden);
    d.release(dyxhat);
  }
  for (const buffer of [...inputs, ...dropoutInputs, ...out]) d.release(buffer);
  const reference: DropoutReference | null = c.probabilities
    ? { seeds, probabilities: c.probabilities, slotShape, callIndex: callLow + callOffset }
    : null;
  return { rows, weightSlots, x, branch, weight, bias, dy, reference, results };
}

function check(c: Case, r: Awaited<ReturnType<typeof run>>): void {
  const { rows, weightSlots, x, branch, weight, bias, dy, reference } = r;
  const [z, y, mean, rstd, dx, dbranch, dweight, dbias] = r.results;
  const forward = residualLayerNormReference(x, branch, weight, bias, rows, c.hidden, weightSlots, EPS, reference);
  const grads = residualLayerNormBackwardReference(x, branch, weight, dy, rows, c.hidden, weightSlots, EPS, reference);
  // z is a few float32 roundings (the f32 1 / (1 − p), the product, the sum) of terms up to ~7: 1e-4 as y.
  expectClose(z, forward.z, 1e-4, 'z');
  expectClose(y, forward.y, 1e-4, 'y');
  expectClose(mean, forward.mean, 1e-4, 'mean');
  expectClose(rstd, forward.rstd, 1e-4, 'rstd');
  // dx = rstd·(g − mean g − ẑ·mean(g·ẑ)): judged against the size of the terms that cancel (as kernels/layernorm's
  // tests; at hidden 1 dx ≡ 0 and only rounding residue is left).
  const cancelled = Math.max(...forward.rstd) * Math.sqrt(dy.reduce((s, v, i) => s + (v * weight[(Math.floor(i / c.hidden / (rows / weightSlots)) * c.hidden) + (i % c.hidden)]) ** 2, 0) / dy.length);
  expectClose(dx, grads.dx, 1e-4, 'dx', 0.01 * cancelled);
  expectClose(dbranch, grads.dbranch, 1e-4, 'dbranch', 0.01 * cancelled);
  expectClose(dweight, grads.dweight, 1e-4, 'dweight');
  expectClose(dbias, grads.dbias, 1e-4, 'dbias');
  if (reference) {
    // The masks are exactly kernels/dropout's: dbranch is 0 where (and, dz being nonzero, only where) it drops.
    const keep = dropoutMaskReference(reference.seeds, reference.probabilities, reference.slotShape, reference.callIndex);
    const mismatches = [...keep].filter((k, i) => (k === 0) !== (dbranch[i] === 0) && dx[i] !== 0).length;
    expect(mismatches, 'dropout decisions differing from kernels/dropout').toBe(0);
    const dropped = [...keep].filter((k) => k === 0).length;
    const anyRate = c.probabilities!.some((p) => p > 0 && p < 1);
    if (anyRate) expect(dropped, 'some values dropped').toBeGreaterThan(0);
  }
}

describe('residual layerNorm kernels', () => {
  const cases: [string, Case][] = [
    ['T=3 hidden=36 (vec4), p per slot 0.1, 0.5, 0', { slots: 3, batch: 2, seq: 5, hidden: 36, probabilities: [0.1, 0.5, 0] }],
    ['T=2 hidden=7 (scalar), p 0.3, 0.6', { slots: 2, batch: 3, seq: 4, hidden: 7, probabilities: [0.3, 0.6] }],
    ['T=2 hidden=33, shared weight, p 0.25', { slots: 2, batch: 2, seq: 3, hidden: 33, probabilities: [0.25, 0.25], sharedWeight: true }],
    ['T=1 hidden=8, p = 0 (every value kept)', { slots: 1, batch: 2, seq: 4, hidden: 8, probabilities: [0] }],
    ['T=2 hidden=12, p = 1 and 0.5', { slots: 2, batch: 1, seq: 6, hidden: 12, probabilities: [1, 0.5] }],
    ['T=2 hidden=20, call index past 2^32 (carry into the high word)', { slots: 2, batch: 2, seq: 3, hidden: 20, probabilities: [0.4, 0.2], callLow: 0xffffffff, callOffset: 5 }],
    ['T=1 hidden=1, p 0.5', { slots: 1, batch: 3, seq: 3, hidden: 1, probabilities: [0.5] }],
    ['T=2 hidden=130, 70 rows per slot (past one workgroup)', { slots: 2, batch: 2, seq: 35, hidden: 130, probabilities: [0.1, 0.3] }],
    ['T=3 hidden=36, no dropout', { slots: 3, batch: 2, seq: 5, hidden: 36, probabilities: null }],
    ['T=2 hidden=7, no dropout, shared weight', { slots: 2, batch: 3, seq: 2, hidden: 7, probabilities: null, sharedWeight: true }],
  ];
  cases.forEach(([what, c], k) => {
    it(what, async () => check(c, await run(device(), c, 10 * k + 1)));
  });
  // The weight gradient's rows dy·ẑ (what the op hands autograd to sum) give the reference's dweight.
  [0, 1, 2, 8].forEach((k) => {
    const [what, c] = cases[k];
    it(`${what}, writing the weight gradient's rows`, async () => check(c, await run(device(), c, 10 * k + 1, true)));
  });

  it('repeats bit-identically', async () => {
    const c: Case = { slots: 2, batch: 2, seq: 40, hidden: 36, probabilities: [0.2, 0.4] };
    const first = await run(device(), c, 5);
    const second = await run(device(), c, 5);
    first.results.forEach((a, k) => expect(Buffer.from(second.results[k].buffer).equals(Buffer.from(a.buffer))).toBe(true));
  });

  it('bad shapes throw ShapeError naming the kernel and the values', () => {
    const d = device();
    const b = d.allocate(64, 'test');
    const drop = { seeds: b, probabilities: b, callBase: b, slots: 2, slotShape: [2, 2, 4], callOffset: 0 };
    expect(() => launchResidualLayerNorm(d, b, b, b, b, b, b, b, b, 4, 0, 1, 1e-5, null)).toThrow(/residual_layernorm: hidden must be a whole number >= 1, got 0/);
    expect(() => launchResidualLayerNorm(d, b, b, b, b, b, b, b, b, 5, 4, 2, 1e-5, null)).toThrow(ShapeError);
    expect(() => launchResidualLayerNorm(d, b, b, b, b, b, b, b, b, 8, 4, 2, 1e-5, { ...drop, slotShape: [2, 4, 2] })).toThrow(/must end in hidden=4/);
    expect(() => launchResidualLayerNorm(d, b, b, b, b, b, b, b, b, 6, 4, 2, 1e-5, drop)).toThrow(/do not hold 6 rows of hidden=4/);
    expect(() => launchResidualLayerNormBackward(d, b, b, b, b, b, b, null, null, null, 8, 4, 2, drop)).toThrow(/give both dz and dbranch/);
    expect(() => launchResidualLayerNormBackward(d, b, b, b, b, b, null, null, null, null, 8, 4, 2, drop, b)).toThrow(/dyxhat comes with dz and dbranch/);
    d.release(b);
  });
});

describe('residualLayerNorm op: forward and gradients against finite differences', () => {
  // [slots, batch, seq, hidden, per-slot weight, rates (null: no dropout)]
  const cases: [number, number, number, number, boolean, number[] | null][] = [
    [2, 2, 3, 6, true, [0.25, 0.5]],
    [3, 1, 4, 8, true, [0.4, 0, 0.2]],
    [2, 2, 2, 5, false, [0.3, 0.3]],
    [2, 2, 3, 6, true, null],
    [1, 3, 2, 7, false, null],
  ];
  for (const [slots, batch, seq, hidden, perSlot, probabilities] of cases) {
    const rows = slots * batch * seq;
    const shape = [slots, batch * seq, hidden];
    const weightShape = perSlot ? [slots, hidden] : [hidden];
    const weightSize = (perSlot ? slots : 1) * hidden;
    const seeds = Int32Array.from({ length: slots }, (_, t) => 3 + t);
    const slotShape = [batch, seq, hidden];
    it(`x, branch [${shape}] weight [${weightShape}] ${probabilities ? `dropout p [${probabilities}]` : 'no dropout'}`, async () => {
      const n = rows * hidden;
      await checkForwardAndGradients(device(), {
        what: `residualLayerNorm [${shape}]`,
        inputs: [
          // An offset mean checks the variance is computed stably.
          { shape, data: randomArray(n, n + 1, 1, 3) },
          { shape, data: randomArray(n, n + 2, -1, 1) },
          { shape: weightShape, data: randomArray(weightSize, 7, 0.5, 1.5) },
          { shape: weightShape, data: randomArray(weightSize, 8, -0.5, 0.5) },
          { shape: [slots], ints: seeds },
          { shape: [slots], data: Float32Array.from(probabilities ?? Array(slots).fill(0)), differentiable: false },
        ],
        gpu: ([x, branch, w, b, s, p]) => {
          const dropout = probabilities ? { seeds: s, probabilities: p, callIndex: 11, slots, slotShape } : null;
          const out = residualLayerNorm(x, branch, w, b, { eps: 1e-5, dropout });
          expect(out.producer?.op).toBe(residualLayerNormOp);
          return out;
        },
        reference: ([x, branch, w, b]) => {
          const dropout = probabilities ? { seeds, probabilities, slotShape, callIndex: 11 } : null;
          return residualLayerNormReference(x, branch, w, b, rows, hidden, perSlot ? slots : 1, 1e-5, dropout).y;
        },
      });
    });
  }

  it('with a (T, 2) call base: the masks of base + callIndex', async () => {
    const d = device();
    const [slots, batch, seq, hidden] = [2, 2, 3, 8];
    const n = slots * batch * seq * hidden;
    const xs = randomArray(n, 1);
    const branches = randomArray(n, 2);
    const x = tensor(d, xs, [slots, batch * seq, hidden]);
    const branch = tensor(d, branches, [slots, batch * seq, hidden]);
    const w = tensor(d, randomArray(slots * hidden, 3, 0.5, 1.5), [slots, hidden]);
    const b = tensor(d, randomArray(slots * hidden, 4), [slots, hidden]);
    const seeds = tensor(d, Int32Array.from([5, 6]), [slots], { dtype: 'i32' });
    const p = tensor(d, Float32Array.from([0.3, 0.6]), [slots]);
    // Slot 0 at base 4096 · 2, slot 1 at 4096 · 9 (slots at different steps).
    const callBase = tensor(d, Int32Array.from([8192, 0, 36864, 0]), [slots, 2], { dtype: 'i32' });
    const y = residualLayerNorm(x, branch, w, b, { eps: 1e-5, dropout: { seeds, probabilities: p, callBase, callIndex: 3, slots, slotShape: [batch, seq, hidden] } });
    const got = Float32Array.from(await y.toArray());
    const [wv, bv] = [Float32Array.from(await w.toArray()), Float32Array.from(await b.toArray())];
    const perSlot = n / slots;
    for (let t = 0; t < slots; t++) {
      const part = (a: Float32Array) => a.subarray(t * perSlot, (t + 1) * perSlot);
      const ref = residualLayerNormReference(
        part(xs), part(branches), wv.subarray(t * hidden, (t + 1) * hidden), bv.subarray(t * hidden, (t + 1) * hidden),
        batch * seq, hidden, 1, 1e-5, { seeds: [[5, 6][t]], probabilities: [[0.3, 0.6][t]], slotShape: [batch, seq, hidden], callIndex: [8192, 36864][t] + 3 },
      );
      expectClose(part(got), ref.y, 1e-4, `slot ${t}`);
    }
    for (const t of [x, branch, w, b, seeds, p, callBase, y]) t.release();
  });

  it('bad arguments throw ShapeError naming the op and the values', () => {
    const d = device();
    const x = tensor(d, randomArray(24, 1), [2, 3, 4]);
    const w = tensor(d, randomArray(8, 2), [2, 4]);
    const seeds = tensor(d, Int32Array.from([1, 2]), [2], { dtype: 'i32' });
    const p = tensor(d, Float32Array.from([0.1, 0.1]), [2]);
    const other = tensor(d, randomArray(12, 3), [2, 6]);
    expect(() => residualLayerNorm(x, other, w, w)).toThrow(/residualLayerNorm: branch f32\[2, 6\] must match x f32\[2, 3, 4\]/);
    expect(() => residualLayerNorm(x, x, w, w, { dropout: { seeds, probabilities: p, callIndex: 0, slots: 2, slotShape: [4, 3] } })).toThrow(/slotShape \[4, 3\] must end in x's last axis \(4\)/);
    expect(() => residualLayerNorm(x, x, w, w, { dropout: { seeds, probabilities: p, callIndex: 0, slots: 3 } })).toThrow(/must lead with the dropout's slots \(3\)/);
    for (const t of [x, w, seeds, p, other]) t.release();
  });
});
