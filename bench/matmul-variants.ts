/**
 * Compares the matmul variants on the shapes of the "Kernel speed" issue (batch x M x K x N), in GFLOP/s =
 * 2*batch*M*K*N / time. Each variant is checked first (a sampled comparison with a float64 dot product), warmed up,
 * then timed as the median of 5 runs, each one dispatch followed by `device.sync()` (the quiet wait). The repeats
 * interleave the variants and the FMA-ceiling probe, and each figure's % is of the ceiling measured alongside it.
 *
 *   npx vite-node bench/matmul-variants.ts [--variants v1,v2,v3] [--shapes 256x256x256,1x1024x1024x1024]
 *
 * On lavapipe the figures drift +-15% with the machine's load: compare only numbers from the same run.
 */
import { canUseV3, chooseMatmulVariant } from '../kernels/matmul/choose-variant.js';
import { launchMatmul, type MatmulVariant } from '../kernels/matmul/matmul.js';
import { createDevice, packParams } from '../src/tensor/device.js';
import { FMA_CHAINS, FMA_UNROLL, FMA_WORKGROUP, fmaProbeWgsl } from './probes/fma.wgsl.js';

function option(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

const shapes = (option('shapes') ?? '1x256x256x256,1x1024x1024x1024,1x2048x256x1024,8x256x64x64')
  .split(',')
  .map((s) => {
    const dims = s.split('x').map(Number);
    return dims.length === 3 ? [1, ...dims] : dims;
  });
const repeats = Number(option('repeats') ?? 5);

const device = await createDevice();
const variants = (option('variants') ?? 'v1,v2,v3').split(',').filter((v) => v !== 'v3' || canUseV3(device)) as MatmulVariant[];
console.log(`adapter: ${device.info.description} (${device.info.device}); LP_NUM_THREADS=${process.env.LP_NUM_THREADS ?? 'default'}`);

function randomData(count: number, seed: number): Float32Array {
  let state = seed;
  return Float32Array.from({ length: count }, () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  });
}

/** lavapipe's multiply-add ceiling now (PEERS.md's probe, one timed run), so each figure reads as a share of it. */
const probeCount = 256 * 256;
const probeLoops = 1000;
const probeOut = device.allocate(probeCount * 4, 'fma probe');
async function fmaCeilingOnce(): Promise<number> {
  const start = performance.now();
  device.dispatch({
    kernel: 'fma_probe',
    wgsl: fmaProbeWgsl(),
    buffers: [probeOut],
    params: packParams([probeCount, probeLoops], [0.999, 0.001]),
    workgroups: [probeCount / FMA_WORKGROUP],
    shapes: `count=${probeCount}`,
  });
  await device.sync();
  return (2 * probeCount * probeLoops * FMA_CHAINS * FMA_UNROLL) / ((performance.now() - start) * 1e6);
}
await fmaCeilingOnce(); // Compile.

const rows: string[] = [];
for (const [batch, m, k, n] of shapes) {
  const a = randomData(batch * m * k, 1);
  const b = randomData(batch * k * n, 2);
  const aBuffer = device.allocate(a.byteLength, 'a');
  const bBuffer = device.allocate(b.byteLength, 'b');
  const out = device.allocate(batch * m * n * 4, 'out');
  device.write(aBuffer, a);
  device.write(bBuffer, b);
  const runs = variants.map((variant) => () => launchMatmul(device, { a: aBuffer, b: bBuffer, out, batch, m, k, n, variant }));
  for (const [i, variant] of variants.entries()) {
    runs[i]();
    await device.sync(); // Compile and warm up.
    await device.checkCompiled();
    // Spot-check a few outputs against a float64 dot product.
    const result = new Float32Array(await device.read(out, batch * m * n * 4));
    for (let s = 0; s < 16; s++) {
      const p = (s * 7) % batch;
      const i = (s * 131) % m;
      const j = (s * 977) % n;
      let expected = 0;
      for (let kk = 0; kk < k; kk++) expected += a[(p * m + i) * k + kk] * b[(p * k + kk) * n + j];
      const got = result[(p * m + i) * n + j];
      if (!(Math.abs(got - expected) <= 1e-4 * Math.sqrt(k) * (1 + Math.abs(expected)))) {
        throw new Error(`${variant} ${batch}x${m}x${k}x${n}: out[${p},${i},${j}] = ${got}, expected ${expected}`);
      }
    }
  }
  // Repeats interleaved across the variants (and the ceiling probe), so the machine's drift hits all of them alike.
  const times: number[][] = variants.map(() => []);
  const ceilingTimes: number[] = [];
  for (let r = 0; r < repeats; r++) {
    for (const [i, run] of runs.entries()) {
      const start = performance.now();
      run();
      await device.sync();
      times[i].push(performance.now() - start);
    }
    ceilingTimes.push(await fmaCeilingOnce());
  }
  const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];
  const ceiling = median(ceilingTimes);
  const figures = variants.map((variant, i) => {
    const ms = median(times[i]);
    const gflops = (2 * batch * m * k * n) / (ms * 1e6);
    return `${variant} ${gflops.toFixed(1)} (${ms.toFixed(1)} ms, ${((100 * gflops) / ceiling).toFixed(0)}%)`;
  });
  const chosen = chooseMatmulVariant(device, { batch, m, k, n });
  const row = `${batch}x${m}x${k}x${n}: ${figures.join(' | ')} | chosen: ${chosen} | FMA ceiling ${ceiling.toFixed(1)}`;
  console.log(row);
  rows.push(row);
  for (const buffer of [aBuffer, bBuffer, out]) device.release(buffer);
}
device.destroy();
