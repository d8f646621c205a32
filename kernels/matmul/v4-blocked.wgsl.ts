/**
 * Matmul v4, for hardware GPUs: large output tiles (up to 128x128) per workgroup, A and B staged k-major in
 * workgroup memory, and a big register block per invocation (up to 8x8, as vec4s along n). The classic SGEMM recipe
 * (CUTLASS's and cuBLAS's fp32 kernels, and the "outer product from shared memory" kernels written for WebGPU):
 * each k step an invocation reads TM/4 + TN/4 vec4s from workgroup memory and does TM*TN multiply-adds, so the
 * arithmetic-to-load ratio grows with the block, which v2's 4x4 block cannot reach.
 *
 * Parametric (`V4Config`): tile rows/cols, k step, the register block, and whether the next k step's tile is loaded
 * from memory into registers while the current one is computed (prefetch: the loads' latency hides behind the FMAs).
 * The chooser's table picks a config per adapter; bench/matmul-variants.ts times every config in V4_CONFIGS.
 *
 * The code is generated unrolled: accumulators are separate variables and every index into them is a constant, so
 * no compiler can move them to local memory. An invocation's rows are 4-row groups strided by the workgroup's height
 * (and columns likewise), so neighbouring invocations read neighbouring vec4s of the tiles (no bank conflicts on
 * B, broadcast on A) and write neighbouring outputs.
 *
 * Loads are guarded like v2's: indices clamped into the matrix, values outside zeroed, so every shape and
 * transposition is correct without padding; vec4 loads along an operand's contiguous axis when it is a multiple of 4.
 */
import { range } from '../common.js';
import { accessorsWgsl, bindingsWgsl, epilogueWgsl, type MatmulSpec } from './matmul-common.wgsl.js';

export interface V4Config {
  /** Output rows and columns per workgroup. */
  rows: number;
  cols: number;
  /** k per workgroup-memory tile. */
  kStep: number;
  /** Register block per invocation (multiples of 4). */
  rowsPerThread: number;
  colsPerThread: number;
  /** Load the next tile into registers while computing this one. */
  prefetch: boolean;
}

/** Candidates the benchmark times; names are what the chooser's table and the figures refer to. */
export const V4_CONFIGS = {
  '128x128k8r8x8': { rows: 128, cols: 128, kStep: 8, rowsPerThread: 8, colsPerThread: 8, prefetch: true },
  '128x128k16r8x8': { rows: 128, cols: 128, kStep: 16, rowsPerThread: 8, colsPerThread: 8, prefetch: true },
  '128x128k8r8x8-noprefetch': { rows: 128, cols: 128, kStep: 8, rowsPerThread: 8, colsPerThread: 8, prefetch: false },
  '128x64k16r8x4': { rows: 128, cols: 64, kStep: 16, rowsPerThread: 8, colsPerThread: 4, prefetch: true },
  '64x128k16r4x8': { rows: 64, cols: 128, kStep: 16, rowsPerThread: 4, colsPerThread: 8, prefetch: true },
  '64x64k16r4x4': { rows: 64, cols: 64, kStep: 16, rowsPerThread: 4, colsPerThread: 4, prefetch: true },
  '64x64k8r8x8': { rows: 64, cols: 64, kStep: 8, rowsPerThread: 8, colsPerThread: 8, prefetch: true },
  '64x64k16r8x8': { rows: 64, cols: 64, kStep: 16, rowsPerThread: 8, colsPerThread: 8, prefetch: true },
  '32x64k16r4x4': { rows: 32, cols: 64, kStep: 16, rowsPerThread: 4, colsPerThread: 4, prefetch: true },
  '128x256k8r8x16': { rows: 128, cols: 256, kStep: 8, rowsPerThread: 8, colsPerThread: 16, prefetch: true },
} as const satisfies Record<string, V4Config>;

export type V4ConfigName = keyof typeof V4_CONFIGS;

export interface V4Spec extends MatmulSpec {
  aVec4: boolean;
  bVec4: boolean;
}

