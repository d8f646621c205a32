/**
 * Matmul ops with autograd (matmul, linear) against float64 references, gradients against finite differences;
 * the chooser; determinism; shape errors. The per-variant kernel checks are in matmul-v1/v2/v3.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../src/gpu/errors.js';
import { tensor } from '../../src/tensor/create.js';
import { linear, matmul } from '../../src/tensor/ops/matmul.js';
import { checkForwardAndGradients } from '../../test/helpers/gradcheck.js';
import { useDevice } from '../../test/helpers/gpu.js';
import { randomArray } from '../../test/helpers/random.js';
import { canUseV5, chooseMatmulVariant, LARGE_V4_CONFIG } from './choose-variant.js';
import type { Device } from '../../src/gpu/device.js';
import { launchMatmul, type MatmulArgs, type MatmulVariant } from './matmul.js';
import type { V4ConfigName } from './v4-blocked.wgsl.js';
import { matmulReference } from './reference.js';

const device = useDevice();

describe('matmul op', () => {
  // [a shape, b shape, transposeA, transposeB]
  const cases: [number[], number[], boolean, boolean][] = [
    [[3, 5], [5, 4], false, false],
    [[5, 3], [5, 4], true, false],
    [[3, 5], [4, 5], false, true],
    [[5, 3], [4, 5], true, true],
    [[1, 1], [1, 7], false, false], // k = 1
    [[2, 3, 5], [2, 5, 4], false, false], // batched
    [[2, 5, 3], [2, 4, 5], true, true],
    [[3, 4, 5], [5, 2], false, false], // rank-2 B shared by every batch (the flattened path)
    [[3, 5, 4], [2, 5], true, true], // shared B, A transposed (per-batch gradient then sum)
    [[4, 5], [3, 5, 2], false, false], // rank-2 A shared
    [[5, 4], [3, 2, 5], true, true],
  ];
  for (const [aShape, bShape, transposeA, transposeB] of cases) {
    it(`[${aShape}]${transposeA ? 'ᵀ' : ''} · [${bShape}]${transposeB ? 'ᵀ' : ''}`, async () => {
      const batch = aShape.length === 3 ? aShape[0] : bShape.length === 3 ? bShape[0] : 1;
      const [m, k] = transposeA ? [aShape.at(-1)!, aShape.at(-2)!] : [aShape.at(-2)!, aShape.at(-1)!];
      const n = transposeB ? bShape.at(-2)! : bShape.at(-1)!;
      await checkForwardAndGradients(device(), {
        what: 'matmul',
        inputs: [{ shape: aShape }, { shape: bShape }],
        gpu: ([a, b]) => matmul(a, b, { transposeA, transposeB }),
        reference: ([a, b]) =>
          matmulReference(a, b, {
            batch,
            m,
            k,
            n,
            transposeA,
            transposeB,
            aBatched: aShape.length === 3,
            bBatched: bShape.length === 3,
          }).out,
      });
    });
  }
});

describe('linear op', () => {
  it('x (2, 3, in) . W (in, out) + b', async () => {
    await checkForwardAndGradients(device(), {
      what: 'linear',
      inputs: [{ shape: [2, 3, 5] }, { shape: [5, 7] }, { shape: [7] }],
      gpu: ([x, w, b]) => linear(x, w, b),
      reference: ([x, w, b]) => matmulReference(x, w, { batch: 1, m: 6, k: 5, n: 7, bias: b }).out,
    });
  });
  it('GELU, no bias', async () => {
    await checkForwardAndGradients(device(), {
      what: 'linear gelu',
      inputs: [{ shape: [4, 5], data: randomArray(20, 3, -2, 2) }, { shape: [5, 3] }],
      gpu: ([x, w]) => linear(x, w, undefined, { activation: 'gelu' }),
      reference: ([x, w]) => matmulReference(x, w, { batch: 1, m: 4, k: 5, n: 3, gelu: true }).out,
    });
  });
  it('trial axis: x (T, rows, in) . W (T, in, out) + b (T, out), GELU', async () => {
    const [trials, rows, inF, outF] = [3, 4, 5, 6];
    await checkForwardAndGradients(device(), {
      what: 'linear trial gelu',
      inputs: [{ shape: [trials, 2, 2, inF], data: randomArray(trials * rows * inF, 5, -2, 2) }, { shape: [trials, inF, outF] }, { shape: [trials, outF] }],
      gpu: ([x, w, b]) => linear(x, w, b, { activation: 'gelu' }),
      reference: ([x, w, b]) =>
        matmulReference(x, w, { batch: trials, m: rows, k: inF, n: outF, bias: b, biasBatched: true, gelu: true }).out,
    });
  });
  it('trial axis with a shared bias and x shared by every trial', async () => {
    await checkForwardAndGradients(device(), {
      what: 'linear shared x',
      inputs: [{ shape: [4, 5] }, { shape: [2, 5, 3] }, { shape: [3] }],
      gpu: ([x, w, b]) => linear(x, w, b),
      reference: ([x, w, b]) => matmulReference(x, w, { batch: 2, m: 4, k: 5, n: 3, aBatched: false, bias: b }).out,
    });
  });
  it('output shapes', () => {
    const d = device();
    const y = linear(tensor(d, randomArray(2 * 3 * 5, 1), [2, 3, 5]), tensor(d, randomArray(2 * 5 * 4, 2), [2, 5, 4]));
    expect(y.shape).toEqual([2, 3, 4]);
    const z = linear(tensor(d, randomArray(5, 1), [5]), tensor(d, randomArray(20, 2), [5, 4]));
    expect(z.shape).toEqual([4]);
    for (const t of [y, z]) t.release();
  });
});

describe('matmul kernel', () => {
  it('chooses v5 on lavapipe (v3 for operands too large to pack), and v1/v2/v4 by output size elsewhere', () => {
    const d = device();
    const choose = (m: number, n: number, k = 256) => chooseMatmulVariant(d, { batch: 1, m, k, n });
    if (d.info.isSoftware && canUseV5(d)) {
      for (const [m, n] of [[8, 8], [64, 64]]) expect(choose(m, n)).toEqual({ variant: 'v3' }); // too small to pack
      for (const [m, n] of [[256, 256], [4096, 4096]]) expect(choose(m, n)).toEqual({ variant: 'v5' });
      // 2^26 texels fit one scratch texture on lavapipe (4096 x 16384); A here needs 2^27.
      expect(choose(1 << 17, 8, 4096)).toEqual({ variant: 'v3' });
    } else if (d.info.isSoftware && d.hasSubgroups && d.info.subgroupMinSize === 8) {
      for (const [m, n] of [[8, 8], [256, 256], [4096, 4096]]) expect(choose(m, n)).toEqual({ variant: 'v3' });
    } else {
      expect(choose(8, 8)).toEqual({ variant: 'v1' });
      expect(choose(256, 256)).toEqual({ variant: 'v2' });
      expect(choose(4096, 4096)).toEqual({ variant: 'v4', v4Config: LARGE_V4_CONFIG });
    }
  });

  it('v1, v2 and v4 give bit-identical outputs (a trial does not depend on the variant its group size picks)', async () => {
    const cases = [
      { batch: 2, m: 65, k: 37, n: 70, transposeA: false, transposeB: false },
      { batch: 1, m: 132, k: 300, n: 136, transposeA: true, transposeB: false },
      { batch: 3, m: 33, k: 20, n: 68, transposeA: false, transposeB: true },
    ];
    const variants = [{ variant: 'v1' }, { variant: 'v2' }, { variant: 'v4', v4Config: '128x64k16r8x4' }, { variant: 'v4', v4Config: '64x64k16r4x4' }] as const;
    await expectSameBits(device(), cases, variants, 40);
  });

  it('v5 gives the same bits as v3 (lavapipe picks by operand size)', async ({ skip }) => {
    if (!canUseV5(device())) skip();
    const cases = [
      { batch: 2, m: 65, k: 37, n: 70, transposeA: false, transposeB: false, bBatched: false },
      { batch: 1, m: 132, k: 300, n: 136, transposeA: true, transposeB: true },
      { batch: 3, m: 33, k: 20, n: 68, transposeA: false, transposeB: true },
      { batch: 2, m: 70, k: 64, n: 128, transposeA: false, transposeB: false }, // v5 reads A and B unpacked
      { batch: 1, m: 45, k: 256, n: 64, transposeA: false, transposeB: false }, // unpacked, the longest k
    ];
    await expectSameBits(device(), cases, [{ variant: 'v3' }, { variant: 'v5' }], 70);
  });

  it('repeats bit-identically', async () => {
    const d = device();
    const [batch, m, k, n] = [2, 65, 67, 33];
    const a = tensor(d, randomArray(batch * m * k, 11), [batch, m, k]);
    const b = tensor(d, randomArray(k * n, 12), [k, n]);
    const first = await matmul(a, b).toArray();
    const second = await matmul(a, b).toArray();
    expect(Buffer.from(second.buffer).equals(Buffer.from(first.buffer))).toBe(true);
    expect(first.every(Number.isFinite)).toBe(true);
  });

  it('k = 0 gives the bias alone', async () => {
    const d = device();
    const bias = randomArray(5, 3);
    const out = d.allocate(3 * 5 * 4, 'out');
    const b = tensor(d, bias, [5]);
    const empty = d.allocate(4, 'empty');
    launchMatmul(d, { a: empty, b: empty, out, batch: 1, m: 3, k: 0, n: 5, bias: b.buffer });
    const result = new Float32Array(await d.read(out, 60));
    expect(Array.from(result)).toEqual(Array.from({ length: 15 }, (_, i) => bias[i % 5]));
  });

  it('shape mismatches throw ShapeError naming the kernel and shapes', () => {
    const d = device();
    const a = tensor(d, randomArray(6, 1), [2, 3]);
    const b = tensor(d, randomArray(8, 2), [4, 2]);
    expect(() => matmul(a, b)).toThrow(ShapeError);
    expect(() => matmul(a, b)).toThrow(/matmul\(a \[2, 3\], b \[4, 2\]\): inner dimensions differ \(a gives k=3, b gives k=4\)/);
    const c = tensor(d, randomArray(2 * 3 * 4, 3), [2, 3, 4]);
    const e = tensor(d, randomArray(3 * 4 * 2, 4), [3, 4, 2]);
    expect(() => matmul(c, e)).toThrow(/batch sizes differ \(a has 2, b has 3\)/);
    expect(() => linear(a, b)).toThrow(/linear\(x \[2, 3\], weight \[4, 2\]\): x's last dimension must be in=4, got 3/);
    // The launcher checks buffer sizes against the shapes before dispatching.
    const before = d.dispatchCount;
    expect(() => launchMatmul(d, { a: a.buffer, b: b.buffer, out: c.buffer, batch: 1, m: 64, k: 64, n: 64 })).toThrow(
      /matmul \(batch=1 m=64 k=64 n=64\): a buffer has \d+ bytes, needs 16384/,
    );
    expect(d.dispatchCount).toBe(before);
    for (const t of [a, b, c, e]) t.release();
  });
});

type SameBitsCase = Pick<MatmulArgs, 'batch' | 'm' | 'k' | 'n' | 'transposeA' | 'transposeB' | 'bBatched'>;

/** Runs each case (with a bias and GELU) under every variant and expects the same bits as the first variant's. */
async function expectSameBits(
  d: Device,
  cases: SameBitsCase[],
  variants: readonly { variant: MatmulVariant; v4Config?: V4ConfigName }[],
  seed: number,
): Promise<void> {
  for (const [index, c] of cases.entries()) {
    const a = randomArray(c.batch * c.m * c.k, seed + index);
    const b = randomArray(c.batch * c.k * c.n, seed + 10 + index);
    const bias = randomArray(c.n, seed + 20 + index);
    const [aBuffer, bBuffer, biasBuffer] = [a, b, bias].map((data) => {
      const buffer = d.allocate(data.byteLength, 'input');
      d.write(buffer, data);
      return buffer;
    });
    const outputs: Buffer[] = [];
    for (const { variant, v4Config } of variants) {
      const out = d.allocate(c.batch * c.m * c.n * 4, 'out');
      launchMatmul(d, { ...c, a: aBuffer, b: bBuffer, out, bias: biasBuffer, epilogue: 'gelu', variant, v4Config });
      outputs.push(Buffer.from(await d.read(out, c.batch * c.m * c.n * 4)));
      d.release(out);
    }
    for (const [i, output] of outputs.entries()) {
      expect(output.equals(outputs[0]), `case ${index}: ${variants[i].variant} vs ${variants[0].variant}`).toBe(true);
    }
    for (const buffer of [aBuffer, bBuffer, biasBuffer]) d.release(buffer);
  }
}
