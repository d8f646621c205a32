/**
 * `webtrainer bench kernels`: webtrainer's kernels next to the same ops on tfjs-webgpu and jax-js (webgpu), in the
 * same process on the same adapter, with the device's ceilings (FMA and copy probes) and fixed costs (one dispatch,
 * one submit + wait) measured alongside, so every figure can be read as a share of what this device can do.
 *
 * Timing: our own loop, not tinybench: one untimed warm-up run (shader compiles), then the median of at least 5
 * timed runs, each from recording the op to the end of waiting for the GPU (webtrainer: `await device.sync()`;
 * peers: their flush + the same quiet wait), because WebGPU calls only enqueue work. tinybench's per-task async
 * bookkeeping and its time-based sample counts add nothing for runs of milliseconds to seconds.
 *
 * Ops whose module is not written yet (webtrainer's matmul, softmax, layernorm, AdamW are built in parallel) and
 * peers whose packages are not installed appear in `skipped` with the reason; the rest still runs.
 */
import { tensor } from '../src/tensor/create.js';
import { createDevice, type Device } from '../src/gpu/device.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { loadJaxWebgpu } from './peers/jax-webgpu.js';
import { loadTfjsWebgpu } from './peers/tfjs-webgpu.js';
import {
  fmaProbeFlops,
  launchCopyProbe,
  launchFmaProbe,
  measureCopyCeiling,
  measureFixedCost,
  measureFmaCeiling,
  measureWaitStrategies,
  median,
  runsPerSample,
  warmUpGpu,
  type FmaProbeSize,
  type WaitComparison,
} from './probes/probes.js';

export type ImplName = 'webtrainer' | 'tfjs-webgpu' | 'jax-webgpu';
export type OpName = 'matmul' | 'softmax' | 'layernorm' | 'adamw';

export interface KernelResult {
  op: OpName;
  /** matmul: "MxKxN" or "BxMxKxN"; the others: the input's shape, e.g. "4096x512". */
  shape: string;
  impl: ImplName;
  medianMs: number;
  gflops?: number;
  gbps?: number;
}

/**
 * The device's ceiling for one case, measured in turn with the case's implementations (timeInTurn): the FMA probe
 * for matmul, the copy probe moving the case's bytes for the others. A ceiling timed minutes earlier drifts with a
 * shared machine's load; one timed alongside is what "% of the probe" means for that case.
 */
export interface CaseCeiling {
  op: OpName;
  shape: string;
  gflops?: number;
  gbps?: number;
}

export interface SkippedEntry {
  /** What was skipped: an implementation, an op, or one op at one shape. */
  impl?: ImplName;
  op?: OpName;
  shape?: string;
  reason: string;
}

export interface KernelReport {
  device: { description: string; vendor: string; architecture: string; backend: string };
  /** The FMA probe's GFLOP/s and the copy probe's GB/s on this device, measured before the cases. */
  peak: { gflops: number; gbps: number };
  /** Each case's ceiling, measured in turn with it: the "% peak" column. */
  ceilings: CaseCeiling[];
  fixedCost: { dispatchUs: number; submitWaitUs: number };
  /** The same long dispatch waited for with a plain await (Dawn busy-polls) and with the quiet wait. */
  wait?: WaitComparison;
  results: KernelResult[];
  skipped: SkippedEntry[];
}

export interface BenchKernelsOptions {
  /** Leave out the largest shapes (2048³) and use smaller probes. */
  quick?: boolean;
  /** Machine-readable run: no progress lines on stderr. */
  json?: boolean;
  /** Run tfjs-webgpu and jax-js alongside (default true). */
  peers?: boolean;
  /** Tiny shapes and probes, for testing the harness itself in seconds. */
  tiny?: boolean;
  /** Add 4096³ (set for hardware adapters, where the H100 goal is stated at that size). */
  large?: boolean;
  /** Run only these cases: "op" or "op:shape" (e.g. "layernorm", "matmul:8x256x64x64"); all when empty. */
  only?: readonly string[];
}

