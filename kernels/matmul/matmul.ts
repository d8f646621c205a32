/**
 * The matmul launcher: out (batch, m, n) = op(A) op(B) (+ bias) (then GELU), float32, on raw GPU buffers.
 * Checks shapes (throwing `ShapeError` before anything is dispatched), picks the variant (choose-variant.ts) and
 * its specialisation, and records one dispatch. A broadcast operand (aBatched/bBatched false) is one matrix used by
 * every batch: that covers `x (T*B*S, H) . W` (batch 1) and the trial axis `x (T, B*S, H) . W (T, H, N)` alike.
 * `launchMatmulPair` records two products (a backward pass's dX and dW) with one v5 pack dispatch for both.
 */
import { packParams, type Device } from '../../src/gpu/device.js';
import { ShapeError } from '../../src/gpu/errors.js';
import { ScratchTextures, type ScratchTexture } from '../../src/gpu/scratch-textures.js';
import { wgslFor } from '../common.js';
import { canUseV3, canUseV5, chooseMatmulVariant, LARGE_V4_CONFIG, v5Fits, type MatmulVariant } from './choose-variant.js';
import type { MatmulSpec } from './matmul-common.wgsl.js';
import { matmulV1Wgsl, V1_TILE } from './v1-naive.wgsl.js';
import { matmulV2Wgsl, V2_TILE } from './v2-tiled.wgsl.js';
import { matmulV3Wgsl, V3_TILE } from './v3-subgroup.wgsl.js';
import { matmulV4Wgsl, V4_CONFIGS, type V4ConfigName } from './v4-blocked.wgsl.js';
import {
  matmulV5PackPairWgsl,
  matmulV5PackWgsl,
  matmulV5Wgsl,
  packedTexels,
  V5_DIRECT_MAX_K,
  V5_DIRECT_MAX_MULTIPLY_ADDS,
  V5_TILE,
  type V5Operand,
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
  /** out += op(A)·op(B) (a gradient added into the one already there); no bias or GELU with it. */
  accumulate?: boolean;
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
    args.accumulate ? 'accumulate' : '',
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
  if (args.accumulate && (args.bias || args.epilogue === 'gelu')) fail('accumulate takes no bias or GELU');
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

/** One checked product, ready to record: its variant, specialisation and uniform fields. */
interface Launch {
  args: MatmulArgs;
  variant: MatmulVariant;
  v4Config?: V4ConfigName;
  spec: MatmulSpec;
  /** The common uniform fields (PARAMS_FIELDS in matmul-common.wgsl.ts); v5 appends its texel offsets. */
  fields: number[];
  outputs: GPUBuffer[]; // out, then bias and preActivation when given
  /** Transposes and epilogue, for kernel names: e.g. `NT_bias_gelu`. */
  name: string;
}

/** Chooses the variant and checks the shapes (throwing ShapeError); records nothing. */
function prepare(device: Device, args: MatmulArgs): Launch {
  const { batch, m, k, n } = args;
  const choice = args.variant ? { variant: args.variant, v4Config: args.v4Config } : chooseMatmulVariant(device, { batch, m, k, n });
  checkArgs(device, args, choice.variant);
  const spec: MatmulSpec = {
    transposeA: args.transposeA ?? false,
    transposeB: args.transposeB ?? false,
    bias: args.bias !== undefined,
    gelu: args.epilogue === 'gelu',
    preActivation: args.preActivation !== undefined,
    // Only when set: the specs (and shader texts) of every other product stay what they were.
    ...(args.accumulate ? { accumulate: true } : {}),
  };
  const aBatchStride = args.aBatched === false ? 0 : m * k;
  const bBatchStride = args.bBatched === false ? 0 : k * n;
  const outputs = [args.out];
  if (args.bias) outputs.push(args.bias);
  if (args.preActivation) outputs.push(args.preActivation);
  const flags = `${spec.transposeA ? 'T' : 'N'}${spec.transposeB ? 'T' : 'N'}`;
  const epilogue = `${spec.bias ? '_bias' : ''}${spec.gelu ? '_gelu' : ''}${spec.preActivation ? '_pre' : ''}${spec.accumulate ? '_acc' : ''}`;
  return {
    args,
    variant: choice.variant,
    v4Config: choice.v4Config,
    spec,
    fields: [m, k, n, aBatchStride, bBatchStride, args.biasBatched ? n : 0],
    outputs,
    name: `${flags}${epilogue}`,
  };
}

/** Records out = op(A) op(B) (+ bias) (GELU). Nothing runs until the device's next submit. */
export function launchMatmul(device: Device, args: MatmulArgs): void {
  record(device, prepare(device, args));
}

/**
 * Records two products, as `launchMatmul(first)` then `launchMatmul(second)` would, with the same variants and the
 * same bits; when both run v5 with packed operands, one dispatch packs the operands of both and one copy puts them
 * in the scratch texture (a backward pass's dX = g·Wᵀ and dW = Xᵀ·g: one pack dispatch instead of two). Second's
 * operands are then read before first's outputs are written, so a pair in which first writes an operand of second
 * is recorded as two launches. Both are shape-checked before anything is recorded.
 */
export function launchMatmulPair(device: Device, first: MatmulArgs, second: MatmulArgs): void {
  const one = prepare(device, first);
  const two = prepare(device, second);
  const layouts = pairLayouts(device, one, two);
  if (!layouts) {
    record(device, one);
    record(device, two);
    return;
  }
  launchV5Pair(device, [one, two], layouts);
}

function record(device: Device, launch: Launch): void {
  const { args, variant, spec, fields, outputs } = launch;
  const { batch, m, k, n } = args;
  if (variant === 'v5') {
    launchV5(device, launch);
    return;
  }
  // v2 and v3 load 4 values at once along an operand's contiguous axis when it is a multiple of 4.
  const vec4 = {
    aVec4: m * k > 0 && (spec.transposeA ? m : k) % 4 === 0,
    bVec4: k * n > 0 && (spec.transposeB ? k : n) % 4 === 0,
  };
  const configName = variant === 'v4' ? (launch.v4Config ?? LARGE_V4_CONFIG) : undefined;
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
    kernel: `${KERNEL}_${variantName.replace(/-/g, '_')}_${launch.name}`,
    wgsl,
    buffers: [args.a, args.b, ...outputs],
    params: packParams(fields),
    workgroups: [Math.ceil(n / tile.cols), Math.ceil(m / tile.rows), batch],
    shapes: describe(args),
  });
}

