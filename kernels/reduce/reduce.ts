/**
 * Launcher for sum / mean / max over one contiguous run of axes, seen as (outer, reduced, inner). v1 (an invocation
 * per output) for many outputs or short reductions; v2 (a workgroup per block of outputs) for long reductions with
 * few outputs, in one dispatch (reduce.wgsl.ts). `launchReduceSumBatched`: several column sums in one dispatch,
 * each with v2's bits, for the gradients autograd gathers (src/tensor/deferred-sum.ts).
 */
import { packParams, type Device } from '../../src/gpu/device.js';
import { assertCount, gridFor, wgslFor } from '../common.js';
import { REDUCE_BATCH_MAX_ENTRIES, reduceSumBatchedWgsl, reduceWgsl, reduceWorkgroupWgsl, type ReduceOp } from './reduce.wgsl.js';
import { ShapeError } from '../../src/gpu/errors.js';

/** v2 when each output sums more than this many values and there are fewer than FEW_OUTPUTS outputs. */
const LONG = 256;
const FEW_OUTPUTS = 4096;
/**
 * Most rows of the reduced axis one v2 workgroup takes (≤ 512 loads a lane on a GPU): past this the rows split into
 * chunks and a second v2 pass adds them, so a huge reduction to a few outputs still spreads over many workgroups.
 */
export const ROWS_PER_WORKGROUP = 16384;
/**
 * v2's columns (neighbouring outputs) per workgroup: the least power of two ≥ inner, at most 8 on a GPU (each row's
 * read one 32-byte sector, and more workgroups for few outputs) and 64 on a CPU adapter, where fewer lanes per column
 * (a shorter tree) and whole cache lines win. On lavapipe (2 cores, noisy), timed interleaved with v1's two passes it
 * replaced at (1, 2048, 64), (1, 2048, 256), (1, 16384, 768): 8 columns took 1.2–3×+ their time, 32 0.6–1.4×, 64
 * 0.9–1.1×.
 */
export function reduceColumns(device: Device, inner: number): number {
  const most = device.info.isSoftware ? 64 : 8;
  let columns = 1;
  while (columns < inner && columns < most) columns *= 2;
  return columns;
}

export function launchReduce(
  device: Device,
  op: ReduceOp,
  input: GPUBuffer, // (outer, reduced, inner)
  output: GPUBuffer, // (outer, inner)
  outer: number,
  reduced: number,
  inner: number,
  scale = 1,
): void {
  assertCount(`reduce_${op}`, outer * reduced * inner);
  const shapes = `outer=${outer} reduced=${reduced} inner=${inner}`;
  const outputs = outer * inner;
  if (reduced <= LONG || outputs >= FEW_OUTPUTS) {
    device.dispatch({
      kernel: `reduce_${op}`,
      wgsl: wgslFor(reduceWgsl, op),
      buffers: [input, output],
      params: packParams([outer, reduced, inner], [scale]),
      workgroups: gridFor(outputs),
      shapes,
    });
    return;
  }
  const chunks = Math.ceil(reduced / ROWS_PER_WORKGROUP);
  const chunk = Math.ceil(reduced / chunks);
  const target = chunks === 1 ? output : device.allocate(outer * chunks * inner * 4, `reduce_${op} partials`);
  const columns = reduceColumns(device, inner);
  const columnBlocks = Math.ceil(inner / columns);
  const workgroups = outer * chunks * columnBlocks;
  device.dispatch({
    kernel: `reduce_${op}_v2`,
    wgsl: wgslFor(reduceWorkgroupWgsl, op, columns),
    buffers: [input, target],
    params: packParams([reduced, inner, chunk, chunks, columnBlocks, workgroups], [chunks === 1 ? scale : 1]),
    workgroups: gridFor(workgroups, 1),
    shapes,
  });
  if (chunks === 1) return;
  launchReduce(device, op, target, output, outer, chunks, inner, scale);
  device.release(target);
}


/** One column sum of a batch: input (outer, reduced, inner) summed over `reduced` into output (outer, inner). */
export interface ReduceBatchEntry {
  input: GPUBuffer;
  output: GPUBuffer;
  outer: number;
  /** 1 … ROWS_PER_WORKGROUP: longer reductions need v2's second pass (`launchReduce`). */
  reduced: number;
  inner: number;
  /** Add the sum into what output holds instead of writing it. */
  accumulate: boolean;
}

/** Entries one batched dispatch takes on this device: two storage bindings each. */
export function reduceBatchCapacity(device: Device): number {
  return Math.min(REDUCE_BATCH_MAX_ENTRIES, Math.floor(device.limits.maxStorageBuffersPerShaderStage / 2));
}

/**
 * Column sums of several tensors, `reduceBatchCapacity` per dispatch, each output with the bits `launchReduce`'s v2
 * gives it in one pass (reduce.wgsl.ts, `reduceSumBatchedWgsl`).
 */
export function launchReduceSumBatched(device: Device, entries: readonly ReduceBatchEntry[]): void {
  const capacity = reduceBatchCapacity(device);
  for (let start = 0; start < entries.length; start += capacity) {
    launchBatch(device, entries.slice(start, start + capacity));
  }
}

function launchBatch(device: Device, entries: readonly ReduceBatchEntry[]): void {
  const fields: number[] = [];
  let workgroups = 0;
  entries.forEach((e, k) => {
    const where = `reduce_sum_batched entry ${k} (outer=${e.outer} reduced=${e.reduced} inner=${e.inner})`;
    for (const [name, value] of [['outer', e.outer], ['inner', e.inner]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new ShapeError(`${where}: ${name} must be an integer ≥ 1`);
    }
    if (!Number.isInteger(e.reduced) || e.reduced < 1 || e.reduced > ROWS_PER_WORKGROUP) {
      throw new ShapeError(`${where}: reduced must be an integer in [1, ${ROWS_PER_WORKGROUP}] (longer ones take launchReduce)`);
    }
    assertCount('reduce_sum_batched', e.outer * e.reduced * e.inner);
    if (e.input.size < e.outer * e.reduced * e.inner * 4) throw new ShapeError(`${where}: input holds ${e.input.size / 4} values`);
    if (e.output.size < e.outer * e.inner * 4) throw new ShapeError(`${where}: output holds ${e.output.size / 4} values`);
    const columns = reduceColumns(device, e.inner);
    const columnBlocks = Math.ceil(e.inner / columns);
    fields.push(e.reduced, e.inner, columns, columnBlocks, workgroups, e.outer * columnBlocks, e.accumulate ? 1 : 0, 0);
    workgroups += e.outer * columnBlocks;
  });
  const outputs = new Set(entries.map((e) => e.output));
  if (outputs.size !== entries.length || entries.some((e) => outputs.has(e.input))) {
    throw new ShapeError('reduce_sum_batched: every entry needs its own output, distinct from every input');
  }
  device.dispatch({
    kernel: 'reduce_sum_batched',
    wgsl: wgslFor(reduceSumBatchedWgsl, entries.length),
    buffers: entries.flatMap((e) => [e.input, e.output]),
    params: packParams([workgroups, 0, 0, 0, ...fields]),
    workgroups: gridFor(workgroups, 1),
    shapes: entries.map((e) => `outer=${e.outer} reduced=${e.reduced} inner=${e.inner}${e.accumulate ? ' accumulate' : ''}`).join(' + '),
  });
}
