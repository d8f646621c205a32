/**
 * Softmax cross-entropy with labels: per-row and per-slot mean against float64 references (odd shapes, T = 1 and
 * 3, rows per slot past one workgroup), gradients against finite differences, ignore index, all-ignored slot,
 * out-of-range label → NaN, ±1e4 logits, bit-identical repeats and bad shapes. The one-dispatch mean (v2, what
 * `crossEntropy` runs) also against v1 (per-row kernel + mean kernel) on poisoned outputs: 1e-6 relative, the
 * summation order being all that differs.
 */
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/tensor/autograd.js';
import { tensor } from '../../src/tensor/create.js';
import { ShapeError } from '../../src/gpu/errors.js';
import { crossEntropy, crossEntropyPerRow } from '../../src/tensor/ops/cross-entropy.js';
import { tidy } from '../../src/tensor/scope.js';
import { checkForwardAndGradients } from '../../test/helpers/gradcheck.js';
import { expectClose } from '../../test/helpers/compare.js';
import { useDevice } from '../../test/helpers/gpu.js';
import { randomArray, randomInts } from '../../test/helpers/random.js';
import { launchCrossEntropy, launchCrossEntropyLossMean, launchCrossEntropyMean } from './cross-entropy.js';
import { crossEntropyMeanReference, crossEntropyReference } from './reference.js';

const device = useDevice();

/** Labels in range with every 4th row ignored (seeded). */
function labelsFor(rows: number, classes: number, seed: number): Int32Array {
  const labels = randomInts(rows, seed, 0, classes);
  for (let r = 1; r < rows; r += 4) labels[r] = -100;
  return labels;
}

