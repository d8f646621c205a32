/**
 * The matmul launcher: out (batch, m, n) = op(A) op(B) (+ bias) (then GELU), float32, on raw GPU buffers.
 * Checks shapes (throwing `ShapeError` before anything is dispatched), picks the variant (choose-variant.ts) and
 * its specialisation, and records one dispatch. A broadcast operand (aBatched/bBatched false) is one matrix used by
 * every batch: that covers `x (T*B*S, H) . W` (batch 1) and the trial axis `x (T, B*S, H) . W (T, H, N)` alike.
 */
import { packParams, type Device } from '../../src/gpu/device.js';
import { ShapeError } from '../../src/gpu/errors.js';
import { ScratchTextures } from '../../src/gpu/scratch-textures.js';
import { wgslFor } from '../common.js';
import { canUseV3, canUseV5, chooseMatmulVariant, LARGE_V4_CONFIG, v5Fits, type MatmulVariant } from './choose-variant.js';
import type { MatmulSpec } from './matmul-common.wgsl.js';
import { matmulV1Wgsl, V1_TILE } from './v1-naive.wgsl.js';
import { matmulV2Wgsl, V2_TILE } from './v2-tiled.wgsl.js';
import { matmulV3Wgsl, V3_TILE } from './v3-subgroup.wgsl.js';
import { matmulV4Wgsl, V4_CONFIGS, type V4ConfigName } from './v4-blocked.wgsl.js';
import {
  matmulV5PackWgsl,
  matmulV5Wgsl,
  packedTexels,
  V5_DIRECT_MAX_K,
  V5_DIRECT_MAX_MULTIPLY_ADDS,
  V5_TILE,
} from './v5-packed.wgsl.js';
import { matmulV5StreamedWgsl, V5_STREAMED_MAX_K } from './v5-streamed.wgsl.js';

export type { MatmulVariant } from './choose-variant.js';

export interface MatmulArgs {
  a: GPUBuffer; // (batch|1, m, k), or (batch|1, k, m) with transposeA
  b: GPUBuffer; // (batch|1, k, n), or (batch|1, n, k) with transposeB
  out: GPUBuffer; // (batch, m, n)
  batch: number;
  m: number;
  k: number;
  n: number;
  transposeA?: boolean;
  transposeB?: boolean;
  /** false: A is one matrix shared by every batch (default true). */
  aBatched?: boolean;
  bBatched?: boolean;
  bias?: GPUBuffer; // (n), or (batch, n) with biasBatched
  biasBatched?: boolean;
  /** 'gelu': BERT's tanh GELU after the bias. */
  epilogue?: 'none' | 'gelu';
  /** With epilogue 'gelu': also written, the value before GELU. */
  preActivation?: GPUBuffer; // (batch, m, n)
  /** Force a variant (tests, benchmarks); default: chooseMatmulVariant. */
  variant?: MatmulVariant;
  /** v4's tile config (tests, benchmarks); default: the chooser's. */
  v4Config?: V4ConfigName;
}

const KERNEL = 'matmul';

function describe(args: MatmulArgs): string {
  const flags = [
    args.transposeA ? 'transposeA' : '',
    args.transposeB ? 'transposeB' : '',
    args.aBatched === false ? 'a shared' : '',
    args.bBatched === false ? 'b shared' : '',
    args.bias ? (args.biasBatched ? 'bias (batch, n)' : 'bias (n)') : '',
    args.epilogue === 'gelu' ? 'gelu' : '',
  ].filter(Boolean);
  return `batch=${args.batch} m=${args.m} k=${args.k} n=${args.n}${flags.length ? ' ' + flags.join(' ') : ''}`;
}

