/**
 * Launchers for residual + dropout + layer normalisation (residual-layernorm.wgsl.ts) on raw buffers seen as
 * (slots, rowsPerSlot, hidden), weight and bias (slots, hidden) (slots = 1: shared). The forward is one dispatch;
 * the backward is one row dispatch for dz and dbranch plus kernels/layernorm's weight/bias launch on z.
 */
import { packParams, type Device } from '../../src/gpu/device.js';
import { ShapeError } from '../../src/gpu/errors.js';
import { assertCount, gridFor, wgslFor } from '../common.js';
import { rowDropoutFields, type RowDropout } from '../dropout/dropout.js';
import { launchLayerNormBackward } from '../layernorm/layernorm.js';
import {
  RESIDUAL_LAYERNORM_WORKGROUP,
  residualLayerNormBackwardWgsl,
  residualLayerNormForwardWgsl,
} from './residual-layernorm.wgsl.js';

/** The dropout on the branch (kernels/dropout's row dropout). */
export type ResidualDropout = RowDropout;

/**
 * Storage buffers a kernel binds: the forward with dropout binds 11, more than WebGPU's guaranteed 8; the backward
 * one more than listed when it writes the weight gradient's rows.
 */
export function residualLayerNormBindings(dropout: boolean): { forward: number; backward: number } {
  return dropout ? { forward: 11, backward: 11 } : { forward: 8, backward: 8 };
}

/** Whether this device can bind what the kernels need (else compose layerNorm, add and dropout instead). */
export function residualLayerNormFits(device: Device, dropout: boolean): boolean {
  const { forward, backward } = residualLayerNormBindings(dropout);
  return device.limits.maxStorageBuffersPerShaderStage >= Math.max(forward, backward);
}

interface Layout {
  rowsPerSlot: number;
  width: number;
  quads: number;
  rowsPerDropoutSlot: number;
  rowsPerBlock: number;
  callOffset: number;
}

function layout(kernel: string, device: Device, rows: number, hidden: number, slots: number, dropout: ResidualDropout | null): Layout {
  for (const [name, value, min] of [['rows', rows, 0], ['hidden', hidden, 1], ['slots', slots, 1]] as const) {
    if (!Number.isInteger(value) || value < min) {
      throw new ShapeError(`${kernel}: ${name} must be a whole number >= ${min}, got ${value}`);
    }
  }
  if (rows % slots !== 0) throw new ShapeError(`${kernel}: rows=${rows} do not split into slots=${slots}`);
  assertCount(kernel, rows * hidden);
  if (!residualLayerNormFits(device, dropout !== null)) {
    throw new ShapeError(
      `${kernel}: needs ${Math.max(...Object.values(residualLayerNormBindings(dropout !== null)))} storage buffers per stage, ` +
        `this device allows ${device.limits.maxStorageBuffersPerShaderStage}`,
    );
  }
  const vec4 = hidden % 4 === 0;
  return { rowsPerSlot: rows / slots, width: vec4 ? hidden / 4 : hidden, quads: Math.ceil(hidden / 4), ...rowDropoutFields(kernel, dropout, rows, hidden) };
}

function packed(rows: number, hidden: number, l: Layout, eps = 0): ArrayBuffer {
  return packParams([rows, l.width, l.rowsPerSlot, hidden, l.quads, l.rowsPerDropoutSlot, l.rowsPerBlock, l.callOffset], [eps]);
}

const dropoutBuffers = (d: ResidualDropout | null) => (d ? [d.seeds, d.probabilities, d.callBase] : []);