describe('crossEntropy (mean per slot)', () => {
  const cases: [number, number, number][] = [
    // [slots, rowsPerSlot, classes]
    [1, 1, 1], [1, 3, 2], [1, 7, 7], [3, 7, 33], [3, 3, 257], [1, 2, 1000], [3, 1, 5],
    [2, 150, 3], // Rows per slot past one workgroup (64): lanes take several rows each.
  ];
  for (const [slots, perSlot, classes] of cases) {
    it(`slots=${slots} rowsPerSlot=${perSlot} classes=${classes}`, async () => {
      const rows = slots * perSlot;
      const labels = labelsFor(rows, classes, rows + classes);
      await checkForwardAndGradients(device(), {
        what: `crossEntropy T=${slots} rows=${rows} classes=${classes}`,
        inputs: [{ shape: [rows, classes], data: randomArray(rows * classes, classes, -3, 3) }, { shape: [rows], ints: labels }],
        gpu: ([logits, y]) => crossEntropy(logits, y, { slots }),
        reference: ([logits, y]) => crossEntropyMeanReference(logits, y, rows, classes, slots),
      });
    });
  }

  it('a custom ignore index and an all-ignored slot (0, not NaN; zero gradient)', async () => {
    const [slots, perSlot, classes] = [3, 4, 6];
    const rows = slots * perSlot;
    const labels = randomInts(rows, 9, 0, classes);
    labels.fill(-1, perSlot, 2 * perSlot); // Slot 1: all ignored.
    labels[0] = -1;
    await checkForwardAndGradients(device(), {
      what: 'crossEntropy ignoreIndex=-1',
      inputs: [{ shape: [slots, perSlot, classes] }, { shape: [slots, perSlot], ints: labels }],
      gpu: ([logits, y]) => crossEntropy(logits, y, { slots, ignoreIndex: -1 }),
      reference: ([logits, y]) => crossEntropyMeanReference(logits, y, rows, classes, slots, -1),
    });
  });

  it('an out-of-range label gives NaN for its row and slot, and reads nothing out of bounds', async () => {
    const d = device();
    const [slots, perSlot, classes] = [2, 3, 4];
    const labels = new Int32Array([0, 1, 4, 2, 3, -100]); // 4 is out of range in slot 0.
    const logits = tensor(d, randomArray(slots * perSlot * classes, 3), [slots * perSlot, classes], { requiresGrad: true });
    const y = tensor(d, labels, [slots * perSlot]);
    const mean = tidy(() => {
      const m = crossEntropy(logits, y, { slots });
      backward(m, { gradient: tensor(d, [1, 1], [2]) });
      return m;
    });
    const values = await mean.toArray();
    expect(Number.isNaN(values[0])).toBe(true);
    expect(values[1]).toBeCloseTo(crossEntropyMeanReference(await logits.toArray(), labels, 6, classes, slots)[1], 5);
    const grad = await logits.grad!.toArray();
    expect(grad.slice(2 * classes, 3 * classes).every(Number.isNaN)).toBe(true); // The bad row.
    expect(grad.slice(3 * classes).every(Number.isFinite)).toBe(true); // Slot 1 untouched.
    const perRow = crossEntropyPerRow(logits, y);
    const rowValues = await perRow.toArray();
    expect(Number.isNaN(rowValues[2])).toBe(true);
    expect(rowValues[5]).toBe(0);
    for (const t of [logits, y, mean, perRow]) t.release();
  });

  it('large logits (±1e4) stay finite', async () => {
    const [rows, classes] = [6, 9];
    const data = randomArray(rows * classes, 4, -1e4, 1e4);
    data.fill(1e4, 0, classes); // A row of equal huge logits: log(9).
    const labels = randomInts(rows, 5, 0, classes);
    await checkForwardAndGradients(device(), {
      what: 'crossEntropy ±1e4',
      inputs: [{ shape: [rows, classes], data }, { shape: [rows], ints: labels }],
      gpu: ([logits, y]) => crossEntropyPerRow(logits, y),
      reference: ([logits, y]) => crossEntropyReference(logits, y, rows, classes),
      // The finite-difference step at 1e4 is 1e-2: only the forward is meaningful to 1e-4.
      gradientTolerance: 1e-2,
    });
  });

  it('crossEntropyPerRow on batched leading axes', async () => {
    const shape = [3, 2, 5, 7];
    const rows = 30;
    const labels = labelsFor(rows, 7, 12);
    await checkForwardAndGradients(device(), {
      what: 'crossEntropyPerRow [3, 2, 5, 7]',
      inputs: [{ shape }, { shape: shape.slice(0, -1), ints: labels }],
      gpu: ([logits, y]) => crossEntropyPerRow(logits, y),
      reference: ([logits, y]) => crossEntropyReference(logits, y, rows, 7),
    });
  });

  it('repeats bit-identically', async () => {
    const d = device();
    const [slots, perSlot, classes] = [3, 300, 33];
    const rows = slots * perSlot;
    const run = async () => {
      const logits = tensor(d, randomArray(rows * classes, 8, -5, 5), [rows, classes], { requiresGrad: true });
      const y = tensor(d, labelsFor(rows, classes, 2), [rows]);
      const mean = tidy(() => {
        const m = crossEntropy(logits, y, { slots });
        backward(m, { gradient: tensor(d, [0.5, 1, 2], [3]) });
        return m;
      });
      const result = [new Uint8Array((await mean.toArray()).buffer), new Uint8Array((await logits.grad!.toArray()).buffer)];
      for (const t of [logits, y, mean]) t.release();
      return result;
    };
    const first = await run();
    const second = await run();
    expect(Buffer.from(second[0]).equals(Buffer.from(first[0]))).toBe(true);
    expect(Buffer.from(second[1]).equals(Buffer.from(first[1]))).toBe(true);
  });

  it('bad shapes throw ShapeError naming the op or kernel and the values', () => {
    const d = device();
    const logits = tensor(d, randomArray(12, 1), [4, 3]);
    const labels = tensor(d, new Int32Array([0, 1, 2]), [3]);
    const floatLabels = tensor(d, [0, 1, 2, 0], [4]);
    const good = tensor(d, new Int32Array([0, 1, 2, 0]), [4]);
    expect(() => crossEntropy(logits, labels)).toThrow(/crossEntropy: labels \[3\] must hold one label per row of logits \[4, 3\]/);
    expect(() => crossEntropy(logits, floatLabels)).toThrow(/crossEntropy: labels must be i32, got f32 \[4\]/);
    expect(() => crossEntropy(logits, good, { slots: 3 })).toThrow(/crossEntropy: slots=3 must divide the 4 rows/);
    expect(() => launchCrossEntropy(d, logits.buffer, good.buffer, logits.buffer, logits.buffer, 4, 0)).toThrow(
      /cross_entropy: classes must be a whole number >= 1, got 0/,
    );
    expect(() => launchCrossEntropy(d, logits.buffer, good.buffer, logits.buffer, logits.buffer, 4, 3, 2 ** 40)).toThrow(ShapeError);
    for (const t of [logits, labels, floatLabels, good]) t.release();
  });
});

