/**
 * The kernel-level checks every matmul variant must pass, shared by matmul-v{1,2,3,4,5}.test.ts (one file per variant
 * keeps each under ~30 s: lavapipe compiles each specialisation in seconds, so the cases are chosen to cover every
 * code path with few specialisations). Each case runs against the float64 reference on fresh random inputs with
 * poisoned outputs (useDevice), relative error < 1e-4.
 *
 * Coverage: m, k, n of 1, 7, 33, 257 and tile-straddling 65/70; k = 1; batch 1 and 3; all four transpositions;
 * A or B shared across the batch; epilogues bias (shared and per batch), bias + GELU + pre-activation, GELU alone.
 * For v3 the shapes also cover scalar loads with a k tail, vec4 loads, and vec4 loads with a k tail; for v5, packing
 * with every layout, padding of rows, columns and k, a shared operand packed once, and the direct (unpacked) reads.
 */
import { describe, expect, it } from 'vitest';
import type { Device } from '../../src/gpu/device.js';
import { expectClose } from './compare.js';
import { randomArray } from './random.js';
import { canUseV3, canUseV5 } from '../../kernels/matmul/choose-variant.js';
import { launchMatmul, type MatmulVariant } from '../../kernels/matmul/matmul.js';
import type { V4ConfigName } from '../../kernels/matmul/v4-blocked.wgsl.js';
import { matmulReference } from '../../kernels/matmul/reference.js';

export interface KernelCase {
  batch: number;
  m: number;
  k: number;
  n: number;
  transposeA?: boolean;
  transposeB?: boolean;
  aBatched?: boolean;
  bBatched?: boolean;
  bias?: 'shared' | 'batched';
  gelu?: boolean;
  preActivation?: boolean;
}

const transposes = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

/** Odd shapes (scalar loads, k tails) and multiples of 4 (vec4 loads), under every transposition. */
const shapeCases: KernelCase[] = transposes.flatMap(([transposeA, transposeB]) => [
  { batch: 1, m: 1, k: 1, n: 1, transposeA, transposeB },
  { batch: 1, m: 7, k: 33, n: 5, transposeA, transposeB },
  { batch: 3, m: 33, k: 1, n: 7, transposeA, transposeB },
  { batch: 1, m: 257, k: 7, n: 33, transposeA, transposeB },
  { batch: 1, m: 5, k: 257, n: 3, transposeA, transposeB },
  { batch: 2, m: 65, k: 37, n: 70, transposeA, transposeB }, // straddles the 32 and 64 tiles
  { batch: 2, m: 64, k: 20, n: 36, transposeA, transposeB }, // every contiguous axis a multiple of 4
  { batch: 3, m: 33, k: 7, n: 65, transposeA, transposeB, aBatched: false },
  { batch: 3, m: 33, k: 7, n: 65, transposeA, transposeB, bBatched: false },
]);

const otherCases: KernelCase[] = [
  // vec4 loads with a k tail (A transposed with m % 4 == 0, B with n % 4 == 0, k odd).
  { batch: 1, m: 64, k: 33, n: 68, transposeA: true },
  { batch: 3, m: 64, k: 33, n: 68, transposeA: true, bBatched: false },
  // Epilogues (the same code for every layout: tested on the layout `linear` uses).
  { batch: 1, m: 33, k: 7, n: 65, bias: 'shared' },
  { batch: 3, m: 33, k: 7, n: 65, bias: 'batched', bBatched: true },
  { batch: 3, m: 33, k: 7, n: 65, bias: 'shared', aBatched: false },
  { batch: 3, m: 7, k: 33, n: 65, bias: 'batched', gelu: true, preActivation: true, aBatched: true, bBatched: true },
  { batch: 1, m: 257, k: 33, n: 1, bias: 'shared', gelu: true, preActivation: true },
  { batch: 3, m: 7, k: 33, n: 68, bias: 'batched', gelu: true, preActivation: true }, // n % 4 = 0: v5's vec4 stores
  // Untransposed, k and n multiples of 64, k <= 256: v5 reads A and B as they are ("direct").
  { batch: 2, m: 65, k: 64, n: 128 },
  { batch: 3, m: 33, k: 128, n: 64, aBatched: false },
  { batch: 2, m: 40, k: 256, n: 64, bBatched: false },
  { batch: 3, m: 40, k: 64, n: 64, bBatched: false, bias: 'batched', gelu: true, preActivation: true },
  { batch: 2, m: 7, k: 5, n: 33, gelu: true },
];

