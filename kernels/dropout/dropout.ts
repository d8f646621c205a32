/**
 * Launcher for per-slot inverted dropout (kernel and stream layout in dropout.wgsl.ts). The same launch on the
 * gradient is the backward.
 */
import { packParams, type Device } from '../../src/tensor/device.js';
import { ShapeError } from '../../src/tensor/errors.js';
import { assertCount, gridFor } from '../common.js';
import { dropoutWgsl } from './dropout.wgsl.js';

export interface DropoutLaunch {
  input: GPUBuffer; // (T, ...elementsPerSlot)
  output: GPUBuffer; // (T, ...elementsPerSlot), distinct from input
  seeds: GPUBuffer; // (T) i32/u32
  probabilities: GPUBuffer; // (T) f32
  slots: number;
  elementsPerSlot: number;
  /** Distinct per dropout site and step: selects the counter stream (an integer in [0, 2^53)). */
  callIndex: number;
}

export function launchDropout(device: Device, a: DropoutLaunch): void {
  if (!Number.isInteger(a.slots) || a.slots < 1) throw new ShapeError(`dropout: slots ${a.slots} must be an integer ≥ 1`);
  if (!Number.isInteger(a.elementsPerSlot) || a.elementsPerSlot < 0) {
    throw new ShapeError(`dropout: elementsPerSlot ${a.elementsPerSlot} must be an integer ≥ 0`);
  }
  if (!Number.isSafeInteger(a.callIndex) || a.callIndex < 0) {
    throw new ShapeError(`dropout: callIndex ${a.callIndex} must be an integer in [0, 2^53)`);
  }
  const count = a.slots * a.elementsPerSlot;
  assertCount('dropout', count);
  for (const [what, buffer, n] of [
    ['input', a.input, count],
    ['output', a.output, count],
    ['seeds', a.seeds, a.slots],
    ['probabilities', a.probabilities, a.slots],
  ] as const) {
    if (buffer.size < n * 4) throw new ShapeError(`dropout: ${what} holds ${buffer.size / 4} values, needs ${n}`);
  }
  if (a.input === a.output) throw new ShapeError('dropout: input and output must be distinct buffers');
  const quadsPerSlot = Math.ceil(a.elementsPerSlot / 4);
  device.dispatch({
    kernel: 'dropout',
    wgsl: dropoutWgsl(),
    buffers: [a.input, a.seeds, a.probabilities, a.output],
    params: packParams([quadsPerSlot, a.elementsPerSlot, a.slots, a.callIndex % 2 ** 32, Math.floor(a.callIndex / 2 ** 32)]),
    workgroups: gridFor(quadsPerSlot * a.slots),
    shapes: `slots=${a.slots} elementsPerSlot=${a.elementsPerSlot} call=${a.callIndex}`,
  });
}
