/**
 * Launchers for layer normalisation over the last axis (layernorm.wgsl.ts) on raw buffers seen as
 * (slots, rowsPerSlot, hidden): weight and bias are (slots, hidden); slots = 1 is a weight shared by every row.
 */
import { packParams, type Device } from '../../src/gpu/device.js';
import { ShapeError } from '../../src/gpu/errors.js';
import { assertCount, gridFor, wgslFor } from '../common.js';
import {
  LAYERNORM_WORKGROUP,
  layerNormBackwardWgsl,
  layerNormForwardRegistersWgsl,
  layerNormForwardWgsl,
  layerNormParamGradWgsl,
  PARAM_GRAD_COLUMNS,
  type LayerNormVariant,
} from './layernorm.wgsl.js';

/**
 * Invocations per workgroup of the dweight/dbias kernel, each striding over the rows: 64 on a GPU, 16 on a CPU
 * adapter, where the workgroup's tree and barriers cost more than they save. On lavapipe (2 cores, noisy), timed
 * interleaved with the three dispatches it replaced (partials per 64 rows, two kernels/reduce passes) at 2048 × 64,
 * 4096 × 768, 4 × 4096 × 256 and 2048 × 37: 256 invocations took 1.7–3.5× their time, 64 1.2–1.5×, 16 0.9–1.1×.
 */
function paramGradRows(device: Device): number {
  return device.info.isSoftware ? 16 : 64;
}

/** v4 needs a fixed subgroup size: a block of rows is one subgroup. */
function subgroupLanes(device: Device): number | null {
  const { subgroupMinSize, subgroupMaxSize } = device.info;
  return device.hasSubgroups && subgroupMinSize > 0 && subgroupMinSize === subgroupMaxSize ? subgroupMinSize : null;
}

/** v4 holds at most this many Lane values of x, weight and bias per invocation (measured up to 24: hidden 768). */
export const MAX_HELD = 24;

/**
 * v4's rows per subgroup: the most of 64, 32, 16, 8, 4, 2, 1 that divides rowsPerSlot (its rows share one slot's
 * weights). More rows share each weight/bias load and each block's setup: 64 read 68–70% of the copy probe at
 * 4096×768 against 16's 61%, and 83% against 71% at 8192×256 (bench/kernel-log.md, layernorm, run of 2026-11-28 02:05).
 */
export function registersRowsPerSubgroup(rowsPerSlot: number): number {
  return [64, 32, 16, 8, 4, 2, 1].find((r) => rowsPerSlot % r === 0)!;
}

/**
 * The forward variant that measured fastest (README.md). On software adapters (lavapipe) with a fixed subgroup
 * size: v4 (x read once, weight/bias loads shared by ≥ 8 rows) for hidden % 4 == 0, at most MAX_HELD vec4s per
 * lane and rowsPerSlot % 8 == 0 (with fewer rows per subgroup the weight/bias loads come back: 1 row per subgroup
 * measured slower than v1). Otherwise v1 (an invocation per row): v2 and v3 (now bench/experiments/layernorm)
 * measured no better, and a workgroup-per-row variant for real GPUs is not written yet. The backward of v4 is v1's.
 */
export function defaultLayerNormVariant(device: Device, hidden: number, rowsPerSlot = 1): LayerNormVariant {
  const lanes = subgroupLanes(device);
  const fits = lanes !== null && hidden % 4 === 0 && hidden / 4 <= lanes * MAX_HELD;
  return device.info.isSoftware && fits && rowsPerSlot % 8 === 0 ? 'registers' : 'row';
}

/** WGSL and grid for v1's forward or dx kernel. */
function rowKernel(vec4: boolean, rows: number, forward: boolean) {
  return {
    wgsl: forward ? wgslFor(layerNormForwardWgsl, vec4) : wgslFor(layerNormBackwardWgsl, vec4),
    workgroups: gridFor(rows, LAYERNORM_WORKGROUP),
  };
}

/** v4's rows per workgroup: subgroups per workgroup = this / rows per subgroup (8 at 16 rows, as measured first). */
const REGISTERS_ROWS_PER_GROUP = 128;

