/**
 * The kernel benchmark harness: its JSON report's shape (tiny sizes, peers off), its text table, and that the
 * ceiling probes compute what they claim (the FMA chains' sums equal a CPU replay of the same chains, the copy is
 * exact, the fixed-cost counter counts every dispatch).
 */
import { describe, expect, it } from 'vitest';
import { benchCases, benchKernels, formatKernelReport, timeInTurn, type KernelReport } from '../bench/kernels.js';
import {
  checkFmaProbe,
  fmaProbeExpected,
  launchCopyProbe,
  launchFmaProbe,
  measureFixedCost,
  median,
} from '../bench/probes/probes.js';
import { useDevice } from './helpers/gpu.js';

const device = useDevice();

describe('ceiling probes', () => {
  it('FMA probe: every invocation writes the sum of its chains, as replayed on the CPU', async () => {
    const size = { invocations: 300, loops: 8 }; // Not a multiple of the workgroup: the tail is guarded.
    const output = device().allocate(size.invocations * 4, 'test fma output');
    launchFmaProbe(device(), output, size);
    const values = new Float32Array(await device().read(output, size.invocations * 4));
    device().release(output);
    expect(checkFmaProbe(values, size, size.invocations)).toBeLessThan(1e-5);
    // The replay depends on every step, so a dropped chain or iteration would show.
    expect(fmaProbeExpected(5, 8).separate).not.toBe(fmaProbeExpected(5, 7).separate);
    expect(fmaProbeExpected(5, 8).separate).not.toBe(fmaProbeExpected(6, 8).separate);
  });

  it('copy probe: the destination equals the source bit for bit', async () => {
    const bytes = 16 * 333;
    const source = device().allocate(bytes, 'test copy source');
    const target = device().allocate(bytes, 'test copy target');
    const data = Uint32Array.from({ length: bytes / 4 }, (_, i) => (i * 2654435761) >>> 0);
    device().write(source, data);
    launchCopyProbe(device(), source, target, bytes);
    const copied = new Uint32Array(await device().read(target, bytes));
    device().release(source);
    device().release(target);
    expect(copied).toEqual(data);
  });

  it('fixed cost: every tiny dispatch ran, and both costs are positive', async () => {
    const fixed = await measureFixedCost(device(), { dispatches: 40, repeats: 3, roundTrips: 3 });
    expect(fixed.counted).toBe(true);
    expect(fixed.submitWaitUs).toBeGreaterThan(0);
    expect(fixed.dispatchUs).toBeGreaterThanOrEqual(0);
  });

  it('median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe('benchKernels (tiny, peers off)', () => {
  it('returns the documented JSON shape', async () => {
    const report = JSON.parse(JSON.stringify(await benchKernels({ tiny: true, peers: false }))) as KernelReport;
    expect(Object.keys(report).sort()).toEqual(['ceilings', 'device', 'fixedCost', 'peak', 'results', 'skipped']);
    // A ceiling timed alongside every case that ran, in the case's unit.
    for (const r of report.results) {
      const ceiling = report.ceilings.find((c) => c.op === r.op && c.shape === r.shape)!;
      const rate = r.op === 'matmul' ? ceiling.gflops : ceiling.gbps;
      expect(Number.isFinite(rate) && rate! > 0).toBe(true);
    }
    for (const key of ['description', 'vendor', 'architecture', 'backend'] as const) {
      expect(typeof report.device[key]).toBe('string');
    }
    for (const value of [report.peak.gflops, report.peak.gbps, report.fixedCost.submitWaitUs]) {
      expect(Number.isFinite(value) && value > 0).toBe(true);
    }
    expect(report.fixedCost.dispatchUs).toBeGreaterThanOrEqual(0);
    for (const r of report.results) {
      expect(['matmul', 'softmax', 'layernorm', 'adamw']).toContain(r.op);
      expect(r.impl).toBe('webtrainer');
      expect(r.shape).toMatch(/^\d+(x\d+)+$/);
      expect(r.medianMs).toBeGreaterThan(0);
      if (r.op === 'matmul') expect(r.gflops).toBeGreaterThan(0);
      else expect(r.gbps).toBeGreaterThan(0);
    }
    // Every op appears either as results or as skipped with a reason.
    for (const op of ['matmul', 'softmax', 'layernorm', 'adamw']) {
      const ran = report.results.some((r) => r.op === op);
      const skipped = report.skipped.some((s) => s.impl === 'webtrainer' && s.op === op && s.reason.length > 0);
      expect(ran || skipped).toBe(true);
    }
    expect(report.skipped).toContainEqual({ impl: 'tfjs-webgpu', reason: 'peers off' });
    expect(report.skipped).toContainEqual({ impl: 'jax-webgpu', reason: 'peers off' });
  });
});

describe('formatKernelReport', () => {
  it('puts the peers side by side with ratios and % of the probes', () => {
    const report: KernelReport = {
      device: { description: 'test adapter', vendor: 'v', architecture: 'a', backend: 'vulkan' },
      peak: { gflops: 100, gbps: 10 },
      // softmax's ceiling was timed alongside it; matmul's % falls back to the start-of-run probe.
      ceilings: [{ op: 'softmax', shape: '4096x512', gbps: 5 }],
      fixedCost: { dispatchUs: 20, submitWaitUs: 140 },
      results: [
        { op: 'matmul', shape: '8x256x64x64', impl: 'webtrainer', medianMs: 10, gflops: 50 },
        { op: 'matmul', shape: '8x256x64x64', impl: 'tfjs-webgpu', medianMs: 40, gflops: 12.5 },
        { op: 'matmul', shape: '8x256x64x64', impl: 'jax-webgpu', medianMs: 20, gflops: 25 },
        { op: 'softmax', shape: '4096x512', impl: 'webtrainer', medianMs: 5, gbps: 2.5 },
      ],
      skipped: [{ impl: 'jax-webgpu', op: 'softmax', shape: '4096x512', reason: 'failed: boom' }],
    };
    const text = formatKernelReport(report);
    const matmulRow = text.split('\n').find((line) => line.startsWith('8x256x64x64'))!;
    expect(matmulRow).toMatch(/50\.0\s+50%/);
    expect(matmulRow).toMatch(/4\.00×\s+2\.00×$/);
    const softmaxRow = text.split('\n').find((line) => line.startsWith('4096x512'))!;
    expect(softmaxRow).toMatch(/2\.50\s+50%/);
    expect(text).toContain('jax-webgpu softmax 4096x512: failed: boom');
  });
});

describe('benchCases --only', () => {
  it('keeps the named ops and shapes, in the usual order', () => {
    const labels = (only: string[]) => benchCases({ quick: true, only }).map((c) => `${c.op}:${c.label}`);
    expect(labels(['matmul:8x256x64x64'])).toEqual(['matmul:8x256x64x64']);
    expect(labels(['layernorm', 'softmax:4096x512'])).toEqual(['softmax:4096x512', 'layernorm:8192x256', 'layernorm:4096x768']);
  });

  it('names the cases when nothing matches', () => {
    expect(() => benchCases({ only: ['matmul:3x3'] })).toThrow(/--only matmul:3x3 matches no benchmark case \(cases: matmul:256x256x256, /);
  });
});

describe('timeInTurn', () => {
  it('takes the samples in turn and keeps going when one implementation fails', async () => {
    const calls: string[] = [];
    const fake = (name: string, failOnCall?: number) => {
      let count = 0;
      return {
        run: async (times = 1) => {
          count++;
          calls.push(`${name}x${times}`);
          if (count === failOnCall) throw new Error(`${name} broke`);
        },
        release: () => undefined,
      };
    };
    const [a, b] = await timeInTurn([fake('a'), fake('b', 4)]);
    expect(typeof a).toBe('number');
    expect((b as Error).message).toBe('b broke');
    // Warm-up and sizing runs (one each), then samples alternating a, b until b fails on its 2nd sample.
    const sampled = calls.slice(4);
    expect(calls.slice(0, 4).map((c) => c[0])).toEqual(['a', 'a', 'b', 'b']);
    expect(sampled.slice(0, 4).map((c) => c[0])).toEqual(['a', 'b', 'a', 'b']);
    expect(sampled.slice(4).every((c) => c.startsWith('a'))).toBe(true);
    // An instant run: samples of the most runs (64), and 25 samples, as for any sample under 5 ms.
    expect(sampled.filter((c) => c.startsWith('a'))).toEqual(Array(25).fill('ax64'));
  });
});
