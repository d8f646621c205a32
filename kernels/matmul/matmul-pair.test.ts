/**
 * launchMatmulPair: the two products of a backward pass with one v5 pack dispatch. Each pair is checked three ways:
 * which kernels it dispatched (one `pack_pair` and two tiles when it qualifies, exactly the separate launches'
 * kernels when it does not), its outputs bit for bit against two `launchMatmul` calls on the same operands, and
 * against the float64 reference. Then the autograd ops, whose backward goes through the pair.
 */
import { describe, expect, it } from 'vitest';
import type { Device } from '../../src/gpu/device.js';
import { backward } from '../../src/tensor/autograd.js';
import { tensor } from '../../src/tensor/create.js';
import { linear, matmul } from '../../src/tensor/ops/matmul.js';
import { tidy } from '../../src/tensor/scope.js';
import { expectClose } from '../../test/helpers/compare.js';
import { kernelsOf } from '../../test/helpers/dispatched-kernels.js';
import { useDevice } from '../../test/helpers/gpu.js';
import { randomArray } from '../../test/helpers/random.js';
import { canUseV5 } from './choose-variant.js';
import { launchMatmul, launchMatmulPair, type MatmulArgs, type MatmulVariant } from './matmul.js';
import { matmulReference } from './reference.js';

const device = useDevice();

/** One product of a pair: its shape and flags, and which named matrices are its A and B. */
interface PairProduct {
  batch: number;
  m: number;
  k: number;
  n: number;
  transposeA?: boolean;
  transposeB?: boolean;
  aBatched?: boolean;
  bBatched?: boolean;
  variant?: MatmulVariant;
  a: string;
  b: string;
}

interface PairCase {
  what: string;
  /** Element counts of the named operands (a name used twice is one buffer, like g in a backward pass). */
  matrices: Record<string, number>;
  first: PairProduct;
  second: PairProduct;
  /** Second's A is first's output (the pair must then fall back to two launches). */
  chained?: boolean;
  shared: boolean;
}


const outCount = (p: PairProduct) => p.batch * p.m * p.n;

/**
 * Against float64: 1e-4 of the result's scale up to k = 300 (as the variant tests); a float32 sum in order over
 * k = 2048 terms drifts further (1.1-1.7e-4 seen here, the same bits as two separate launches), so 5e-4 there.
 */
const tolerance = (k: number) => (k <= 300 ? 1e-4 : 5e-4);

function shapeOf(p: PairProduct) {
  const { batch, m, k, n, transposeA, transposeB, aBatched, bBatched } = p;
  return { batch, m, k, n, transposeA, transposeB, aBatched, bBatched };
}

async function runPairCase(d: Device, c: PairCase, seed: number): Promise<void> {
  const data = Object.fromEntries(Object.entries(c.matrices).map(([name, count], i) => [name, randomArray(count, seed + i)]));
  const buffers = Object.fromEntries(
    Object.entries(data).map(([name, values]) => {
      const buffer = d.allocate(values.byteLength, name);
      d.write(buffer, values);
      return [name, buffer];
    }),
  );
  const argsFor = (p: PairProduct, out: GPUBuffer, a = buffers[p.a]): MatmulArgs => ({ ...shapeOf(p), variant: p.variant, a, b: buffers[p.b], out });
  const run = async (paired: boolean) => {
    const out1 = d.allocate(outCount(c.first) * 4, 'first out');
    const out2 = d.allocate(outCount(c.second) * 4, 'second out');
    const first = argsFor(c.first, out1);
    const second = argsFor(c.second, out2, c.chained ? out1 : undefined);
    const kernels = kernelsOf(d, () => {
      if (paired) launchMatmulPair(d, first, second);
      else {
        launchMatmul(d, first);
        launchMatmul(d, second);
      }
    });
    const outputs = [
      new Float32Array(await d.read(out1, outCount(c.first) * 4)),
      new Float32Array(await d.read(out2, outCount(c.second) * 4)),
    ];
    d.release(out1);
    d.release(out2);
    return { kernels, outputs };
  };
  const pair = await run(true);
  const separate = await run(false);

  const tiles = separate.kernels.filter((name) => !name.includes('_pack_'));
  if (c.shared) {
    expect(pair.kernels, c.what).toHaveLength(3);
    expect(pair.kernels[0], c.what).toMatch(/^matmul_v5_pack_pair_/);
    expect(pair.kernels.slice(1), c.what).toEqual(tiles);
    expect(separate.kernels.filter((name) => name.includes('_pack_')), c.what).toHaveLength(2);
  } else {
    expect(pair.kernels, c.what).toEqual(separate.kernels);
  }
  for (const i of [0, 1]) {
    const same = Buffer.from(pair.outputs[i].buffer).equals(Buffer.from(separate.outputs[i].buffer));
    expect(same, `${c.what}: ${i === 0 ? 'first' : 'second'} output, pair vs separate launches`).toBe(true);
  }
  const expected1 = matmulReference(data[c.first.a], data[c.first.b], shapeOf(c.first)).out;
  const secondA = c.chained ? pair.outputs[0] : data[c.second.a];
  const expected2 = matmulReference(secondA, data[c.second.b], shapeOf(c.second)).out;
  expectClose(pair.outputs[0], expected1, tolerance(c.first.k), `${c.what} first`);
  expectClose(pair.outputs[1], expected2, tolerance(c.second.k), `${c.what} second`);
  for (const buffer of Object.values(buffers)) d.release(buffer);
}