const layoutCases: KernelCase[] = [
  ...transposes.flatMap(([transposeA, transposeB]) => [
    { batch: 1, m: 65, k: 37, n: 70, transposeA, transposeB },
    { batch: 2, m: 132, k: 36, n: 136, transposeA, transposeB, bias: 'shared' as const },
  ]),
  { batch: 3, m: 33, k: 20, n: 68, bBatched: false, gelu: true, preActivation: true },
];

function label(c: KernelCase): string {
  const flags = [
    c.transposeA ? 'Aᵀ' : '',
    c.transposeB ? 'Bᵀ' : '',
    c.aBatched === false ? 'A shared' : '',
    c.bBatched === false ? 'B shared' : '',
    c.bias ? `bias ${c.bias}` : '',
    c.gelu ? 'gelu' : '',
    c.preActivation ? 'pre' : '',
  ].filter(Boolean);
  return `${c.batch}x${c.m}x${c.k}x${c.n}${flags.length ? ' ' + flags.join(' ') : ''}`;
}

export async function runKernelCase(
  device: Device,
  variant: MatmulVariant,
  c: KernelCase,
  seed: number,
  v4Config?: V4ConfigName,
): Promise<void> {
  const aCount = (c.aBatched === false ? 1 : c.batch) * c.m * c.k;
  const bCount = (c.bBatched === false ? 1 : c.batch) * c.k * c.n;
  const outCount = c.batch * c.m * c.n;
  const a = randomArray(aCount, seed);
  const b = randomArray(bCount, seed + 1);
  const bias = c.bias ? randomArray((c.bias === 'batched' ? c.batch : 1) * c.n, seed + 2) : undefined;
  const upload = (data: Float32Array, what: string) => {
    const buffer = device.allocate(data.byteLength, what);
    device.write(buffer, data);
    return buffer;
  };
  const aBuffer = upload(a, 'a');
  const bBuffer = upload(b, 'b');
  const biasBuffer = bias ? upload(bias, 'bias') : undefined;
  const out = device.allocate(outCount * 4, 'out');
  const pre = c.preActivation ? device.allocate(outCount * 4, 'pre') : undefined;
  launchMatmul(device, {
    a: aBuffer,
    b: bBuffer,
    out,
    batch: c.batch,
    m: c.m,
    k: c.k,
    n: c.n,
    transposeA: c.transposeA,
    transposeB: c.transposeB,
    aBatched: c.aBatched,
    bBatched: c.bBatched,
    bias: biasBuffer,
    biasBatched: c.bias === 'batched',
    epilogue: c.gelu ? 'gelu' : 'none',
    preActivation: pre,
    variant,
    v4Config,
  });
  const expected = matmulReference(a, b, { ...c, bias, biasBatched: c.bias === 'batched' });
  // k <= 300 here: float32 accumulation error stays well under the 1e-4 tolerance.
  const name = `${variant}${v4Config ? ' ' + v4Config : ''} ${label(c)}`;
  expectClose(new Float32Array(await device.read(out, outCount * 4)), expected.out, 1e-4, name);
  if (pre) {
    expectClose(new Float32Array(await device.read(pre, outCount * 4)), expected.preActivation, 1e-4, `${name} pre`);
  }
  for (const buffer of [aBuffer, bBuffer, biasBuffer, out, pre]) if (buffer) device.release(buffer);
}

/**
 * Every case for `variant` (with v4, for config `v4Config`). `only: 'layouts'` keeps one scalar-load and one
 * vec4-load shape per transposition plus a shared B with every epilogue; `only: 'two'` one scalar-load case and one
 * vec4-load case with both operands transposed: enough for v4's other configs, whose code differs from the fully
 * tested ones only in its constants (lavapipe compiles each specialisation in seconds, so the cases are few).
 */
export function defineVariantTests(
  variant: MatmulVariant,
  device: () => Device,
  options: { v4Config?: V4ConfigName; only?: 'layouts' | 'two' } = {},
): void {
  const { v4Config, only } = options;
  const cases = only === 'layouts' ? layoutCases : only === 'two' ? [layoutCases[0], layoutCases[7]] : [...shapeCases, ...otherCases];
  describe(`matmul ${variant}${v4Config ? ` ${v4Config}` : ''}`, () => {
    const unsupported = () => (variant === 'v3' && !canUseV3(device())) || (variant === 'v5' && !canUseV5(device()));
    it('runs on this device', () => {
      if (unsupported()) console.warn(`matmul ${variant}: this device lacks what it needs; its cases are skipped`);
      expect(device()).toBeDefined();
    });
    cases.forEach((c, i) => {
      it(label(c), async ({ skip }) => {
        if (unsupported()) skip();
        await runKernelCase(device(), variant, c, 1000 + i * 7, v4Config);
      });
    });
  });
}
