/**
 * `webtrainer doctor`: which WebGPU adapter this machine gives, its key limits, and a small self-test (matmuls
 * checked against a float64 CPU loop, one small and one large enough for the variant that big products use), so a
 * broken driver shows up before a long job.
 */
import { chooseMatmulVariant } from '../../kernels/matmul/choose-variant.js';
import { tensor } from '../tensor/create.js';
import { createDevice, type AdapterSummary, type Device } from '../gpu/device.js';
import { matmul } from '../tensor/ops/matmul.js';

export interface DoctorReport {
  ok: boolean;
  adapter: AdapterSummary | null;
  limits: Record<string, number>;
  features: string[];
  selfTest: { ok: boolean; checks: { name: string; maxAbsError: number; ok: boolean }[]; error?: string };
  error?: string;
}

const KEY_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

export async function runDoctor(): Promise<DoctorReport> {
  let device: Device;
  try {
    device = await createDevice();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, adapter: null, limits: {}, features: [], selfTest: { ok: false, checks: [] }, error: message };
  }
  const limits: Record<string, number> = {};
  for (const key of KEY_LIMITS) limits[key] = device.limits[key];
  const features = [...device.gpuDevice.features].sort();
  let selfTest: DoctorReport['selfTest'];
  try {
    // Odd sizes, so every tile edge is exercised; the second is past 2^21 multiply-adds (v5 on lavapipe).
    selfTest = { ok: true, checks: [await checkMatmul(device, 37, 29, 19), await checkMatmul(device, 141, 133, 119)] };
    selfTest.ok = selfTest.checks.every((c) => c.ok);
  } catch (error) {
    selfTest = { ok: false, checks: [], error: error instanceof Error ? error.message : String(error) };
  }
  device.destroy();
  return { ok: selfTest.ok, adapter: device.info, limits, features, selfTest };
}

async function checkMatmul(device: Device, m: number, k: number, n: number) {
  const a = Float32Array.from({ length: m * k }, (_, i) => Math.sin(i * 0.37));
  const b = Float32Array.from({ length: k * n }, (_, i) => Math.cos(i * 0.11));
  const [ta, tb] = [tensor(device, a, [m, k]), tensor(device, b, [k, n])];
  const tc = matmul(ta, tb);
  const c = await tc.toArray();
  for (const t of [ta, tb, tc]) t.release();
  let maxAbsError = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let expected = 0;
      for (let p = 0; p < k; p++) expected += a[i * k + p] * b[p * n + j];
      maxAbsError = Math.max(maxAbsError, Math.abs(c[i * n + j] - expected));
    }
  }
  const { variant } = chooseMatmulVariant(device, { batch: 1, m, k, n });
  return { name: `matmul ${m}x${k}x${n} (${variant})`, maxAbsError, ok: maxAbsError < 1e-4 };
}

export function formatDoctor(report: DoctorReport): string {
  if (!report.adapter) {
    return `WebGPU: no adapter\n  ${report.error}\n`;
  }
  const a = report.adapter;
  const lines = [
    `WebGPU adapter: ${a.description || a.device} (${a.vendor}, ${a.architecture || 'unknown architecture'}, ${a.backend})`,
    `  software device: ${a.isSoftware ? 'yes (CPU rendering: expect CPU speed)' : 'no'}`,
    `  subgroups: ${report.features.includes('subgroups') ? `yes (${a.subgroupMinSize}-${a.subgroupMaxSize})` : 'no'}`,
    '  limits:',
    ...Object.entries(report.limits).map(([k, v]) => `    ${k}: ${v}`),
    `self-test: ${report.selfTest.ok ? 'ok' : 'FAILED'}`,
    ...report.selfTest.checks.map((c) => `  ${c.name}: max abs error ${c.maxAbsError.toExponential(2)} ${c.ok ? 'ok' : 'FAILED'}`),
  ];
  if (report.selfTest.error) lines.push(`  error: ${report.selfTest.error}`);
  return lines.join('\n') + '\n';
}
