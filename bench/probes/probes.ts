/**
 * The device's ceilings and fixed costs, measured the way webtrainer's kernels are timed (record, then
 * `await device.sync()`, which waits quietly: see src/tensor/quiet-wait.ts):
 * - FMA probe: attainable GFLOP/s (fma.wgsl.ts), read back and checked against a CPU computation of the same chains;
 * - copy probe: attainable GB/s (copy.wgsl.ts), read back and checked to be an exact copy;
 * - fixed cost: the cost of one more dispatch in a submit, and of one submit + wait round trip, so a training step's
 *   fixed cost can be told apart from its arithmetic.
 * A probe run that is short next to the timer's resolution and the wait's latency is repeated within one submit
 * until it lasts `targetMs`, so a fast GPU is measured as fairly as lavapipe.
 */
import { Bench } from 'tinybench';
import { packParams, type Device } from '../../src/gpu/device.js';
import { waitQuietly } from '../../src/gpu/quiet-wait.js';
import { gridFor } from '../../kernels/common.js';
import { COPY_WORKGROUP, copyProbeWgsl } from './copy.wgsl.js';
import { FMA_CHAINS, FMA_UNROLL, FMA_WORKGROUP, fmaProbeWgsl } from './fma.wgsl.js';

/** Median of `repeats` timed calls of `run` (each must include waiting for the GPU), after `warmup` untimed ones. */
export async function medianMs(run: () => Promise<void>, repeats: number, warmup = 1): Promise<number> {
  // tinybench runs the iterations (each one awaits the GPU) and gives the median latency.
  const bench = new Bench({ iterations: repeats, warmupIterations: warmup, time: 0, warmupTime: 0, throws: true });
  bench.add('run', run);
  await bench.run();
  const result = bench.tasks[0].result as { latency?: { p50?: number } } | undefined;
  const p50 = result?.latency?.p50;
  if (p50 === undefined || !Number.isFinite(p50)) throw new Error('tinybench gave no median latency');
  return p50;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * How many back-to-back runs make one timed sample last about `targetMs` (1 when one run already does), after one
 * untimed run (compiles the pipeline) and one timed run.
 */
export async function runsPerSample(run: () => Promise<void>, targetMs: number, maxRuns = 4096): Promise<number> {
  await run(); // Compiles the pipeline.
  const start = performance.now();
  await run();
  return runsFor(performance.now() - start, targetMs, maxRuns);
}

/** Runs of `onceMs` each that make one timed sample last about `targetMs`, between 1 and `maxRuns`. */
export function runsFor(onceMs: number, targetMs: number, maxRuns: number): number {
  return Math.min(maxRuns, Math.max(1, Math.ceil(targetMs / Math.max(onceMs, 1e-3))));
}

// ---------------------------------------------------------------------------------------------------------------
// FMA probe

/** A runtime multiplier just under 1 and a small addend: the chains stay bounded, move slowly towards 16, and
 * rounding errors shrink as they go, so a float64 replay agrees to ~1e-6 while still depending on every step. */
export const FMA_MULTIPLIER = 1 - 2 ** -10;
export const FMA_ADDEND = 2 ** -6;

export interface FmaProbeSize {
  /** Invocations (each runs FMA_CHAINS chains). */
  invocations: number;
  /** Loop trips; each does FMA_UNROLL multiply-adds per chain. */
  loops: number;
}

export function fmaProbeFlops({ invocations, loops }: FmaProbeSize): number {
  return invocations * FMA_CHAINS * loops * FMA_UNROLL * 2;
}

/** Records one FMA probe dispatch writing each invocation's chain sum into `output`. */
export function launchFmaProbe(
  device: Device,
  output: GPUBuffer, // (invocations)
  { invocations, loops }: FmaProbeSize,
): void {
  device.dispatch({
    kernel: 'probe_fma',
    wgsl: fmaProbeWgsl(),
    buffers: [output],
    params: packParams([invocations, loops], [FMA_MULTIPLIER, FMA_ADDEND]),
    workgroups: gridFor(invocations, FMA_WORKGROUP),
    shapes: `invocations=${invocations} loops=${loops}`,
  });
}

/**
 * Keeps a hardware GPU busy with FMA probe dispatches for `ms` milliseconds, so the next measurement starts at full
 * clocks. An idle H100 sits at 345 MHz and took a sizeable fraction of a second of load to reach its 1980 MHz boost:
 * a 4096³ matmul timed straight after a pause ran at a quarter of its speed (bench/RESULTS.md). No-op on lavapipe,
 * whose "clock" is the CPU's.
 */
export async function warmUpGpu(device: Device, ms = 200): Promise<void> {
  if (device.info.isSoftware) return;
  const size = { invocations: 1 << 18, loops: 256 };
  const output = device.allocate(size.invocations * 4, 'probe_fma warm-up');
  try {
    const start = performance.now();
    while (performance.now() - start < ms) {
      for (let i = 0; i < 16; i++) launchFmaProbe(device, output, size);
      await device.sync();
    }
  } finally {
    device.release(output);
  }
}

/**
 * What invocation `index` of the FMA probe writes, replayed on the CPU in float32 two ways: multiply then add with
 * a rounding after each (lavapipe, PEERS.md), and fused (one rounding; float64 holds the exact product of two
 * float32 values).
 */
export function fmaProbeExpected(index: number, loops: number): { separate: number; fused: number } {
  const f = Math.fround;
  const replay = (fused: boolean) => {
    const seed = f((index % 1024) * (1 / 1024));
    const lanes: number[] = [];
    for (let lane = 0; lane < 4; lane++) {
      const chains = [0, 1, 2, 3].map((k) => f(f(seed + 0.25 * lane) + k));
      for (let step = 0; step < loops * FMA_UNROLL; step++) {
        for (let k = 0; k < 4; k++) {
          const a = chains[k];
          chains[k] = fused ? f(a * FMA_MULTIPLIER + FMA_ADDEND) : f(f(a * FMA_MULTIPLIER) + FMA_ADDEND);
        }
      }
      lanes.push(f(f(chains[0] + chains[1]) + f(chains[2] + chains[3])));
    }
    return f(f(lanes[0] + lanes[1]) + f(lanes[2] + lanes[3]));
  };
  return { separate: replay(false), fused: replay(true) };
}

/** Largest relative error of the probe's output against the CPU replay, over `samples` spread-out invocations. */
export function checkFmaProbe(output: Float32Array, size: FmaProbeSize, samples = 256): number {
  const step = Math.max(1, Math.floor(size.invocations / samples));
  let worst = 0;
  for (let i = 0; i < size.invocations; i += step) {
    const { separate, fused } = fmaProbeExpected(i, size.loops);
    const error = Math.min(Math.abs(output[i] - separate) / Math.abs(separate), Math.abs(output[i] - fused) / Math.abs(fused));
    worst = Math.max(worst, Number.isNaN(error) ? Infinity : error);
  }
  return worst;
}

export interface FmaCeiling {
  gflops: number;
  /** Median of one timed sample (`runs` dispatches in one submit). */
  medianMs: number;
  runs: number;
  size: FmaProbeSize;
  /** Largest relative error of the read-back chains against the CPU replay: the work was really done. */
  maxRelError: number;
}

export async function measureFmaCeiling(
  device: Device,
  size: FmaProbeSize = { invocations: 65536, loops: 256 },
  { repeats = 5, targetMs = 50 } = {},
): Promise<FmaCeiling> {
  const output = device.allocate(size.invocations * 4, 'probe_fma output');
  try {
    let runs = 1;
    const sample = async () => {
      for (let r = 0; r < runs; r++) launchFmaProbe(device, output, size);
      await device.sync();
    };
    runs = await runsPerSample(sample, targetMs);
    const ms = await medianMs(sample, repeats, 0);
    const values = new Float32Array(await device.read(output, size.invocations * 4));
    const maxRelError = checkFmaProbe(values, size);
    return { gflops: (fmaProbeFlops(size) * runs) / (ms * 1e6), medianMs: ms, runs, size, maxRelError };
  } finally {
    device.release(output);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Copy probe

/** Records one copy of `bytes` (a multiple of 16) from `source` to `target`. */
export function launchCopyProbe(
  device: Device,
  source: GPUBuffer, // (bytes / 16) vec4
  target: GPUBuffer, // (bytes / 16) vec4
  bytes: number,
): void {
  const count = bytes / 16;
  device.dispatch({
    kernel: 'probe_copy',
    wgsl: copyProbeWgsl(),
    buffers: [source, target],
    params: packParams([count]),
    workgroups: gridFor(count, COPY_WORKGROUP),
    shapes: `vec4s=${count}`,
  });
}

export interface CopyCeiling {
  /** (read + written bytes) / time. */
  gbps: number;
  medianMs: number;
  runs: number;
  bytes: number;
  /** The target read back equals the source, bit for bit. */
  exact: boolean;
}

export async function measureCopyCeiling(
  device: Device,
  bytes = 64 << 20,
  { repeats = 5, targetMs = 50 } = {},
): Promise<CopyCeiling> {
  bytes = Math.max(16, Math.floor(bytes / 16) * 16);
  const source = device.allocate(bytes, 'probe_copy source');
  const target = device.allocate(bytes, 'probe_copy target');
  try {
    const data = new Uint32Array(bytes / 4);
    for (let i = 0; i < data.length; i++) data[i] = Math.imul(i, 2654435761) >>> 0; // Distinct words, no NaN games.
    device.write(source, data);
    let runs = 1;
    const sample = async () => {
      for (let r = 0; r < runs; r++) launchCopyProbe(device, source, target, bytes);
      await device.sync();
    };
    runs = await runsPerSample(sample, targetMs);
    const ms = await medianMs(sample, repeats, 0);
    const copied = new Uint32Array(await device.read(target, bytes));
    let exact = copied.length === data.length;
    for (let i = 0; exact && i < data.length; i++) exact = copied[i] === data[i];
    return { gbps: (2 * bytes * runs) / (ms * 1e6), medianMs: ms, runs, bytes, exact };
  } finally {
    device.release(source);
    device.release(target);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Fixed cost

// One invocation adds `step` to a counter: as small as a dispatch gets, yet it does visible work (the counter must
// end at the number of dispatches), and like every webtrainer kernel it has a uniform and a storage binding.
const TICK_WGSL = /* wgsl */ `
struct Params { step: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> counter: array<f32>; // (1)

@compute @workgroup_size(1)
fn main() {
  counter[0] = counter[0] + f32(params.step);
}`;

export interface FixedCost {
  /** Cost of one more (tiny) dispatch recorded into a submit, recording included, in µs. */
  dispatchUs: number;
  /** One tiny dispatch submitted alone and waited for (device.sync()), in µs. */
  submitWaitUs: number;
  /** The counter read back equals the number of dispatches run: every dispatch executed. */
  counted: boolean;
}

export async function measureFixedCost(
  device: Device,
  { dispatches = 1000, repeats = 5, roundTrips = 30 } = {},
): Promise<FixedCost> {
  const counter = device.allocate(16, 'probe_tick counter');
  const savedLimit = device.maxDispatchesPerSubmit;
  let total = 0;
  const tick = () => {
    device.dispatch({
      kernel: 'probe_tick',
      wgsl: TICK_WGSL,
      buffers: [counter],
      params: packParams([1]),
      workgroups: [1],
      shapes: 'one invocation',
    });
    total++;
  };
  try {
    device.write(counter, new Float32Array(4));
    const roundTrip = async () => {
      tick();
      await device.sync();
    };
    const submitWaitMs = await medianMs(roundTrip, roundTrips, 3);
    // All `dispatches` in one submit, as a training step records them.
    device.maxDispatchesPerSubmit = dispatches + 1;
    const batchMs = await medianMs(
      async () => {
        for (let i = 0; i < dispatches; i++) tick();
        await device.sync();
      },
      repeats,
      1,
    );
    const count = new Float32Array(await device.read(counter, 4))[0];
    return {
      dispatchUs: (Math.max(0, batchMs - submitWaitMs) * 1000) / (dispatches - 1),
      submitWaitUs: submitWaitMs * 1000,
      counted: count === total,
    };
  } finally {
    device.maxDispatchesPerSubmit = savedLimit;
    device.release(counter);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// How the CPU waits for the GPU

export interface WaitComparison {
  /** FMA probe GFLOP/s when the main thread awaits Dawn's promise (Dawn busy-polls with setImmediate). */
  awaitGflops: number;
  /** The same work waited for with waitQuietly (Atomics.wait between polls): what device.sync() does on software adapters. */
  quietGflops: number;
  /** quiet / await. On lavapipe the busy-poll takes one of the device's cores; on a real GPU this is ~1. */
  speedup: number;
}

/** The FMA probe, alternately waited for with a plain `await` and with the quiet wait, in the same process. */
export async function measureWaitStrategies(
  device: Device,
  size: FmaProbeSize = { invocations: 65536, loops: 256 },
  repeats = 5,
): Promise<WaitComparison> {
  const output = device.allocate(size.invocations * 4, 'probe_fma output');
  try {
    const run = async (quiet: boolean) => {
      launchFmaProbe(device, output, size);
      device.flush();
      const done = device.gpuDevice.queue.onSubmittedWorkDone();
      await (quiet ? waitQuietly(done) : done);
    };
    await run(true);
    const awaitMs: number[] = [];
    const quietMs: number[] = [];
    for (let r = 0; r < repeats; r++) {
      for (const [quiet, into] of [[false, awaitMs], [true, quietMs]] as const) {
        const started = performance.now();
        await run(quiet);
        into.push(performance.now() - started);
      }
    }
    const flops = fmaProbeFlops(size);
    const awaitGflops = flops / (median(awaitMs) * 1e6);
    const quietGflops = flops / (median(quietMs) * 1e6);
    return { awaitGflops, quietGflops, speedup: quietGflops / awaitGflops };
  } finally {
    device.release(output);
  }
}
