/**
 * Compares the matmul variants (and every v4 tile config) on the shapes of the "Kernel speed" issue (batch x M x K
 * x N), in GFLOP/s = 2*batch*M*K*N / time, next to the FMA probe measured in the same run. This is what the
 * chooser's table (kernels/matmul/choose-variant.ts) is filled from, per adapter.
 *
 * Each variant is first checked: every config on small cases of every layout and epilogue against the float64
 * reference (`--check`, relative error < 1e-4), and at each benchmarked shape a sample of outputs against float64
 * dot products. Timing: one warm-up, then the median of `--repeats` samples, a sample being as many dispatches in one
 * submit as last about 20 ms (one on lavapipe, many for small shapes on a real GPU), waited for with the quiet wait.
 * The variants' samples interleave, so a drifting machine hits all of them alike.
 *
 *   node dist/bench/matmul-variants.js [--variants v1,v2,v3,v5,v4:128x128k8r8x8 | --variants all] [--check]
 *                                      [--shapes 1024x1024x1024,8x256x64x64] [--repeats 5] [--json FILE]
 *
 * On lavapipe the figures drift +-15% with the machine's load: compare only numbers from the same run.
 */
import { writeFileSync } from 'node:fs';
import { canUseV3, canUseV5, chooseMatmulVariant } from '../kernels/matmul/choose-variant.js';
import { launchMatmul, type MatmulVariant } from '../kernels/matmul/matmul.js';
import { matmulReference } from '../kernels/matmul/reference.js';
import { V4_CONFIGS, type V4ConfigName } from '../kernels/matmul/v4-blocked.wgsl.js';
import { createDevice, type Device } from '../src/gpu/device.js';
import { measureFmaCeiling, median, runsFor, warmUpGpu } from './probes/probes.js';

function option(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

interface Candidate {
  name: string;
  variant: MatmulVariant;
  v4Config?: V4ConfigName;
}

const SAMPLE_TARGET_MS = 20;
const MAX_DISPATCHES_PER_SAMPLE = 256;

function parseCandidates(device: Device, list: string): Candidate[] {
  const all = [
    'v1',
    'v2',
    ...(canUseV3(device) ? ['v3'] : []),
    ...(canUseV5(device) ? ['v5'] : []),
    ...Object.keys(V4_CONFIGS).map((c) => `v4:${c}`),
  ];
  const names = list === 'all' ? all : list.split(',');
  return names.map((name) => {
    const [variant, config] = name.split(':') as [MatmulVariant, V4ConfigName | undefined];
    if (!['v1', 'v2', 'v3', 'v4', 'v5'].includes(variant)) throw new Error(`--variants: unknown variant '${variant}' in '${name}'`);
    if (variant === 'v4' && (!config || !(config in V4_CONFIGS))) {
      throw new Error(`--variants: '${name}' needs one of v4:${Object.keys(V4_CONFIGS).join(', v4:')}`);
    }
    return { name, variant, v4Config: config };
  });
}

/** Deterministic inputs in [-0.5, 0.5). */
function randomData(count: number, seed: number): Float32Array {
  let state = seed;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    state = (state * 1664525 + 1013904223) >>> 0;
    out[i] = state / 2 ** 32 - 0.5;
  }
  return out;
}

function upload(device: Device, data: Float32Array, what: string): GPUBuffer {
  const buffer = device.allocate(data.byteLength, what);
  device.write(buffer, data);
  return buffer;
}

/** Small cases of every layout and epilogue, against the float64 reference: normwise relative error per case. */
async function checkCandidate(device: Device, candidate: Candidate): Promise<number> {
  const cases = [
    { batch: 1, m: 65, k: 37, n: 70, transposeA: false, transposeB: false },
    { batch: 2, m: 132, k: 36, n: 136, transposeA: false, transposeB: false },
    { batch: 2, m: 132, k: 36, n: 136, transposeA: true, transposeB: false },
    { batch: 2, m: 132, k: 36, n: 136, transposeA: false, transposeB: true },
    { batch: 1, m: 65, k: 37, n: 70, transposeA: true, transposeB: true },
    { batch: 1, m: 260, k: 300, n: 516, transposeA: false, transposeB: false },
  ];
  let worst = 0;
  for (const [index, c] of cases.entries()) {
    const a = randomData(c.batch * c.m * c.k, 11 + index);
    const b = randomData(c.batch * c.k * c.n, 23 + index);
    const bias = randomData(c.n, 37 + index);
    const [aBuffer, bBuffer, biasBuffer] = [upload(device, a, 'a'), upload(device, b, 'b'), upload(device, bias, 'bias')];
    const out = device.allocate(c.batch * c.m * c.n * 4, 'out');
    device.write(out, new Float32Array(c.batch * c.m * c.n).fill(Number.NaN)); // Unwritten outputs show as NaN.
    launchMatmul(device, { ...c, a: aBuffer, b: bBuffer, out, bias: biasBuffer, epilogue: 'gelu', variant: candidate.variant, v4Config: candidate.v4Config });
    const got = new Float32Array(await device.read(out, c.batch * c.m * c.n * 4));
    const expected = matmulReference(a, b, { ...c, bias, gelu: true }).out;
    let diff = 0;
    let norm = 0;
    for (let i = 0; i < got.length; i++) {
      diff += (got[i] - expected[i]) ** 2;
      norm += expected[i] ** 2;
    }
    const error = Math.sqrt(diff / norm);
    if (!(error < 1e-4)) throw new Error(`${candidate.name}: case ${JSON.stringify(c)} relative error ${error}`);
    worst = Math.max(worst, error);
    for (const buffer of [aBuffer, bBuffer, biasBuffer, out]) device.release(buffer);
  }
  return worst;
}