/** The workgroup's shape and load counts, checked: every tile load must split evenly over the invocations. */
export function v4Layout(config: V4Config) {
  const { rows, cols, kStep, rowsPerThread, colsPerThread } = config;
  const threadsX = cols / colsPerThread;
  const threadsY = rows / rowsPerThread;
  const threads = threadsX * threadsY;
  const layout = {
    threadsX,
    threadsY,
    threads,
    /** vec4 groups per tile row (A: rows/4 per k; B: cols/4 per k). */
    rowQuads: rows / 4,
    colQuads: cols / 4,
    /** Loads per invocation per tile (vec4 path / scalar path). */
    aVec4Loads: (rows * kStep) / 4 / threads,
    bVec4Loads: (cols * kStep) / 4 / threads,
    aScalarLoads: (rows * kStep) / threads,
    bScalarLoads: (cols * kStep) / threads,
  };
  const whole = [threadsX, threadsY, layout.aVec4Loads, layout.bVec4Loads, kStep / 4, rowsPerThread / 4, colsPerThread / 4];
  if (!whole.every((v) => Number.isInteger(v) && v >= 1) || threads > 256) {
    throw new Error(`matmul v4: config ${JSON.stringify(config)} does not split into whole loads per invocation (≤ 256 invocations)`);
  }
  return layout;
}

/** One operand's global load for slot `s` into registers (`aNext_s` / `bNext_s`), and its store into the tile. */
function operandCode(operand: 'a' | 'b', spec: V4Spec, config: V4Config, s: number): { load: string; store: string } {
  const L = v4Layout(config);
  const isA = operand === 'a';
  const vec4 = isA ? spec.aVec4 : spec.bVec4;
  // Is the operand's contiguous axis k? A (m,k) and Bᵀ (n,k): yes; Aᵀ (k,m) and B (k,n): no.
  const kContiguous = isA ? !spec.transposeA : spec.transposeB;
  const extent = isA ? 'params.m' : 'params.n';
  const base = isA ? 'rowBase' : 'colBase';
  const quads = isA ? L.rowQuads : L.colQuads;
  const size = isA ? config.rows : config.cols;
  const tile = isA ? 'aTile' : 'bTile';
  const reg = `${operand}Next${s}`;
  const e = `(${s}u * ${L.threads}u + thread)`;
  if (vec4) {
    const batchBase = isA ? 'aBase' : 'bBase';
    if (kContiguous) {
      // 4 consecutive k of one row (column): scattered into 4 tile rows.
      const coords = `let r = ${e} / ${config.kStep / 4}u; let kq = (${e} % ${config.kStep / 4}u) * 4u;`;
      const load = `{ ${coords}
    let v = ${operand}[(${batchBase} + min(${base} + r, ${extent} - 1u) * params.k + min(k0 + kq, params.k - 4u)) / 4u];
    ${reg} = select(vec4f(0.0), v, ${base} + r < ${extent} && k0 + kq < params.k); }`;
      const scatter = [0, 1, 2, 3].map((q) => `${tile}[(kq + ${q}u) * ${quads}u + r / 4u][r % 4u] = ${reg}[${q}];`);
      return { load, store: `{ ${coords}\n    ${scatter.join(' ')} }` };
    }
    // 4 consecutive rows (columns) at one k: stored straight into the tile.
    const load = `{ let kk = ${e} / ${quads}u;
    let g = ${e} % ${quads}u;
    let v = ${operand}[(${batchBase} + min(k0 + kk, params.k - 1u) * ${extent} + min(${base} + g * 4u, ${extent} - 4u)) / 4u];
    ${reg} = select(vec4f(0.0), v, ${base} + g * 4u < ${extent} && k0 + kk < params.k); }`;
    return { load, store: `${tile}[${e}] = ${reg};` };
  }
  // Scalars: consecutive slots walk the contiguous axis.
  const coords = kContiguous
    ? `let kk = ${e} % ${config.kStep}u; let r = ${e} / ${config.kStep}u;`
    : `let kk = ${e} / ${size}u; let r = ${e} % ${size}u;`;
  const value = isA
    ? `aAt(aBase, min(rowBase + r, params.m - 1u), min(k0 + kk, params.k - 1u))`
    : `bAt(bBase, min(k0 + kk, params.k - 1u), min(colBase + r, params.n - 1u))`;
  const load = `{ ${coords}
    ${reg} = select(0.0, ${value}, ${base} + r < ${extent} && k0 + kk < params.k); }`;
  const store = `{ ${coords}
    ${tile}[kk * ${quads}u + r / 4u][r % 4u] = ${reg}; }`;
  return { load, store };
}