/** How v5 lays out one product's operands. */
interface V5Layout {
  /** A and B copied into two textures as they are, no pack (see launchV5). */
  direct: boolean;
  /** Texels of packed A (every batch, or one matrix when shared) and of packed B. */
  aTexels: number;
  bTexels: number;
  a: V5Operand;
  b: V5Operand;
}

function v5Layout(device: Device, { args, spec }: Launch): V5Layout {
  const { batch, m, k, n } = args;
  const aBatches = args.aBatched === false ? 1 : batch;
  const bBatches = args.bBatched === false ? 1 : batch;
  // A copy's rows must start every 256 bytes: k and n multiples of 64.
  const direct =
    !spec.transposeA && !spec.transposeB && k > 0 && k <= V5_DIRECT_MAX_K && k % 64 === 0 && n % 64 === 0 &&
    batch * m * k * n <= V5_DIRECT_MAX_MULTIPLY_ADDS &&
    Math.max(aBatches * m, bBatches * k, n / 4) <= device.scratchTextures.maxDimension;
  return {
    direct,
    aTexels: aBatches * packedTexels(m, k),
    bTexels: bBatches * packedTexels(n, k),
    // A texel is one aligned vec4 of the source when its 4 values are contiguous: k for A, n for B.
    a: { transposed: spec.transposeA, vec4: !spec.transposeA && k % 4 === 0 },
    b: { transposed: spec.transposeB, vec4: !spec.transposeB && n % 4 === 0 },
  };
}

/** A pack kernel's name part for one operand: T (transposed) or N, 4 with vec4 loads. */
function operandLayout(o: V5Operand): string {
  return `${o.transposed ? 'T' : 'N'}${o.vec4 ? '4' : ''}`;
}

/**
 * A staging buffer of whole texture rows for `texels` packed texels, filled by `pack`, then copied into the
 * 'matmul' scratch texture; returns the texture.
 */
function packIntoTexture(device: Device, texels: number, pack: (staging: GPUBuffer) => void): ScratchTexture {
  const target = device.scratchTextures.linear('matmul', Math.max(texels, 1));
  if (texels > 0) {
    const width = ScratchTextures.WIDTH;
    const textureRows = Math.ceil(texels / width);
    const staging = device.allocate(textureRows * width * 16, 'matmul v5 packed operands');
    pack(staging);
    device.copyToTexture(staging, target, { width, rows: textureRows, bytesPerRow: width * 16 });
    device.release(staging); // Reused only by later commands, which run after the copy.
  }
  return target;
}

/**
 * v5: packs A and B into the device's scratch texture, then runs the tile loop over it (v5-packed.wgsl.ts); for
 * small products with both operands untransposed and rows a multiple of 256 bytes, copies them as they are instead.
 */