/** z = x + dropout(branch); y = (z − mean) · rstd · weight[slot] + bias[slot]; also writes mean and rstd per row. */
export function launchResidualLayerNorm(
  device: Device,
  x: GPUBuffer, // (slots, rowsPerSlot, hidden)
  branch: GPUBuffer, // (slots, rowsPerSlot, hidden)
  weight: GPUBuffer, // (slots, hidden)
  bias: GPUBuffer, // (slots, hidden)
  z: GPUBuffer, // (slots, rowsPerSlot, hidden): x + dropout(branch), for the backward
  y: GPUBuffer, // (slots, rowsPerSlot, hidden)
  mean: GPUBuffer, // (slots, rowsPerSlot)
  rstd: GPUBuffer, // (slots, rowsPerSlot)
  rows: number,
  hidden: number,
  slots: number,
  eps: number,
  dropout: ResidualDropout | null, // null: z = x + branch (evaluation)
): void {
  const kernel = dropout ? 'residual_layernorm_dropout' : 'residual_layernorm';
  const l = layout(kernel, device, rows, hidden, slots, dropout);
  if (!(eps >= 0)) throw new ShapeError(`${kernel}: eps must be >= 0, got ${eps}`);
  if (rows === 0) return;
  device.dispatch({
    kernel,
    wgsl: wgslFor(residualLayerNormForwardWgsl, hidden % 4 === 0, dropout !== null),
    buffers: [x, branch, weight, bias, z, y, mean, rstd, ...dropoutBuffers(dropout)],
    params: packed(rows, hidden, l, eps),
    workgroups: gridFor(rows, RESIDUAL_LAYERNORM_WORKGROUP),
    shapes: `rows=${rows} hidden=${hidden} slots=${slots}${dropout ? ` dropout slotShape=[${dropout.slotShape.join(', ')}] callOffset=${dropout.callOffset}` : ''}`,
  });
}

/**
 * dz = dx (LN's backward of dy at z), dbranch = dropout's backward of dz (dz when `dropout` is null), and (when
 * given) dweight = Σ_rows dy·ẑ, dbias = Σ_rows dy per slot by kernels/layernorm's deterministic partial sums on z.
 * `dz` and `dbranch` are both given or both null. `dyxhat` (with dz and dbranch): the row kernel also writes the
 * rows dy·ẑ, for a caller that sums them itself (autograd sums them with other layers' bias gradients in one
 * dispatch: src/tensor/deferred-sum.ts); dweight and dbias are then null.
 */
export function launchResidualLayerNormBackward(
  device: Device,
  z: GPUBuffer, // (slots, rowsPerSlot, hidden)
  weight: GPUBuffer, // (slots, hidden)
  mean: GPUBuffer, // (slots, rowsPerSlot)
  rstd: GPUBuffer, // (slots, rowsPerSlot)
  dy: GPUBuffer, // (slots, rowsPerSlot, hidden)
  dz: GPUBuffer | null, // (slots, rowsPerSlot, hidden): the gradient of x
  dbranch: GPUBuffer | null, // (slots, rowsPerSlot, hidden)
  dweight: GPUBuffer | null, // (slots, hidden)
  dbias: GPUBuffer | null, // (slots, hidden)
  rows: number,
  hidden: number,
  slots: number,
  dropout: ResidualDropout | null,
  dyxhat: GPUBuffer | null = null, // (slots, rowsPerSlot, hidden)
): void {
  const kernel = dropout ? 'residual_layernorm_dropout_backward' : 'residual_layernorm_backward';
  const l = layout(kernel, device, rows, hidden, slots, dropout);
  if ((dz === null) !== (dbranch === null)) throw new ShapeError(`${kernel}: give both dz and dbranch, or neither`);
  if (dyxhat && (!dz || dweight || dbias)) throw new ShapeError(`${kernel}: dyxhat comes with dz and dbranch, instead of dweight and dbias`);
  if (dyxhat && dyxhat.size < rows * hidden * 4) throw new ShapeError(`${kernel}: dyxhat holds ${dyxhat.size / 4} values, needs ${rows * hidden}`);
  if (dz && dbranch && rows > 0) {
    device.dispatch({
      kernel,
      wgsl: wgslFor(residualLayerNormBackwardWgsl, hidden % 4 === 0, dropout !== null, dyxhat !== null),
      buffers: [z, weight, mean, rstd, dy, dz, dbranch, ...dropoutBuffers(dropout), ...(dyxhat ? [dyxhat] : [])],
      params: packed(rows, hidden, l),
      workgroups: gridFor(rows, RESIDUAL_LAYERNORM_WORKGROUP),
      shapes: `rows=${rows} hidden=${hidden} slots=${slots}`,
    });
  }
  // LN's weight and bias gradients read only (x, mean, rstd, dy): z is LN's x.
  if (dweight || dbias) launchLayerNormBackward(device, z, weight, mean, rstd, dy, null, dweight, dbias, rows, hidden, slots);
}
