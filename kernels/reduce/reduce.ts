/** Launcher for sum / mean / max over one contiguous run of axes, seen as (outer, reduced, inner). */
import { packParams, type Device } from '../../src/gpu/device.js';
import { assertCount, gridFor, wgslFor } from '../common.js';
import { reduceWgsl, type ReduceOp } from './reduce.wgsl.js';

/** Above this many values per output, and with few outputs, reduce in two passes of chunks. */
const CHUNK = 1024;
const FEW_OUTPUTS = 4096;

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
  const run = (source: GPUBuffer, target: GPUBuffer, length: number, chunk: number, factor: number) => {
    const outputs = outer * Math.ceil(length / chunk) * inner;
    device.dispatch({
      kernel: `reduce_${op}`,
      wgsl: wgslFor(reduceWgsl, op),
      buffers: [source, target],
      params: packParams([outer, length, inner, chunk], [factor]),
      workgroups: gridFor(outputs),
      shapes,
    });
  };
  if (reduced <= CHUNK || outer * inner >= FEW_OUTPUTS) {
    run(input, output, reduced, Math.max(reduced, 1), scale);
    return;
  }
  const chunks = Math.ceil(reduced / CHUNK);
  const partial = device.allocate(outer * chunks * inner * 4, `reduce_${op} partials`);
  run(input, partial, reduced, CHUNK, 1);
  run(partial, output, chunks, chunks, scale);
  device.release(partial);
}