function launchV5(device: Device, launch: Launch): void {
  const { args } = launch;
  const { k, n } = args;
  const layout = v5Layout(device, launch);
  const params = packParams([...launch.fields, 0, layout.aTexels]); // packed B follows packed A
  let operands: GPUTextureView[];
  if (layout.direct) {
    const textures = device.scratchTextures;
    const aRows = (args.aBatched === false ? 1 : args.batch) * args.m;
    const bRows = (args.bBatched === false ? 1 : args.batch) * k;
    const matrixA = textures.get('matmul a', k / 4, Math.max(aRows, 1));
    const matrixB = textures.get('matmul b', n / 4, Math.max(bRows, 1));
    device.copyToTexture(args.a, matrixA, { width: k / 4, rows: aRows, bytesPerRow: k * 4 });
    device.copyToTexture(args.b, matrixB, { width: n / 4, rows: bRows, bytesPerRow: n * 4 });
    operands = [matrixA.view, matrixB.view];
  } else {
    const target = packIntoTexture(device, layout.aTexels + layout.bTexels, (staging) =>
      device.dispatch({
        kernel: `${KERNEL}_v5_pack_${operandLayout(layout.a)}_${operandLayout(layout.b)}`,
        wgsl: wgslFor(matmulV5PackWgsl, layout.a, layout.b),
        buffers: [args.a, args.b, staging],
        params,
        workgroups: [Math.ceil(Math.max(args.m, n) / 32), args.batch],
        shapes: describe(args),
      }),
    );
    operands = [target.view];
  }
  launchV5Tiles(device, launch, layout.direct, operands, params);
}

/** v5's tile loop over operands already in textures (packed, or as they are with `direct`). */
function launchV5Tiles(device: Device, launch: Launch, direct: boolean, operands: GPUTextureView[], params: ArrayBuffer): void {
  const { args, spec, name } = launch;
  const { batch, m, k, n } = args;
  // Small k: the direct layout's streamed loop (v5-streamed.wgsl.ts), specialised on k.
  const streamed = direct && k <= V5_STREAMED_MAX_K;
  device.dispatch({
    kernel: streamed ? `${KERNEL}_v5_streamed_k${k}_${name}` : `${KERNEL}_v5${direct ? '_direct' : ''}_${name}${n % 4 === 0 ? '_vec4out' : ''}`,
    wgsl: streamed ? wgslFor(matmulV5StreamedWgsl, spec, k) : wgslFor(matmulV5Wgsl, spec, n % 4 === 0, direct),
    buffers: [...operands, ...launch.outputs],
    params,
    workgroups: [Math.ceil(n / V5_TILE.cols), Math.ceil(m / V5_TILE.rows), batch],
    shapes: describe(args),
  });
}

/**
 * The layouts of two products that can share one pack dispatch (launchMatmulPair), or null: both must run v5 with
 * packed operands, be non-empty, fit one scratch texture and one staging buffer together, and first must not write
 * an operand of second.
 */
function pairLayouts(device: Device, one: Launch, two: Launch): [V5Layout, V5Layout] | null {
  if (one.variant !== 'v5' || two.variant !== 'v5') return null;
  const empty = ({ args }: Launch) => args.batch * args.m * args.k * args.n === 0;
  if (empty(one) || empty(two)) return null;
  if (one.outputs.some((buffer) => buffer === two.args.a || buffer === two.args.b)) return null;
  const layouts: [V5Layout, V5Layout] = [v5Layout(device, one), v5Layout(device, two)];
  if (layouts.some((layout) => layout.direct)) return null;
  const texels = layouts.reduce((total, layout) => total + layout.aTexels + layout.bTexels, 0);
  const stagingBytes = Math.ceil(texels / ScratchTextures.WIDTH) * ScratchTextures.WIDTH * 16;
  const limits = device.limits;
  if (texels > device.scratchTextures.capacity) return null;
  if (stagingBytes > Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize)) return null;
  if (one.args.batch + two.args.batch > limits.maxComputeWorkgroupsPerDimension) return null;
  return layouts;
}

/**
 * Two v5 products over one pack dispatch and one copy: the texture holds first's A and B, then second's A and B
 * (matmulV5PackPairWgsl), and each tile dispatch reads its own at its texel offsets.
 */
function launchV5Pair(device: Device, launches: [Launch, Launch], layouts: [V5Layout, V5Layout]): void {
  const [one, two] = launches;
  const [first, second] = layouts;
  const secondA = first.aTexels + first.bTexels;
  const offsets = [
    [0, first.aTexels],
    [secondA, secondA + second.aTexels],
  ];
  const params = launches.map((launch, i) => [...launch.fields, ...offsets[i]]);
  const texels = secondA + second.aTexels + second.bTexels;
  const longest = Math.max(one.args.m, one.args.n, two.args.m, two.args.n); // rows of A or columns of B
  const target = packIntoTexture(device, texels, (staging) =>
    device.dispatch({
      kernel: `${KERNEL}_v5_pack_pair_${[first.a, first.b, second.a, second.b].map(operandLayout).join('_')}`,
      wgsl: wgslFor(matmulV5PackPairWgsl, first.a, first.b, second.a, second.b),
      buffers: [one.args.a, one.args.b, two.args.a, two.args.b, staging],
      params: packParams([...params[0], ...params[1], one.args.batch]),
      workgroups: [Math.ceil(longest / 32), one.args.batch + two.args.batch], // one workgroup per 32-row panel
      shapes: `${describe(one.args)} + ${describe(two.args)}`,
    }),
  );
  launches.forEach((launch, i) => launchV5Tiles(device, launch, false, [target.view], packParams(params[i])));
}