function checkArgs(device: Device, args: MatmulArgs, variant: MatmulVariant): void {
  const shapes = describe(args);
  const fail = (message: string) => {
    throw new ShapeError(`${KERNEL} (${shapes}): ${message}`);
  };
  for (const name of ['batch', 'm', 'k', 'n'] as const) {
    const value = args[name];
    if (!Number.isInteger(value) || value < 0) fail(`${name} must be a non-negative integer, got ${value}`);
  }
  const { batch, m, k, n } = args;
  const aCount = (args.aBatched === false ? 1 : batch) * m * k;
  const bCount = (args.bBatched === false ? 1 : batch) * k * n;
  if (Math.max(aCount, bCount, batch * m * n) > 0xffffffff / 4) fail('too many elements for u32 indexing');
  const needs = (what: string, buffer: GPUBuffer, count: number) => {
    if (buffer.size < count * 4) fail(`${what} buffer has ${buffer.size} bytes, needs ${count * 4} (${count} floats)`);
  };
  needs('a', args.a, aCount);
  needs('b', args.b, bCount);
  needs('out', args.out, batch * m * n);
  if (args.bias) needs('bias', args.bias, (args.biasBatched ? batch : 1) * n);
  else if (args.biasBatched) fail('biasBatched is set without a bias');
  if (args.preActivation) {
    if (args.epilogue !== 'gelu') fail("preActivation is only written with epilogue 'gelu'");
    needs('preActivation', args.preActivation, batch * m * n);
  }
  if (variant === 'v3' && !canUseV3(device)) {
    fail('variant v3 needs the subgroups feature with 8-lane subgroups, which this device does not have');
  }
  if (variant === 'v5' && !canUseV5(device)) {
    fail('variant v5 needs 8-lane subgroups and WGSL storage-texture reads, which this device does not have');
  }
  if (variant === 'v5' && !v5Fits(device, args)) {
    fail("the packed operands are larger than this device's largest texture");
  }
}

/** Records out = op(A) op(B) (+ bias) (GELU). Nothing runs until the device's next submit. */
export function launchMatmul(device: Device, args: MatmulArgs): void {
  const { batch, m, k, n } = args;
  const choice = args.variant ? { variant: args.variant, v4Config: args.v4Config } : chooseMatmulVariant(device, { batch, m, k, n });
  const variant = choice.variant;
  checkArgs(device, args, variant);
  const spec: MatmulSpec = {
    transposeA: args.transposeA ?? false,
    transposeB: args.transposeB ?? false,
    bias: args.bias !== undefined,
    gelu: args.epilogue === 'gelu',
    preActivation: args.preActivation !== undefined,
  };
  // The common uniform fields (PARAMS_FIELDS in matmul-common.wgsl.ts); v5 appends one.
  const aBatchStride = args.aBatched === false ? 0 : m * k;
  const bBatchStride = args.bBatched === false ? 0 : k * n;
  const fields = [m, k, n, aBatchStride, bBatchStride, args.biasBatched ? n : 0];
  const outputs = [args.out];
  if (args.bias) outputs.push(args.bias);
  if (args.preActivation) outputs.push(args.preActivation);
  const flags = `${spec.transposeA ? 'T' : 'N'}${spec.transposeB ? 'T' : 'N'}`;
  const epilogue = `${spec.bias ? '_bias' : ''}${spec.gelu ? '_gelu' : ''}${spec.preActivation ? '_pre' : ''}`;
  if (variant === 'v5') {
    launchV5(device, args, spec, fields, outputs, `${flags}${epilogue}`);
    return;
  }
  // v2 and v3 load 4 values at once along an operand's contiguous axis when it is a multiple of 4.
  const vec4 = {
    aVec4: m * k > 0 && (spec.transposeA ? m : k) % 4 === 0,
    bVec4: k * n > 0 && (spec.transposeB ? k : n) % 4 === 0,
  };
  const configName = variant === 'v4' ? (choice.v4Config ?? LARGE_V4_CONFIG) : undefined;
  if (configName !== undefined && !V4_CONFIGS[configName]) {
    throw new ShapeError(`${KERNEL} (${describe(args)}): unknown v4 config '${configName}'`);
  }
  // wgslFor builds each specialisation's text once (v4's unrolled text is ~20 KB).
  let wgsl: string;
  let tile: { rows: number; cols: number };
  switch (variant) {
    case 'v1':
      wgsl = wgslFor(matmulV1Wgsl, spec);
      tile = V1_TILE;
      break;
    case 'v2':
      wgsl = wgslFor(matmulV2Wgsl, { ...spec, ...vec4 });
      tile = V2_TILE;
      break;
    case 'v3':
      wgsl = wgslFor(matmulV3Wgsl, { ...spec, ...vec4, kTail: k % 4 !== 0 });
      tile = V3_TILE;
      break;
    case 'v4': {
      const config = V4_CONFIGS[configName!];
      wgsl = wgslFor(matmulV4Wgsl, { ...spec, ...vec4 }, config);
      tile = config;
      break;
    }
  }
  const variantName = configName ? `v4_${configName}` : variant;
  device.dispatch({
    kernel: `${KERNEL}_${variantName.replace(/-/g, '_')}_${flags}${epilogue}`,
    wgsl,
    buffers: [args.a, args.b, ...outputs],
    params: packParams(fields),
    workgroups: [Math.ceil(n / tile.cols), Math.ceil(m / tile.rows), batch],
    shapes: describe(args),
  });
}