const device = await createDevice();
const candidates = parseCandidates(device, option('variants') ?? 'all');
const shapes = (option('shapes') ?? '1x256x256x256,1x1024x1024x1024,1x2048x2048x2048,1x2048x256x1024,8x256x64x64')
  .split(',')
  .map((s) => {
    const dims = s.split('x').map(Number);
    return dims.length === 3 ? [1, ...dims] : dims;
  });
const repeats = Number(option('repeats') ?? 5);
const jsonFile = option('json');
console.log(`adapter: ${device.info.description} (${device.info.vendor}, ${device.info.architecture}, ${device.info.backend})`);

if (process.argv.includes('--check')) {
  for (const candidate of candidates) {
    console.log(`check ${candidate.name}: every layout + bias + GELU, worst relative error ${(await checkCandidate(device, candidate)).toExponential(1)}`);
  }
}

interface Row {
  shape: string;
  ceilingGflops: number;
  figures: { name: string; ms: number; gflops: number; percentOfCeiling: number }[];
  chosen: string;
}
const rows: Row[] = [];
for (const [batch, m, k, n] of shapes) {
  const shape = `${batch}x${m}x${k}x${n}`;
  const a = randomData(batch * m * k, 1);
  const b = randomData(batch * k * n, 2);
  const aBuffer = upload(device, a, 'a');
  const bBuffer = upload(device, b, 'b');
  const out = device.allocate(batch * m * n * 4, 'out');
  const dispatch = (c: Candidate) => launchMatmul(device, { a: aBuffer, b: bBuffer, out, batch, m, k, n, variant: c.variant, v4Config: c.v4Config });
  const perSample: number[] = [];
  for (const candidate of candidates) {
    dispatch(candidate);
    await device.sync(); // Compile and warm up.
    await device.checkCompiled();
    // Spot-check outputs against float64 dot products.
    const result = new Float32Array(await device.read(out, batch * m * n * 4));
    for (let s = 0; s < 32; s++) {
      const [p, i, j] = [(s * 7) % batch, (s * 131 + 5) % m, (s * 977 + 3) % n];
      let expected = 0;
      for (let kk = 0; kk < k; kk++) expected += a[(p * m + i) * k + kk] * b[(p * k + kk) * n + j];
      const got = result[(p * m + i) * n + j];
      if (!(Math.abs(got - expected) <= 1e-4 * Math.sqrt(k) * (1 + Math.abs(expected)))) {
        throw new Error(`${candidate.name} ${shape}: out[${p},${i},${j}] = ${got}, expected ${expected}`);
      }
    }
    const start = performance.now();
    dispatch(candidate);
    await device.sync();
    const once = performance.now() - start;
    perSample.push(runsFor(once, SAMPLE_TARGET_MS, MAX_DISPATCHES_PER_SAMPLE));
  }
  const times: number[][] = candidates.map(() => []);
  await warmUpGpu(device, 300);
  for (let r = 0; r < repeats; r++) {
    for (const [i, candidate] of candidates.entries()) {
      const start = performance.now();
      for (let d = 0; d < perSample[i]; d++) dispatch(candidate);
      await device.sync();
      times[i].push((performance.now() - start) / perSample[i]);
    }
  }
  const probeSize = device.info.isSoftware ? { invocations: 65536, loops: 256 } : { invocations: 1 << 20, loops: 1024 };
  const ceiling = (await measureFmaCeiling(device, probeSize, { targetMs: SAMPLE_TARGET_MS })).gflops;
  const figures = candidates.map((candidate, i) => {
    const ms = median(times[i]);
    const gflops = (2 * batch * m * k * n) / (ms * 1e6);
    return { name: candidate.name, ms, gflops, percentOfCeiling: (100 * gflops) / ceiling };
  });
  const choice = chooseMatmulVariant(device, { batch, m, k, n });
  const chosen = choice.v4Config ? `${choice.variant}:${choice.v4Config}` : choice.variant;
  rows.push({ shape, ceilingGflops: ceiling, figures, chosen });
  const best = [...figures].sort((x, y) => y.gflops - x.gflops)[0];
  console.log(`\n${shape} (FMA probe ${ceiling.toFixed(0)} GFLOP/s; chosen ${chosen}; best ${best.name})`);
  for (const f of figures) {
    console.log(`  ${f.name.padEnd(30)} ${f.gflops.toFixed(1).padStart(9)} GFLOP/s ${f.ms.toFixed(3).padStart(9)} ms ${f.percentOfCeiling.toFixed(0).padStart(4)}%`);
  }
  for (const buffer of [aBuffer, bBuffer, out]) device.release(buffer);
}
if (jsonFile) {
  const { description, vendor, architecture, backend } = device.info;
  writeFileSync(jsonFile, JSON.stringify({ device: { description, vendor, architecture, backend }, rows }, null, 2));
}
device.destroy();
