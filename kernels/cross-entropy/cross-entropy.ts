/**
 * Launchers for softmax cross-entropy with integer labels (cross-entropy.wgsl.ts): per-row loss + logsumexp, the
 * mean over non-ignored rows per trial slot, and the gradient of the logits. Buffers are raw; rows = slots ×
 * rowsPerSlot, slot-major.
 */
import { packParams, type Device } from '../../src/gpu/device.js';
import { ShapeError } from '../../src/gpu/errors.js';
import { assertCount, gridFor, wgslFor } from '../common.js';
import {
  CROSS_ENTROPY_WORKGROUP,
  crossEntropyBackwardWgsl,
  crossEntropyForwardWgsl,
  crossEntropyLossMeanWgsl,
  crossEntropyMeanWgsl,
  NAN_BITS,
} from './cross-entropy.wgsl.js';

function checkWhole(kernel: string, name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new ShapeError(`${kernel}: ${name} must be a whole number >= ${min}, got ${value}`);
  }
}

function checkIgnoreIndex(kernel: string, ignoreIndex: number): void {
  if (!Number.isInteger(ignoreIndex) || ignoreIndex < -0x80000000 || ignoreIndex > 0x7fffffff) {
    throw new ShapeError(`${kernel}: ignoreIndex must be a 32-bit integer, got ${ignoreIndex}`);
  }
}

function checkSlots(kernel: string, rows: number, slots: number): number {
  checkWhole(kernel, 'slots', slots, 1);
  if (rows % slots !== 0) throw new ShapeError(`${kernel}: rows=${rows} do not split into slots=${slots}`);
  return rows / slots;
}

/** loss[r] = logsumexp(logits[r]) − logits[r, labels[r]] (0 if ignored, NaN if out of range); also logsumexp. */
export function launchCrossEntropy(
  device: Device,
  logits: GPUBuffer, // (rows, classes)
  labels: GPUBuffer, // (rows) i32
  loss: GPUBuffer, // (rows)
  logSumExp: GPUBuffer, // (rows)
  rows: number,
  classes: number,
  ignoreIndex = -100,
): void {
  const kernel = 'cross_entropy';
  checkWhole(kernel, 'rows', rows, 0);
  checkWhole(kernel, 'classes', classes, 1);
  checkIgnoreIndex(kernel, ignoreIndex);
  assertCount(kernel, rows * classes);
  if (rows === 0) return;
  device.dispatch({
    kernel,
    wgsl: wgslFor(crossEntropyForwardWgsl),
    buffers: [logits, labels, loss, logSumExp],
    params: packParams([rows, classes, ignoreIndex >>> 0, NAN_BITS]),
    workgroups: gridFor(rows, CROSS_ENTROPY_WORKGROUP),
    shapes: `rows=${rows} classes=${classes} ignoreIndex=${ignoreIndex}`,
  });
}

/** mean[t] = Σ loss over slot t's rows / its non-ignored rows (0 when none); count[t] = that number. */
export function launchCrossEntropyMean(
  device: Device,
  loss: GPUBuffer, // (slots, rowsPerSlot)
  labels: GPUBuffer, // (slots, rowsPerSlot) i32
  mean: GPUBuffer, // (slots)
  count: GPUBuffer, // (slots)
  rows: number,
  slots: number,
  ignoreIndex = -100,
): void {
  const kernel = 'cross_entropy_mean';
  checkWhole(kernel, 'rows', rows, 0);
  checkIgnoreIndex(kernel, ignoreIndex);
  const rowsPerSlot = checkSlots(kernel, rows, slots);
  if (slots > 65535 * CROSS_ENTROPY_WORKGROUP) throw new ShapeError(`${kernel}: slots=${slots} is too many`);
  device.dispatch({
    kernel,
    wgsl: wgslFor(crossEntropyMeanWgsl),
    buffers: [loss, labels, mean, count],
    params: packParams([slots, rowsPerSlot, ignoreIndex >>> 0]),
    workgroups: [Math.ceil(slots / CROSS_ENTROPY_WORKGROUP)],
    shapes: `slots=${slots} rowsPerSlot=${rowsPerSlot}`,
  });
}

/**
 * The per-slot mean of the per-row losses in one dispatch (v2, crossEntropyLossMeanWgsl: a workgroup per slot):
 * mean[t] = Σ loss over slot t's rows / its non-ignored rows (0 when none), count[t] = that number, and logsumexp
 * per row for the backward. The values of launchCrossEntropy + launchCrossEntropyMean (v1) up to summation order.
 */
export function launchCrossEntropyLossMean(
  device: Device,
  logits: GPUBuffer, // (slots, rowsPerSlot, classes)
  labels: GPUBuffer, // (slots, rowsPerSlot) i32
  logSumExp: GPUBuffer, // (slots, rowsPerSlot)
  mean: GPUBuffer, // (slots)
  count: GPUBuffer, // (slots)
  rows: number,
  classes: number,
  slots: number,
  ignoreIndex = -100,
): void {
  const kernel = 'cross_entropy_loss_mean';
  checkWhole(kernel, 'rows', rows, 0);
  checkWhole(kernel, 'classes', classes, 1);
  checkIgnoreIndex(kernel, ignoreIndex);
  assertCount(kernel, rows * classes);
  const rowsPerSlot = checkSlots(kernel, rows, slots);
  device.dispatch({
    kernel,
    wgsl: wgslFor(crossEntropyLossMeanWgsl),
    buffers: [logits, labels, logSumExp, mean, count],
    params: packParams([rowsPerSlot, classes, ignoreIndex >>> 0, NAN_BITS, slots]),
    workgroups: gridFor(slots, 1),
    shapes: `rows=${rows} classes=${classes} slots=${slots}`,
  });
}

/**
 * gradLogits = (softmax(logits) − onehot(labels)) · scale per row. With `count` (the mean's), gradOutput is the
 * gradient of the (slots) means and scale = gradOutput[slot] / count[slot]; without it, gradOutput is (rows).
 */
export function launchCrossEntropyBackward(
  device: Device,
  logits: GPUBuffer, // (rows, classes)
  labels: GPUBuffer, // (rows) i32
  logSumExp: GPUBuffer, // (rows)
  gradOutput: GPUBuffer, // (slots) with count, else (rows)
  count: GPUBuffer | null, // (slots)
  gradLogits: GPUBuffer, // (rows, classes)
  rows: number,
  classes: number,
  slots = 1,
  ignoreIndex = -100,
): void {
  const kernel = count ? 'cross_entropy_backward_mean' : 'cross_entropy_backward';
  checkWhole(kernel, 'rows', rows, 0);
  checkWhole(kernel, 'classes', classes, 1);
  checkIgnoreIndex(kernel, ignoreIndex);
  assertCount(kernel, rows * classes);
  const rowsPerSlot = checkSlots(kernel, rows, slots);
  if (rows === 0) return;
  device.dispatch({
    kernel,
    wgsl: wgslFor(crossEntropyBackwardWgsl, count !== null),
    buffers: count ? [logits, labels, logSumExp, gradOutput, gradLogits, count] : [logits, labels, logSumExp, gradOutput, gradLogits],
    params: packParams([rows, classes, ignoreIndex >>> 0, NAN_BITS, rowsPerSlot]),
    workgroups: gridFor(rows, CROSS_ENTROPY_WORKGROUP),
    shapes: `rows=${rows} classes=${classes} slots=${slots}`,
  });
}
