/**
 * Launchers for the experimental layer normalisation v2 `subgroup` and v3 `subgroup4` (subgroup.wgsl.ts): the same
 * arguments as kernels/layernorm's `launchLayerNorm` and `launchLayerNormBackward`. v2's dweight/dbias, and v3's
 * when dx is not asked for, come from the shipped parameter-gradient kernel (through `launchLayerNormBackward` with dx
 * null). Used by kernels/layernorm/layernorm.bench.ts and test/experiments/layernorm-subgroup.test.ts.
 */
import { packParams, type Device } from '../../../src/gpu/device.js';
import { ShapeError } from '../../../src/gpu/errors.js';
import { assertCount, gridFor, wgslFor } from '../../../kernels/common.js';
import { launchLayerNormBackward } from '../../../kernels/layernorm/layernorm.js';
import { launchReduce } from '../../../kernels/reduce/reduce.js';
import {
  layerNormBackwardFusedWgsl,
  layerNormBackwardSubgroupWgsl,
  layerNormForwardSubgroupWgsl,
  V3_ROWS,
} from './subgroup.wgsl.js';

export type ExperimentalLayerNormVariant = 'subgroup' | 'subgroup4';

/** The fixed subgroup size both variants need (a workgroup is exactly one subgroup). */
function lanesOf(device: Device, kernel: string): number {
  const { subgroupMinSize, subgroupMaxSize } = device.info;
  if (device.hasSubgroups && subgroupMinSize > 0 && subgroupMinSize === subgroupMaxSize) return subgroupMinSize;
  throw new ShapeError(`${kernel}: needs the subgroups feature with a fixed subgroup size`);
}

/** rowsPerSlot, after the shipped launchers' checks and v3's rowsPerSlot % 4 == 0. */
function checkShape(kernel: string, rows: number, hidden: number, slots: number, variant: ExperimentalLayerNormVariant): number {
  for (const [name, value, min] of [['rows', rows, 0], ['hidden', hidden, 1], ['slots', slots, 1]] as const) {
    if (!Number.isInteger(value) || value < min) {
      throw new ShapeError(`${kernel}: ${name} must be a whole number >= ${min}, got ${value}`);
    }
  }
  if (rows % slots !== 0) throw new ShapeError(`${kernel}: rows=${rows} do not split into slots=${slots}`);
  assertCount(kernel, rows * hidden);
  const rowsPerSlot = rows / slots;
  if (variant === 'subgroup4' && rowsPerSlot % V3_ROWS !== 0) {
    throw new ShapeError(`${kernel}: needs rowsPerSlot % ${V3_ROWS} == 0, got rowsPerSlot=${rowsPerSlot}`);
  }
  return rowsPerSlot;
}

/** y = (x − mean) · rstd · weight[slot] + bias[slot]; also writes mean and rstd per row. */
export function launchLayerNormExperiment(
  device: Device,
  x: GPUBuffer, // (slots, rowsPerSlot, hidden)
  weight: GPUBuffer, // (slots, hidden)
  bias: GPUBuffer, // (slots, hidden)
  y: GPUBuffer, // (slots, rowsPerSlot, hidden)
  mean: GPUBuffer, // (slots, rowsPerSlot)
  rstd: GPUBuffer, // (slots, rowsPerSlot)
  rows: number,
  hidden: number,
  slots: number,
  eps: number,
  variant: ExperimentalLayerNormVariant,
): void {
  const kernel = `layernorm_${variant}`;
  const rowsPerSlot = checkShape(kernel, rows, hidden, slots, variant);
  if (!(eps >= 0)) throw new ShapeError(`${kernel}: eps must be >= 0, got ${eps}`);
  if (rows === 0) return;
  const vec4 = hidden % 4 === 0;
  const lanes = lanesOf(device, kernel);
  const shader =
    variant === 'subgroup4'
      ? { wgsl: wgslFor(layerNormForwardSubgroupWgsl, vec4, lanes, V3_ROWS), workgroups: gridFor(Math.ceil(rows / V3_ROWS), 1) }
      : { wgsl: wgslFor(layerNormForwardSubgroupWgsl, vec4, lanes), workgroups: gridFor(rows, 1) };
  device.dispatch({
    kernel,
    ...shader,
    buffers: [x, weight, bias, y, mean, rstd],
    params: packParams([rows, vec4 ? hidden / 4 : hidden, rowsPerSlot, hidden], [eps]),
    shapes: `rows=${rows} hidden=${hidden} slots=${slots}`,
  });
}