export function matmulV4Wgsl(spec: V4Spec, config: V4Config): string {
  const L = v4Layout(config);
  const rowGroups = config.rowsPerThread / 4;
  const colGroups = config.colsPerThread / 4;
  const aSlots = spec.aVec4 ? L.aVec4Loads : L.aScalarLoads;
  const bSlots = spec.bVec4 ? L.bVec4Loads : L.bScalarLoads;
  const a = range(aSlots).map((s) => operandCode('a', spec, config, s));
  const b = range(bSlots).map((s) => operandCode('b', spec, config, s));
  const registers = [
    ...range(aSlots).map((s) => `var aNext${s}: ${spec.aVec4 ? 'vec4f' : 'f32'};`),
    ...range(bSlots).map((s) => `var bNext${s}: ${spec.bVec4 ? 'vec4f' : 'f32'};`),
  ].join('\n  ');
  const loads = [...a, ...b].map((c) => c.load).join('\n    ');
  const stores = [...a, ...b].map((c) => c.store).join('\n    ');
  // acc_{i}_{r}_{j}: row 4*(local.y + i*threadsY) + r, columns 4*(local.x + j*threadsX) .. +3.
  const accNames = range(rowGroups).flatMap((i) => range(4).flatMap((r) => range(colGroups).map((j) => `acc_${i}_${r}_${j}`)));
  const inner = [
    ...range(rowGroups).map((i) => `let av${i} = aTile[kk * ${L.rowQuads}u + local.y + ${i * L.threadsY}u];`),
    ...range(colGroups).map((j) => `let bv${j} = bTile[kk * ${L.colQuads}u + local.x + ${j * L.threadsX}u];`),
    ...range(rowGroups).flatMap((i) =>
      range(4).flatMap((r) => range(colGroups).map((j) => `acc_${i}_${r}_${j} = fma(vec4f(av${i}[${r}]), bv${j}, acc_${i}_${r}_${j});`)),
    ),
  ].join('\n      ');
  const epilogue = range(rowGroups)
    .flatMap((i) =>
      range(4).flatMap((r) =>
        range(colGroups).map(
          (j) => `{ let row = rowBase + (local.y + ${i * L.threadsY}u) * 4u + ${r}u;
    let col = colBase + (local.x + ${j * L.threadsX}u) * 4u;
    let v = acc_${i}_${r}_${j};
    storeOutput(batchIndex, row, col, v.x); storeOutput(batchIndex, row, col + 1u, v.y);
    storeOutput(batchIndex, row, col + 2u, v.z); storeOutput(batchIndex, row, col + 3u, v.w); }`,
        ),
      ),
    )
    .join('\n  ');
  const computeTile = `for (var kk = 0u; kk < ${config.kStep}u; kk++) {
      ${inner}
    }`;
  const mainLoop = config.prefetch
    ? `${loads}
  for (var step = 0u; step < steps; step++) {
    ${stores}
    workgroupBarrier();
    if (step + 1u < steps) {
      let k0 = (step + 1u) * ${config.kStep}u;
      ${loads}
    }
    ${computeTile}
    workgroupBarrier();
  }`
    : `for (var step = 0u; step < steps; step++) {
    let k0 = step * ${config.kStep}u;
    ${loads}
    ${stores}
    workgroupBarrier();
    ${computeTile}
    workgroupBarrier();
  }`;
  return /* wgsl */ `
${bindingsWgsl(spec, spec.aVec4 ? 'vec4f' : 'f32', spec.bVec4 ? 'vec4f' : 'f32')}
${accessorsWgsl(spec, !spec.aVec4, !spec.bVec4)}
${epilogueWgsl(spec)}

// [kk * ${L.rowQuads} + g]: rows 4g..4g+3 of the A tile at k = k0 + kk (B likewise, columns).
var<workgroup> aTile: array<vec4f, ${config.kStep * L.rowQuads}>;
var<workgroup> bTile: array<vec4f, ${config.kStep * L.colQuads}>;

@compute @workgroup_size(${L.threadsX}, ${L.threadsY})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u) {
  let batchIndex = group.z;
  let rowBase = group.y * ${config.rows}u;
  let colBase = group.x * ${config.cols}u;
  let aBase = batchIndex * params.aBatchStride;
  let bBase = batchIndex * params.bBatchStride;
  let thread = local.y * ${L.threadsX}u + local.x;
  let steps = (params.k + ${config.kStep - 1}u) / ${config.kStep}u;
  ${accNames.map((name) => `var ${name} = vec4f(0.0);`).join('\n  ')}
  ${registers}
  ${config.prefetch ? 'let k0 = 0u;' : ''}
  ${mainLoop}
  ${epilogue}
}
`;
}