/** A linear layer's backward, as productGrads forms it: dX = g·Wᵀ, dW = Xᵀ·g (x (rows, in), W (in, out)). */
function linearBackward(rows: number, inF: number, outF: number): PairCase {
  return {
    what: `linear backward rows=${rows} in=${inF} out=${outF}`,
    matrices: { g: rows * outF, w: inF * outF, x: rows * inF },
    first: { batch: 1, m: rows, k: outF, n: inF, transposeB: true, a: 'g', b: 'w' },
    second: { batch: 1, m: inF, k: rows, n: outF, transposeA: true, a: 'x', b: 'g' },
    shared: true,
  };
}

const qualifying: PairCase[] = [
  // The default model's products (chosen v5 by size, packed: transposed).
  linearBackward(2048, 64, 256),
  linearBackward(2048, 256, 64),
  linearBackward(2048, 64, 64),
  {
    // scores = Q·Kᵀ over 64 (batch, head) pairs, (64, 64, 32): dQ = g·K, dK = gᵀ·Q.
    what: 'attention-like Q·Kᵀ backward, batch 64',
    matrices: { g: 64 * 64 * 64, q: 64 * 64 * 32, k: 64 * 64 * 32 },
    first: { batch: 64, m: 64, k: 64, n: 32, a: 'g', b: 'k' },
    second: { batch: 64, m: 64, k: 64, n: 32, transposeA: true, a: 'g', b: 'q' },
    shared: true,
  },
  {
    // context = P·V: dP = g·Vᵀ, dV = Pᵀ·g.
    what: 'attention-like P·V backward, batch 64',
    matrices: { g: 64 * 64 * 32, p: 64 * 64 * 64, v: 64 * 64 * 32 },
    first: { batch: 64, m: 64, k: 32, n: 64, transposeB: true, a: 'g', b: 'v' },
    second: { batch: 64, m: 64, k: 64, n: 32, transposeA: true, a: 'p', b: 'g' },
    shared: true,
  },
  {
    // Odd shapes (scalar loads, padding of rows, columns and k), different batches, a shared operand.
    what: 'odd shapes, batches 3 and 1, transposes',
    matrices: { a1: 3 * 65 * 37, b1: 3 * 70 * 37, a2: 33 * 7, b2: 65 * 7 },
    first: { batch: 3, m: 65, k: 37, n: 70, transposeA: true, transposeB: true, variant: 'v5', a: 'a1', b: 'b1' },
    second: { batch: 1, m: 33, k: 7, n: 65, transposeB: true, variant: 'v5', a: 'a2', b: 'b2' },
    shared: true,
  },
  {
    what: 'shared A and shared B across batch 3',
    matrices: { a1: 33 * 20, b1: 3 * 20 * 68, a2: 3 * 7 * 33, b2: 7 * 65 },
    first: { batch: 3, m: 33, k: 20, n: 68, aBatched: false, variant: 'v5', a: 'a1', b: 'b1' },
    second: { batch: 3, m: 33, k: 7, n: 65, transposeA: true, bBatched: false, variant: 'v5', a: 'a2', b: 'b2' },
    shared: true,
  },
];

const fallingBack: PairCase[] = [
  {
    // Untransposed, k and n multiples of 64, small: v5 copies A and B as they are (no pack to share).
    what: 'first direct',
    matrices: { a1: 2 * 65 * 64, b1: 2 * 64 * 128, a2: 37 * 65, b2: 37 * 70 },
    first: { batch: 2, m: 65, k: 64, n: 128, variant: 'v5', a: 'a1', b: 'b1' },
    second: { batch: 1, m: 65, k: 37, n: 70, transposeA: true, variant: 'v5', a: 'a2', b: 'b2' },
    shared: false,
  },
  {
    what: 'different variants (v3, v5)',
    matrices: { a1: 65 * 37, b1: 70 * 37, a2: 37 * 65, b2: 37 * 70 },
    first: { batch: 1, m: 65, k: 37, n: 70, transposeB: true, variant: 'v3', a: 'a1', b: 'b1' },
    second: { batch: 1, m: 65, k: 37, n: 70, transposeA: true, variant: 'v5', a: 'a2', b: 'b2' },
    shared: false,
  },
  {
    // Too small for v5 by the chooser's rule: both v3 on lavapipe.
    ...linearBackward(64, 32, 16),
    what: 'small linear backward (chooser: v3)',
    shared: false,
  },
  {
    what: "second's A is first's output",
    matrices: { a1: 65 * 37, b1: 70 * 37, b2: 70 * 33 },
    first: { batch: 1, m: 65, k: 37, n: 70, transposeB: true, variant: 'v5', a: 'a1', b: 'b1' },
    second: { batch: 1, m: 65, k: 70, n: 33, variant: 'v5', a: 'first out', b: 'b2' },
    chained: true,
    shared: false,
  },
];