/**
 * dx, and (when given) dweight and dbias per slot. v3 with all three fuses them into one dispatch plus kernels/reduce;
 * asked for dx alone it runs v2's dx (the 4-row form pays off only when it also yields dweight/dbias).
 */
export function launchLayerNormBackwardExperiment(
  device: Device,
  x: GPUBuffer, // (slots, rowsPerSlot, hidden)
  weight: GPUBuffer, // (slots, hidden)
  mean: GPUBuffer, // (slots, rowsPerSlot)
  rstd: GPUBuffer, // (slots, rowsPerSlot)
  dy: GPUBuffer, // (slots, rowsPerSlot, hidden)
  dx: GPUBuffer | null, // (slots, rowsPerSlot, hidden)
  dweight: GPUBuffer | null, // (slots, hidden)
  dbias: GPUBuffer | null, // (slots, hidden)
  rows: number,
  hidden: number,
  slots: number,
  variant: ExperimentalLayerNormVariant,
): void {
  const kernel = `layernorm_backward_${variant}`;
  const rowsPerSlot = checkShape(kernel, rows, hidden, slots, variant);
  if ((dweight === null) !== (dbias === null)) throw new ShapeError(`${kernel}: give both dweight and dbias, or neither`);
  const vec4 = hidden % 4 === 0;
  const width = vec4 ? hidden / 4 : hidden;
  const shapes = `rows=${rows} hidden=${hidden} slots=${slots}`;
  if (variant === 'subgroup4' && dx && dweight && dbias && rows > 0) {
    launchFusedBackward(device, kernel, [x, weight, mean, rstd, dy, dx], dweight, dbias, rows, hidden, slots, vec4, shapes);
    return;
  }
  if (dx && rows > 0) {
    device.dispatch({
      kernel,
      wgsl: wgslFor(layerNormBackwardSubgroupWgsl, vec4, lanesOf(device, kernel)),
      workgroups: gridFor(rows, 1),
      buffers: [x, weight, mean, rstd, dy, dx],
      params: packParams([rows, width, rowsPerSlot, hidden]),
      shapes,
    });
  }
  if (!dweight || !dbias) return;
  launchLayerNormBackward(device, x, weight, mean, rstd, dy, null, dweight, dbias, rows, hidden, slots, 'row');
}

/** v3 backward: dx plus per-row-group partials of dweight/dbias in one dispatch, then kernels/reduce over groups. */
function launchFusedBackward(
  device: Device,
  kernel: string,
  inputs: GPUBuffer[], // x, weight, mean, rstd, dy, dx
  dweight: GPUBuffer, // (slots, hidden)
  dbias: GPUBuffer, // (slots, hidden)
  rows: number,
  hidden: number,
  slots: number,
  vec4: boolean,
  shapes: string,
): void {
  const lanes = lanesOf(device, kernel);
  const groupsPerSlot = rows / slots / V3_ROWS;
  // One group per slot: the partials are the result.
  const partialWeight = groupsPerSlot === 1 ? dweight : device.allocate(rows / V3_ROWS * hidden * 4, `${kernel} dweight partials`);
  const partialBias = groupsPerSlot === 1 ? dbias : device.allocate(rows / V3_ROWS * hidden * 4, `${kernel} dbias partials`);
  device.dispatch({
    kernel,
    wgsl: wgslFor(layerNormBackwardFusedWgsl, vec4, lanes, V3_ROWS),
    buffers: [...inputs, partialWeight, partialBias],
    params: packParams([rows, vec4 ? hidden / 4 : hidden, rows / slots, hidden]),
    workgroups: gridFor(rows / V3_ROWS, 1),
    shapes,
  });
  if (groupsPerSlot === 1) return;
  launchReduce(device, 'sum', partialWeight, dweight, slots, groupsPerSlot, hidden);
  launchReduce(device, 'sum', partialBias, dbias, slots, groupsPerSlot, hidden);
  device.release(partialWeight);
  device.release(partialBias);
}
