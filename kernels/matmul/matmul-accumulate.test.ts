/**
 * The accumulate epilogue (`MatmulArgs.accumulate`, out += op(A)·op(B)) that autograd uses to add a gradient into
 * the one an operand has already gathered. Checked against the float64 reference (out's old values plus the
 * product) for every variant this device runs, and bit for bit against what it replaces: the product into a new
 * buffer, then autograd's in-place add (`accumulateInto`). Then autograd itself: an input read by two linear layers
 * gets its gradient with no add dispatch.
 */
import { describe, expect, it } from 'vitest';
import type { Device } from '../../src/gpu/device.js';
import { backward } from '../../src/tensor/autograd.js';
import { tensor } from '../../src/tensor/create.js';
import { add } from '../../src/tensor/ops/elementwise.js';
import { linear } from '../../src/tensor/ops/matmul.js';
import { sum } from '../../src/tensor/ops/reduce.js';
import { tidy } from '../../src/tensor/scope.js';
import { accumulateInto, emptyTensor } from '../../src/tensor/tensor-fill.js';
import { expectClose } from '../../test/helpers/compare.js';
import { kernelsOf } from '../../test/helpers/dispatched-kernels.js';
import { useDevice } from '../../test/helpers/gpu.js';
import { randomArray } from '../../test/helpers/random.js';
import { canUseV3, canUseV5 } from './choose-variant.js';
import { launchMatmul, type MatmulVariant } from './matmul.js';
import { matmulReference } from './reference.js';

const device = useDevice();

function variantsOf(d: Device): MatmulVariant[] {
  return ['v1', 'v2', 'v4', ...(canUseV3(d) ? (['v3'] as const) : []), ...(canUseV5(d) ? (['v5'] as const) : [])];
}


describe('matmul accumulate', () => {
  // (batch, m, k, n, transposeA, transposeB): a backward's dX (NT) and dW (TN) layouts, odd sizes, a batch.
  const shapes = [
    [1, 64, 48, 32, false, true],
    [1, 33, 70, 17, true, false],
    [3, 20, 12, 36, false, false],
  ] as const;
  for (const [batch, m, k, n, transposeA, transposeB] of shapes) {
    it(`out += op(A)·op(B), batch ${batch}, ${m}x${k}x${n}${transposeA ? ' transposeA' : ''}${transposeB ? ' transposeB' : ''}: reference, and the same bits as product + add`, async () => {
      const d = device();
      const a = tensor(d, randomArray(batch * m * k, 1, -1, 1), [batch * m * k]);
      const b = tensor(d, randomArray(batch * k * n, 2, -1, 1), [batch * k * n]);
      const old = randomArray(batch * m * n, 3, -2, 2);
      for (const variant of variantsOf(d)) {
        const shape = { batch, m, k, n, transposeA, transposeB, variant };
        const added = tensor(d, old, [batch * m * n]);
        const kernels = kernelsOf(d, () => launchMatmul(d, { ...shape, a: a.buffer, b: b.buffer, out: added.buffer, accumulate: true }));
        expect(kernels.at(-1)).toMatch(/_acc(_|$)/);
        const separate = tensor(d, old, [batch * m * n]);
        const product = emptyTensor(d, [batch * m * n]);
        launchMatmul(d, { ...shape, a: a.buffer, b: b.buffer, out: product.buffer });
        accumulateInto(separate, product);
        const [got, want] = [(await added.toArray()) as Float32Array, (await separate.toArray()) as Float32Array];
        expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer)), `${variant}: bits differ from product + add`).toBe(true);
        const reference = matmulReference(await a.toArray(), await b.toArray(), { batch, m, k, n, transposeA, transposeB }).out.map((v, i) => v + old[i]);
        expectClose(got, reference, 1e-4, `${variant}`, 0.01);
        for (const t of [added, separate, product]) t.release();
      }
      a.release();
      b.release();
    });
  }

  it('refuses accumulate with a bias or GELU, naming it', () => {
    const d = device();
    const t = emptyTensor(d, [16]);
    expect(() => launchMatmul(d, { batch: 1, m: 4, k: 1, n: 4, a: t.buffer, b: t.buffer, out: t.buffer, bias: t.buffer, accumulate: true })).toThrow(/accumulate takes no bias or GELU/);
    t.release();
  });
});

describe('autograd through the accumulate epilogue', () => {
  it('an input read by two linear layers gets g1·W1ᵀ + g2·W2ᵀ with no add dispatch', async () => {
    const d = device();
    const [rows, inF, outF] = [6, 5, 3];
    const xData = randomArray(rows * inF, 11, -1, 1);
    const [w1, w2] = [randomArray(inF * outF, 12, -1, 1), randomArray(inF * outF, 13, -1, 1)];
    const x = tensor(d, xData, [1, rows, inF], { requiresGrad: true });
    const W1 = tensor(d, w1, [1, inF, outF], { requiresGrad: true });
    const W2 = tensor(d, w2, [1, inF, outF], { requiresGrad: true });
    const kernels = kernelsOf(d, () => tidy(() => backward(sum(add(linear(x, W1), linear(x, W2))))));
    expect(kernels.filter((k) => k.startsWith('binary_add'))).toEqual(['binary_add']); // the forward's add only
    expect(kernels.some((k) => /_acc(_|$)/.test(k))).toBe(true);
    // d(sum)/dx = 1·W1ᵀ + 1·W2ᵀ for every row.
    const expected = new Float64Array(rows * inF);
    for (let r = 0; r < rows; r++) for (let i = 0; i < inF; i++) for (let o = 0; o < outF; o++) expected[r * inF + i] += w1[i * outF + o] + w2[i * outF + o];
    expectClose((await x.grad!.toArray()) as Float32Array, expected, 1e-5, 'dx');
    for (const t of [x, W1, W2]) t.release();
  });
});