describe('cross_entropy_loss_mean (v2: loss and mean in one dispatch) against v1 and the reference', () => {
  const cases: [number, number, number][] = [
    // [slots, rowsPerSlot, classes]
    [1, 1, 1], [3, 7, 5], [2, 64, 3], [3, 130, 4], [5, 33, 2], [1, 1000, 7],
  ];
  for (const [slots, perSlot, classes] of cases) {
    it(`slots=${slots} rowsPerSlot=${perSlot} classes=${classes}, ignored rows and an out-of-range label in the last slot`, async () => {
      const d = device();
      const rows = slots * perSlot;
      const labels = labelsFor(rows, classes, 5 + rows);
      if (slots > 1) labels[rows - 1] = classes; // Out of range: that slot's mean is NaN.
      const logitValues = randomArray(rows * classes, 11 + classes, -4, 4);
      const logits = tensor(d, logitValues, [rows, classes]);
      const y = tensor(d, labels, [rows]);
      const buffers = [rows, rows, slots, slots, rows, slots, slots].map((n) => d.allocate(n * 4, 'test output')); // poisoned
      const [loss, lse1, mean1, count1, lse2, mean2, count2] = buffers;
      launchCrossEntropy(d, logits.buffer, y.buffer, loss, lse1, rows, classes);
      launchCrossEntropyMean(d, loss, y.buffer, mean1, count1, rows, slots);
      launchCrossEntropyLossMean(d, logits.buffer, y.buffer, lse2, mean2, count2, rows, classes, slots);
      const [l1, m1, c1, l2, m2, c2] = await Promise.all(
        [[lse1, rows], [mean1, slots], [count1, slots], [lse2, rows], [mean2, slots], [count2, slots]].map(
          async ([b, n]) => new Float32Array(await d.read(b as GPUBuffer, (n as number) * 4)),
        ),
      );
      expect(Buffer.from(l2.buffer).equals(Buffer.from(l1.buffer)), 'logsumexp: the same per-row code').toBe(true);
      expect(Array.from(c2)).toEqual(Array.from(c1));
      const expected = crossEntropyMeanReference(logitValues, labels, rows, classes, slots);
      const finite = slots > 1 ? slots - 1 : slots; // The last slot's mean is NaN (checked below).
      expectClose(m2.slice(0, finite), expected.slice(0, finite), 1e-5, 'v2 mean against float64');
      expectClose(m2.slice(0, finite), m1.slice(0, finite), 1e-6, 'v2 mean against v1');
      if (slots > 1) expect(Number.isNaN(m2[slots - 1]) && Number.isNaN(m1[slots - 1])).toBe(true);
      for (const b of buffers) d.release(b);
      for (const t of [logits, y]) t.release();
    });
  }

  it('records one dispatch for the forward of crossEntropy', async () => {
    const d = device();
    const logits = tensor(d, randomArray(12, 2), [6, 2]);
    const y = tensor(d, new Int32Array([0, 1, 1, 0, -100, 1]), [6]);
    const before = d.dispatchCount;
    const mean = crossEntropy(logits, y, { slots: 2 });
    expect(d.dispatchCount - before).toBe(1);
    for (const t of [logits, y, mean]) t.release();
  });
});