/** WGSL and grid for the v4 forward. */
function registersKernel(device: Device, kernel: string, vec4: boolean, hidden: number, rows: number, rowsPerSlot: number) {
  const lanes = subgroupLanes(device);
  if (lanes === null) throw new ShapeError(`${kernel}: needs the subgroups feature with a fixed subgroup size`);
  const held = Math.ceil((vec4 ? hidden / 4 : hidden) / lanes);
  const rowsPerSubgroup = registersRowsPerSubgroup(rowsPerSlot);
  const subgroups = Math.max(1, REGISTERS_ROWS_PER_GROUP / rowsPerSubgroup);
  return {
    wgsl: wgslFor(layerNormForwardRegistersWgsl, vec4, lanes, held, rowsPerSubgroup, subgroups),
    workgroups: gridFor(rows / rowsPerSubgroup, subgroups),
  };
}

function checkShape(kernel: string, rows: number, hidden: number, slots: number): number {
  for (const [name, value, min] of [['rows', rows, 0], ['hidden', hidden, 1], ['slots', slots, 1]] as const) {
    if (!Number.isInteger(value) || value < min) {
      throw new ShapeError(`${kernel}: ${name} must be a whole number >= ${min}, got ${value}`);
    }
  }
  if (rows % slots !== 0) throw new ShapeError(`${kernel}: rows=${rows} do not split into slots=${slots}`);
  assertCount(kernel, rows * hidden);
  return rows / slots;
}

/** y = (x − mean) · rstd · weight[slot] + bias[slot]; also writes mean and rstd per row. */
export function launchLayerNorm(
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
  variant: LayerNormVariant = defaultLayerNormVariant(device, hidden, rows / slots),
): void {
  const kernel = `layernorm_${variant}`;
  const rowsPerSlot = checkShape(kernel, rows, hidden, slots);
  if (!(eps >= 0)) throw new ShapeError(`${kernel}: eps must be >= 0, got ${eps}`);
  if (rows === 0) return;
  const vec4 = hidden % 4 === 0;
  const shader = variant === 'registers' ? registersKernel(device, kernel, vec4, hidden, rows, rowsPerSlot) : rowKernel(vec4, rows, true);
  device.dispatch({
    kernel,
    ...shader,
    buffers: [x, weight, bias, y, mean, rstd],
    params: packParams([rows, vec4 ? hidden / 4 : hidden, rowsPerSlot, hidden], [eps]),
    shapes: `rows=${rows} hidden=${hidden} slots=${slots}`,
  });
}

/**
 * dx, and (when given) dweight = Σ_rows dy·x̂ and dbias = Σ_rows dy per slot, from the forward's mean and rstd: at
 * most two dispatches (dx; dweight and dbias together). dweight/dbias are summed in a fixed order: deterministic.
 */
export function launchLayerNormBackward(
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
  variant: LayerNormVariant = defaultLayerNormVariant(device, hidden, rows / slots),
): void {
  if (variant === 'registers') variant = 'row'; // v4 is a forward; its backward is v1's (README.md).
  const kernel = `layernorm_backward_${variant}`;
  const rowsPerSlot = checkShape(kernel, rows, hidden, slots);
  if ((dweight === null) !== (dbias === null)) throw new ShapeError(`${kernel}: give both dweight and dbias, or neither`);
  const vec4 = hidden % 4 === 0;
  const width = vec4 ? hidden / 4 : hidden;
  const shapes = `rows=${rows} hidden=${hidden} slots=${slots}`;
  if (dx && rows > 0) {
    device.dispatch({
      kernel,
      ...rowKernel(vec4, rows, false),
      buffers: [x, weight, mean, rstd, dy, dx],
      params: packParams([rows, width, rowsPerSlot, hidden]),
      shapes,
    });
  }
  if (!dweight || !dbias) return;
  const columnBlocks = Math.ceil(width / PARAM_GRAD_COLUMNS);
  const workgroups = slots * columnBlocks;
  device.dispatch({
    kernel: 'layernorm_backward_params',
    wgsl: wgslFor(layerNormParamGradWgsl, vec4, paramGradRows(device)),
    buffers: [x, mean, rstd, dy, dweight, dbias],
    params: packParams([rowsPerSlot, width, columnBlocks, workgroups]),
    workgroups: gridFor(workgroups, 1),
    shapes,
  });
}