describe('launchMatmulPair', () => {
  const skipUnlessV5 = (skip: () => void) => {
    if (!canUseV5(device())) {
      console.warn('launchMatmulPair: this device cannot run v5; the pair always falls back (its cases are skipped)');
      skip();
    }
  };
  qualifying.forEach((c, i) => {
    it(`one pack dispatch: ${c.what}`, async ({ skip }) => {
      skipUnlessV5(skip);
      await runPairCase(device(), c, 500 + i * 10);
    });
  });
  fallingBack.forEach((c, i) => {
    it(`falls back to two launches: ${c.what}`, async ({ skip }) => {
      skipUnlessV5(skip);
      await runPairCase(device(), c, 700 + i * 10);
    });
  });
});

describe('backward through the pair', () => {
  /** Runs `forward` with requiresGrad inputs and weights g; returns the dispatched kernels and the gradients. */
  async function gradients(d: Device, inputs: { data: Float32Array; shape: number[] }[], g: Float32Array, forward: (t: ReturnType<typeof tensor>[]) => ReturnType<typeof tensor>) {
    const tensors = inputs.map(({ data, shape }) => tensor(d, data, shape, { requiresGrad: true }));
    let kernels: string[] = [];
    tidy(() => {
      const out = forward(tensors);
      const gradient = tensor(d, g, out.shape);
      kernels = kernelsOf(d, () => backward(out, { gradient }));
      return undefined;
    });
    const grads = await Promise.all(tensors.map((t) => t.grad!.toArray()));
    for (const t of tensors) t.release();
    return { kernels, grads };
  }

  it('linear x (2048, 64) · W (64, 256): dX and dW against float64', async ({ skip }) => {
    if (!canUseV5(device())) skip();
    const [rows, inF, outF] = [2048, 64, 256];
    const x = randomArray(rows * inF, 31);
    const w = randomArray(inF * outF, 32);
    const g = randomArray(rows * outF, 33);
    const { kernels, grads } = await gradients(device(), [{ data: x, shape: [rows, inF] }, { data: w, shape: [inF, outF] }], g, ([xt, wt]) => linear(xt, wt));
    expect(kernels.filter((name) => name.startsWith('matmul_v5_pack'))).toEqual(['matmul_v5_pack_pair_N4_T_T_N4']);
    expectClose(grads[0], matmulReference(g, w, { batch: 1, m: rows, k: outF, n: inF, transposeB: true }).out, tolerance(outF), 'dX');
    expectClose(grads[1], matmulReference(x, g, { batch: 1, m: inF, k: rows, n: outF, transposeA: true }).out, tolerance(rows), 'dW');
  });

  it('matmul Aᵀ (64, 32, 64) · shared B (32, 32): dA batched, dB summed over the batch', async ({ skip }) => {
    if (!canUseV5(device())) skip();
    const [batch, m, k, n] = [64, 64, 32, 32];
    const a = randomArray(batch * k * m, 41); // stored (batch, k, m)
    const b = randomArray(k * n, 42);
    const g = randomArray(batch * m * n, 43);
    const { kernels, grads } = await gradients(device(), [{ data: a, shape: [batch, k, m] }, { data: b, shape: [k, n] }], g, ([at, bt]) =>
      matmul(at, bt, { transposeA: true }),
    );
    const packs = kernels.filter((name) => name.startsWith('matmul_v5_pack'));
    expect(packs).toHaveLength(1);
    expect(packs[0]).toMatch(/^matmul_v5_pack_pair_/);
    // dA (batch, k, m) = B gᵀ per batch; dB (k, n) = Σ_batch A_batch g_batch.
    expectClose(grads[0], matmulReference(b, g, { batch, m: k, k: n, n: m, transposeB: true, aBatched: false }).out, 1e-4, 'dA');
    const perBatch = matmulReference(a, g, { batch, m: k, k: m, n });
    const dB = new Float64Array(k * n);
    for (let i = 0; i < perBatch.out.length; i++) dB[i % (k * n)] += perBatch.out[i];
    expectClose(grads[1], dB, 1e-4, 'dB');
  });
});