/**
 * v5: packs A and B into the device's scratch texture, then runs the tile loop over it (v5-packed.wgsl.ts); for
 * small products with both operands untransposed and rows a multiple of 256 bytes, copies them as they are instead.
 */
function launchV5(
  device: Device,
  args: MatmulArgs,
  spec: MatmulSpec,
  fields: number[],
  outputs: GPUBuffer[],
  name: string,
): void {
  const { batch, m, k, n } = args;
  const shapes = describe(args);
  const aBatched = args.aBatched !== false;
  const bBatched = args.bBatched !== false;
  const aRows = (aBatched ? batch : 1) * m;
  const bRows = (bBatched ? batch : 1) * k;
  const aTexels = (aBatched ? batch : 1) * packedTexels(m, k);
  const texels = aTexels + (bBatched ? batch : 1) * packedTexels(n, k);
  const params = packParams([...fields, aTexels]); // bTexelOffset: packed B follows packed A
  const textures = device.scratchTextures;
  // A copy's rows must start every 256 bytes: k and n multiples of 64.
  const direct =
    !spec.transposeA && !spec.transposeB && k > 0 && k <= V5_DIRECT_MAX_K && k % 64 === 0 && n % 64 === 0 &&
    batch * m * k * n <= V5_DIRECT_MAX_MULTIPLY_ADDS && Math.max(aRows, bRows, n / 4) <= textures.maxDimension;
  let operands: GPUTextureView[];
  if (direct) {
    const matrixA = textures.get('matmul a', k / 4, Math.max(aRows, 1));
    const matrixB = textures.get('matmul b', n / 4, Math.max(bRows, 1));
    device.copyToTexture(args.a, matrixA, { width: k / 4, rows: aRows, bytesPerRow: k * 4 });
    device.copyToTexture(args.b, matrixB, { width: n / 4, rows: bRows, bytesPerRow: n * 4 });
    operands = [matrixA.view, matrixB.view];
  } else {
    const target = textures.linear('matmul', Math.max(texels, 1));
    if (texels > 0) {
      // A texel is one aligned vec4 of the source when its 4 values are contiguous: k for A, n for B.
      const a = { transposed: spec.transposeA, vec4: !spec.transposeA && k % 4 === 0 };
      const b = { transposed: spec.transposeB, vec4: !spec.transposeB && n % 4 === 0 };
      const textureRows = Math.ceil(texels / ScratchTextures.WIDTH);
      const staging = device.allocate(textureRows * ScratchTextures.WIDTH * 16, 'matmul v5 packed operands');
      const layout = (o: { transposed: boolean; vec4: boolean }) => `${o.transposed ? 'T' : 'N'}${o.vec4 ? '4' : ''}`;
      device.dispatch({
        kernel: `${KERNEL}_v5_pack_${layout(a)}_${layout(b)}`,
        wgsl: wgslFor(matmulV5PackWgsl, a, b),
        buffers: [args.a, args.b, staging],
        params,
        workgroups: [Math.ceil(Math.max(m, n) / 32), batch],
        shapes,
      });
      const width = ScratchTextures.WIDTH;
      device.copyToTexture(staging, target, { width, rows: textureRows, bytesPerRow: width * 16 });
      device.release(staging); // Reused only by later commands, which run after the copy.
    }
    operands = [target.view];
  }
  // Small k: the direct layout's streamed loop (v5-streamed.wgsl.ts), specialised on k.
  const streamed = direct && k <= V5_STREAMED_MAX_K;
  device.dispatch({
    kernel: streamed ? `${KERNEL}_v5_streamed_k${k}_${name}` : `${KERNEL}_v5${direct ? '_direct' : ''}_${name}${n % 4 === 0 ? '_vec4out' : ''}`,
    wgsl: streamed ? wgslFor(matmulV5StreamedWgsl, spec, k) : wgslFor(matmulV5Wgsl, spec, n % 4 === 0, direct),
    buffers: [...operands, ...outputs],
    params,
    workgroups: [Math.ceil(n / V5_TILE.cols), Math.ceil(m / V5_TILE.rows), batch],
    shapes,
  });
}