/** One op at one shape, as every implementation receives it (plus the input data, generated once). */
export type OpCase =
  | { op: 'matmul'; label: string; flops: number; aShape: number[]; bShape: number[] }
  | { op: 'softmax'; label: string; bytes: number; shape: number[] }
  | { op: 'layernorm'; label: string; bytes: number; shape: number[]; paramShape: number[]; eps: number }
  | {
      op: 'adamw';
      label: string;
      bytes: number;
      /** (trial, parameters) */
      shape: [number, number];
      learningRates: number[];
      weightDecays: number[];
      beta1: number;
      beta2: number;
      eps: number;
      step: number;
    };

/**
 * One op at one shape made ready to time: `run(times)` records the op `times` times back to back (default once) and
 * waits for the GPU once, so an op much shorter than a submit + wait round trip is timed by its own work.
 */
export interface PreparedRun {
  run(times?: number): Promise<void>;
  release(): void;
}

/** webtrainer or a peer, behind one interface. */
export interface BenchImpl {
  impl: ImplName;
  /** A prepared run, or the reason this op cannot run here. */
  prepare(c: OpCase, inputs: Float32Array[]): Promise<PreparedRun | string>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// Cases

function matmulCase(batch: number, m: number, k: number, n: number): OpCase {
  const dims = batch > 1 ? [batch, m, k, n] : [m, k, n];
  const lead = batch > 1 ? [batch] : [];
  return {
    op: 'matmul',
    label: dims.join('x'),
    flops: 2 * batch * m * k * n,
    aShape: [...lead, m, k],
    bShape: [...lead, k, n],
  };
}

function softmaxCase(rows: number, cols: number): OpCase {
  // Least traffic: read x once, write y once.
  return { op: 'softmax', label: `${rows}x${cols}`, bytes: 2 * rows * cols * 4, shape: [rows, cols] };
}

function layernormCase(rows: number, hidden: number): OpCase {
  return {
    op: 'layernorm',
    label: `${rows}x${hidden}`,
    bytes: (2 * rows * hidden + 2 * hidden) * 4,
    shape: [rows, hidden],
    paramShape: [hidden],
    eps: 1e-12,
  };
}

function adamwCase(trials: number, size: number): OpCase {
  return {
    op: 'adamw',
    label: `${trials}x${size}`,
    // Reads parameter, gradient, m, v; writes parameter, m, v.
    bytes: 7 * trials * size * 4,
    shape: [trials, size],
    learningRates: Array.from({ length: trials }, (_, t) => 1e-3 * 2 ** -t),
    weightDecays: Array.from({ length: trials }, (_, t) => 0.01 * (t + 1)),
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    step: 10,
  };
}

/** The shapes of the issue: square matmuls, a trial-batched attention-sized one, and BERT-layer-sized ones. */
export function benchCases(options: BenchKernelsOptions = {}): OpCase[] {
  const cases = allCases(options);
  const only = options.only ?? [];
  if (only.length === 0) return cases;
  const chosen = cases.filter((c) => only.some((o) => o === c.op || o === `${c.op}:${c.label}`));
  if (chosen.length === 0) {
    const known = cases.map((c) => `${c.op}:${c.label}`).join(', ');
    throw new Error(`--only ${only.join(',')} matches no benchmark case (cases: ${known})`);
  }
  return chosen;
}

function allCases({ quick = false, tiny = false, large = false }: BenchKernelsOptions): OpCase[] {
  if (tiny) {
    return [
      matmulCase(1, 33, 17, 9),
      matmulCase(2, 7, 5, 3),
      softmaxCase(7, 33),
      layernormCase(7, 33),
      adamwCase(2, 257),
    ];
  }
  return [
    matmulCase(1, 256, 256, 256),
    matmulCase(1, 512, 512, 512),
    matmulCase(1, 1024, 1024, 1024),
    ...(quick ? [] : [matmulCase(1, 2048, 2048, 2048)]),
    ...(large && !quick ? [matmulCase(1, 4096, 4096, 4096)] : []),
    matmulCase(8, 256, 64, 64),
    matmulCase(1, 2048, 256, 256),
    matmulCase(1, 2048, 256, 1024),
    matmulCase(1, 2048, 1024, 256),
    softmaxCase(4096, 512),
    softmaxCase(16384, 128),
    layernormCase(8192, 256),
    layernormCase(4096, 768),
    adamwCase(1, 1 << 22),
    adamwCase(8, 1 << 19),
  ];
}

/** Seeded inputs in [-1, 1) (v, AdamW's second moment, in [0, 1)), the same for every implementation. */
function caseInputs(c: OpCase, seed: number): Float32Array[] {
  let state = seed >>> 0 || 1;
  const random = (length: number, low = -1) =>
    Float32Array.from({ length }, () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return low + ((state >>> 0) / 4294967296) * (1 - low);
    });
  const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  switch (c.op) {
    case 'matmul':
      return [random(size(c.aShape)), random(size(c.bShape))];
    case 'softmax':
      return [random(size(c.shape))];
    case 'layernorm':
      return [random(size(c.shape)), random(size(c.paramShape)), random(size(c.paramShape))];
    case 'adamw': {
      const n = size(c.shape);
      return [random(n), random(n), random(n), random(n, 0)];
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// webtrainer's own ops, loaded when their modules exist

// Non-literal specifiers: the harness builds and runs while an op's module is still being written.
const OP_MODULES: Record<OpName, string> = {
  matmul: '../src/tensor/ops/matmul.js',
  softmax: '../src/tensor/ops/softmax.js',
  layernorm: '../src/tensor/ops/layernorm.js',
  adamw: '../kernels/adamw/adamw.js',
};

type Module = Record<string, unknown>;

async function importOptional(specifier: string): Promise<Module | string> {
  try {
    return (await import(specifier)) as Module;
  } catch (error) {
    const e = error as { code?: string; message?: string };
    const message = e.message ?? '';
    // Only the module itself missing counts as "not written yet"; a module failing on a missing import is a failure.
    const itself = message.includes(specifier) || message.includes(new URL(specifier, import.meta.url).pathname);
    if ((e.code === 'ERR_MODULE_NOT_FOUND' || /Cannot find module|Failed to load url/.test(message)) && itself) {
      return `not written yet (${specifier.replace(/^\.\.\//, '').replace(/\.js$/, '.ts')} is missing)`;
    }
    return `failed to load ${specifier}: ${e.message}`;
  }
}

type AnyFn = (...args: unknown[]) => unknown;

function findExport(module: Module, names: readonly string[]): AnyFn | null {
  for (const name of names) if (typeof module[name] === 'function') return module[name] as AnyFn;
  return null;
}

async function loadWebtrainer(device: Device, skipped: SkippedEntry[]): Promise<BenchImpl> {
  const modules = new Map<OpName, Module>();
  for (const op of Object.keys(OP_MODULES) as OpName[]) {
    const module = await importOptional(OP_MODULES[op]);
    if (typeof module === 'string') skipped.push({ impl: 'webtrainer', op, reason: module });
    else modules.set(op, module);
  }
  const prepare = async (c: OpCase, inputs: Float32Array[]): Promise<PreparedRun | string> => {
    const module = modules.get(c.op);
    if (!module) return 'skipped';
    const held: Tensor[] = [];
    const upload = (data: Float32Array, shape: number[]) => {
      const t = tensor(device, data, shape);
      held.push(t);
      return t;
    };
    let step: () => Tensor[];
    switch (c.op) {
      case 'matmul': {
        const matmul = findExport(module, ['matmul']);
        if (!matmul) return 'src/tensor/ops/matmul.ts exports no matmul()';
        const [a, b] = [upload(inputs[0], c.aShape), upload(inputs[1], c.bShape)];
        step = () => [matmul(a, b) as Tensor];
        break;
      }
      case 'softmax': {
        const softmax = findExport(module, ['softmax']);
        if (!softmax) return 'src/tensor/ops/softmax.ts exports no softmax()';
        const x = upload(inputs[0], c.shape);
        step = () => [softmax(x) as Tensor];
        break;
      }
      case 'layernorm': {
        const layerNorm = findExport(module, ['layerNorm', 'layernorm']);
        if (!layerNorm) return 'src/tensor/ops/layernorm.ts exports no layerNorm()';
        const [x, gamma, beta] = [upload(inputs[0], c.shape), upload(inputs[1], c.paramShape), upload(inputs[2], c.paramShape)];
        step = () => [layerNorm(x, gamma, beta, { eps: c.eps }) as Tensor];
        break;
      }
      case 'adamw':
        return prepareAdamw(device, module, c, inputs);
    }
    return {
      run: async (times = 1) => {
        const outputs = Array.from({ length: times }, () => step()).flat();
        await device.sync();
        for (const out of outputs) out.release();
      },
      release: () => {
        for (const t of held) t.release();
      },
    };
  };
  return { impl: 'webtrainer', prepare, close: async () => undefined };
}

/**
 * AdamW's launcher works on raw buffers: parameter, gradient, m, v of every trial slot updated in place by one
 * dispatch, per-slot hyperparameters in a (ADAMW_FIELD_COUNT, T) table (kernels/adamw/adamw.ts).
 */
async function prepareAdamw(
  device: Device,
  module: Module,
  c: Extract<OpCase, { op: 'adamw' }>,
  inputs: Float32Array[],
): Promise<PreparedRun | string> {
  const launch = findExport(module, ['launchAdamW']);
  const pack = findExport(module, ['packAdamWHyperparameters']);
  if (!launch || !pack) return `kernels/adamw/adamw.ts exports no launchAdamW()/packAdamWHyperparameters()`;
  const [trials, size] = c.shape;
  const [param, grad, m, v] = inputs.map((data, i) => {
    const b = device.allocate(data.byteLength, `bench adamw ${['param', 'grad', 'm', 'v'][i]}`);
    device.write(b, data);
    return b;
  });
  const slots = c.learningRates.map((lr, t) => ({ lr, beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecays[t] }));
  const table = pack(slots, slots.map(() => c.step)) as Float32Array;
  const hyper = device.allocate(table.byteLength, 'bench adamw hyper');
  device.write(hyper, table);
  const launchOnce = () => launch(device, { param, grad, m, v, hyper, slots: trials, elementsPerSlot: size, weightDecay: true });
  return launchesThenSync(device, launchOnce, [param, grad, m, v, hyper]);
}

/** A run that records `launch` `times` times and waits once; releasing it returns `buffers` to the pool. */
function launchesThenSync(device: Device, launch: () => void, buffers: GPUBuffer[]): PreparedRun {
  return {
    run: async (times = 1) => {
      for (let i = 0; i < times; i++) launch();
      await device.sync();
    },
    release: () => {
      for (const b of buffers) device.release(b);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The run

function throughput(c: OpCase, ms: number): Pick<KernelResult, 'gflops' | 'gbps'> {
  return c.op === 'matmul' ? { gflops: c.flops / (ms * 1e6) } : { gbps: c.bytes / (ms * 1e6) };
}

/** A sample repeats a short op within one submit until it lasts about this long (bench/README.md). */
const SAMPLE_TARGET_MS = 40;
const MAX_RUNS_PER_SAMPLE = 64;

/**
 * The case's ceiling as a run timed in turn with the implementations: FMA probe dispatches of the start-of-run
 * size (matmul), or a copy probe reading and writing the case's bytes (the others).
 */
function prepareCeiling(device: Device, c: OpCase, fmaSize: FmaProbeSize): { run: PreparedRun; rate: (ms: number) => number } {
  if (c.op === 'matmul') {
    const output = device.allocate(fmaSize.invocations * 4, 'bench fma probe');
    return {
      run: launchesThenSync(device, () => launchFmaProbe(device, output, fmaSize), [output]),
      rate: (ms) => fmaProbeFlops(fmaSize) / (ms * 1e6),
    };
  }
  const bytes = Math.max(16, Math.round(c.bytes / 2 / 16) * 16);
  const [source, target] = [device.allocate(bytes, 'bench copy probe source'), device.allocate(bytes, 'bench copy probe target')];
  return {
    run: launchesThenSync(device, () => launchCopyProbe(device, source, target, bytes), [source, target]),
    rate: (ms) => (2 * bytes) / (ms * 1e6),
  };
}

/** One implementation's samples of one case, taken in turn with the others'. */
interface Sampling {
  prepared: PreparedRun;
  /** Runs per sample, sized from a first single run so a sample lasts ~SAMPLE_TARGET_MS. */
  times: number;
  /** ms per run, one value per sample. */
  samples: number[];
  /** Samples wanted: 5 for long ops, more for short ones where noise weighs more. */
  wanted: number;
  error?: Error;
}

/**
 * Median time of one run of each implementation, over samples taken after one warm-up. A sample records the op
 * `times` times and waits once, `times` chosen so the sample lasts ~SAMPLE_TARGET_MS: the submit + wait round trip
 * and the quiet wait's polling interval (up to 2 ms) then weigh little on millisecond ops. The implementations take
 * their samples in turn (webtrainer, tfjs, jax, webtrainer, ...), so a slow spell of a noisy machine lands on all of
 * them rather than on whichever was being timed, and the ratios between them hold steadier than the times.
 * An implementation whose run throws gets its error back; the others go on.
 */
export async function timeInTurn(prepared: PreparedRun[]): Promise<(number | Error)[]> {
  const samplings: Sampling[] = [];
  for (const p of prepared) {
    const sampling: Sampling = { prepared: p, times: 1, samples: [], wanted: 0 };
    try {
      // A warm-up run (shader compiles, buffer pool fills), then one timed run sizes the samples.
      sampling.times = await runsPerSample(() => p.run(), SAMPLE_TARGET_MS, MAX_RUNS_PER_SAMPLE);
    } catch (error) {
      sampling.error = error as Error;
    }
    samplings.push(sampling);
  }
  const pending = () => samplings.filter((s) => !s.error && (s.samples.length === 0 || s.samples.length < s.wanted));
  for (let round = pending(); round.length > 0; round = pending()) {
    for (const s of round) {
      try {
        const start = performance.now();
        await s.prepared.run(s.times);
        s.samples.push((performance.now() - start) / s.times);
      } catch (error) {
        s.error = error as Error;
        continue;
      }
      if (s.samples.length === 1) {
        const sampleMs = s.samples[0] * s.times;
        s.wanted = sampleMs < 5 ? 25 : sampleMs < 50 ? 11 : 5;
      }
    }
  }
  return samplings.map((s) => s.error ?? median(s.samples));
}

export async function benchKernels(options: BenchKernelsOptions = {}): Promise<KernelReport> {
  const { quick = false, json = false, peers = true, tiny = false, only = [] } = options;
  // A bad --only fails before the probes spend a minute.
  benchCases({ quick, tiny, only, large: true });
  const log = (line: string) => {
    if (!json && !tiny) process.stderr.write(`${line}\n`);
  };
  const device = await createDevice();
  const skipped: SkippedEntry[] = [];
  const results: KernelResult[] = [];
  const ceilings: CaseCeiling[] = [];
  try {
    log(`device: ${device.info.description} (${device.info.vendor}, ${device.info.backend})`);
    // A GPU needs far more work per dispatch than lavapipe to hide the ~30 µs between dispatches (measured on an
    // H100: 65,536 invocations x 256 loops read 23 TFLOP/s of its 67; bench/RESULTS.md).
    const hardware = !device.info.isSoftware;
    const fma = await measureFmaCeiling(
      device,
      tiny
        ? { invocations: 1024, loops: 16 }
        : hardware
          ? { invocations: 1 << 20, loops: 1024 }
          : quick
            ? { invocations: 32768, loops: 256 }
            : { invocations: 65536, loops: 256 },
      { targetMs: tiny ? 1 : 50 },
    );
    if (!(fma.maxRelError < 1e-4)) throw new Error(`FMA probe read back wrong chain sums (relative error ${fma.maxRelError})`);
    log(`FMA probe: ${fma.gflops.toFixed(1)} GFLOP/s (chains checked, max rel. error ${fma.maxRelError.toExponential(1)})`);
    const copy = await measureCopyCeiling(device, tiny ? 1 << 16 : hardware ? 512 << 20 : quick ? 16 << 20 : 64 << 20, { targetMs: tiny ? 1 : 50 });
    if (!copy.exact) throw new Error('copy probe: the target read back differs from the source');
    log(`copy probe: ${copy.gbps.toFixed(2)} GB/s`);
    const fixed = await measureFixedCost(device, tiny ? { dispatches: 50, repeats: 5, roundTrips: 5 } : {});
    if (!fixed.counted) throw new Error('fixed-cost probe: not every dispatch ran');
    log(`fixed cost: ${fixed.dispatchUs.toFixed(1)} µs/dispatch, ${fixed.submitWaitUs.toFixed(0)} µs/submit+wait`);
    if (!tiny) await warmUpGpu(device);
    const wait = tiny ? undefined : await measureWaitStrategies(device, hardware ? fma.size : quick ? { invocations: 32768, loops: 256 } : undefined);
    if (wait) log(`waiting: await ${wait.awaitGflops.toFixed(1)} GFLOP/s, quiet wait ${wait.quietGflops.toFixed(1)} GFLOP/s (${wait.speedup.toFixed(2)}x)`);

    const impls: BenchImpl[] = [await loadWebtrainer(device, skipped)];
    if (peers) {
      for (const [impl, load] of [
        ['tfjs-webgpu', loadTfjsWebgpu],
        ['jax-webgpu', loadJaxWebgpu],
      ] as const) {
        const loaded = await load().catch((error: Error) => `failed to start: ${error.message}`);
        if (typeof loaded === 'string') skipped.push({ impl, reason: loaded });
        else impls.push(loaded);
      }
    } else {
      skipped.push({ impl: 'tfjs-webgpu', reason: 'peers off' }, { impl: 'jax-webgpu', reason: 'peers off' });
    }

    // Case by case, the implementations sampled in turn (timeInTurn), so drift of a noisy machine hits all alike.
    for (const [index, c] of benchCases({ quick, tiny, only, large: !device.info.isSoftware }).entries()) {
      const inputs = caseInputs(c, 1234 + index);
      const ready: { impl: ImplName; prepared: PreparedRun }[] = [];
      for (const impl of impls) {
        let prepared: PreparedRun | string;
        try {
          prepared = await impl.prepare(c, inputs);
        } catch (error) {
          prepared = `failed: ${(error as Error).message}`;
        }
        if (typeof prepared !== 'string') ready.push({ impl: impl.impl, prepared });
        else if (prepared !== 'skipped') skipped.push({ impl: impl.impl, op: c.op, shape: c.label, reason: prepared });
      }
      const ceiling = prepareCeiling(device, c, fma.size);
      try {
        await warmUpGpu(device);
        const [ceilingMs, ...times] = await timeInTurn([ceiling.run, ...ready.map((r) => r.prepared)]);
        if (ceilingMs instanceof Error) throw new Error(`${c.op} ${c.label}: the ceiling probe failed: ${ceilingMs.message}`);
        const rate = ceiling.rate(ceilingMs);
        ceilings.push({ op: c.op, shape: c.label, ...(c.op === 'matmul' ? { gflops: rate } : { gbps: rate }) });
        for (const [i, { impl }] of ready.entries()) {
          const ms = times[i];
          if (ms instanceof Error) {
            skipped.push({ impl, op: c.op, shape: c.label, reason: `failed: ${ms.message.split('\n')[0]}` });
            continue;
          }
          const r: KernelResult = { op: c.op, shape: c.label, impl, medianMs: ms, ...throughput(c, ms) };
          results.push(r);
          log(`${c.op} ${c.label} ${impl}: ${ms.toFixed(2)} ms` + (r.gflops ? ` ${r.gflops.toFixed(2)} GFLOP/s` : ` ${r.gbps!.toFixed(2)} GB/s`));
        }
      } finally {
        ceiling.run.release();
        for (const { prepared } of ready) prepared.release();
      }
    }
    for (const impl of impls) await impl.close();
    const { description, vendor, architecture, backend } = device.info;
    return {
      device: { description, vendor, architecture, backend },
      peak: { gflops: fma.gflops, gbps: copy.gbps },
      ceilings,
      fixedCost: { dispatchUs: fixed.dispatchUs, submitWaitUs: fixed.submitWaitUs },
      wait,
      results,
      skipped,
    };
  } finally {
    device.destroy();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Text output

const OP_TITLES: Record<OpName, string> = {
  matmul: 'matmul (batch×M×K×N), GFLOP/s, % of the FMA probe',
  softmax: 'softmax over the last axis, GB/s (read + write once), % of the copy probe',
  layernorm: 'layernorm over the last axis, GB/s (x in, y out, gamma, beta), % of the copy probe',
  adamw: 'AdamW step (trial×parameters), GB/s (4 reads + 3 writes per parameter), % of the copy probe',
};

const PEERS: ImplName[] = ['tfjs-webgpu', 'jax-webgpu'];

/** About three significant digits, without exponents for the sizes a benchmark sees. */
function fmt(v: number | undefined): string {
  if (v === undefined) return '–';
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  if (v >= 0.01 || v === 0) return v.toFixed(2);
  return v.toPrecision(2);
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, col) => Math.max(...rows.map((row) => row[col].length)));
  return rows.map((row) => row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]) : cell.padStart(widths[col]))).join('  ').trimEnd());
}

export function formatKernelReport(report: KernelReport): string {
  const { device, peak, fixedCost } = report;
  const lines = [
    `webtrainer bench kernels: ${device.description || 'unknown adapter'} (${device.vendor || '?'}, ${device.architecture || '?'}, ${device.backend})`,
    `ceilings (probes, before the cases): FMA ${peak.gflops.toFixed(1)} GFLOP/s, copy ${peak.gbps.toFixed(2)} GB/s`,
    '% peak: of the FMA probe (matmul) or of a copy probe moving the same bytes (the others), timed in turn with the case',
    `fixed cost: ${fixedCost.dispatchUs.toFixed(1)} µs per dispatch, ${fixedCost.submitWaitUs.toFixed(0)} µs per submit + wait`,
    ...(report.wait
      ? [`waiting for the GPU: plain await ${report.wait.awaitGflops.toFixed(1)} GFLOP/s, quiet wait ${report.wait.quietGflops.toFixed(1)} GFLOP/s (${report.wait.speedup.toFixed(2)}x)`]
      : []),
    'times: median ms of ≥5 runs, each waited for; wt/peer = peer time / webtrainer time (>1: webtrainer is faster)',
  ];
  const ops = [...new Set(report.results.map((r) => r.op))];
  for (const op of ops) {
    const rows = report.results.filter((r) => r.op === op);
    const shapes = [...new Set(rows.map((r) => r.shape))];
    const unit = op === 'matmul' ? 'GFLOP/s' : 'GB/s';
    const rate = (r: KernelResult | undefined) => (r ? (op === 'matmul' ? r.gflops! : r.gbps!) : undefined);
    const header = ['shape', 'webtrainer ms', unit, '% peak', ...PEERS.flatMap((p) => [`${p} ms`, unit]), ...PEERS.map((p) => `wt/${p.split('-')[0]}`)];
    const body = shapes.map((shape) => {
      const find = (impl: ImplName) => rows.find((r) => r.shape === shape && r.impl === impl);
      const own = find('webtrainer');
      const ownRate = rate(own);
      const alongside = report.ceilings.find((x) => x.op === op && x.shape === shape);
      const ceiling = (op === 'matmul' ? alongside?.gflops : alongside?.gbps) ?? (op === 'matmul' ? peak.gflops : peak.gbps);
      return [
        shape,
        fmt(own?.medianMs),
        fmt(ownRate),
        ownRate === undefined ? '–' : `${((100 * ownRate) / ceiling).toFixed(0)}%`,
        ...PEERS.flatMap((p) => [fmt(find(p)?.medianMs), fmt(rate(find(p)))]),
        ...PEERS.map((p) => {
          const peer = find(p);
          return own && peer ? `${(peer.medianMs / own.medianMs).toFixed(2)}×` : '–';
        }),
      ];
    });
    lines.push('', OP_TITLES[op], ...table([header, ...body]));
  }
  if (report.skipped.length > 0) {
    lines.push('', 'skipped:');
    for (const s of report.skipped) {
      lines.push(`  ${[s.impl, s.op, s.shape].filter(Boolean).join(' ')}: ${s.reason}`);
    }
  }
  return lines.join('\n') + '\n';
}
