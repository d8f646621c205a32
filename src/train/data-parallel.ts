/**
 * Data parallelism over a collective (src/distributed), as PyTorch's DistributedDataParallel under Hugging Face's
 * Trainer: every rank holds the same model (rank 0's parameters broadcast once), trains on its own shard of each
 * global batch, and averages its gradients with the others' before clipping and AdamW, every step, so every rank
 * applies the same update. Rank 0 evaluates, reports and decides; the others follow its decisions.
 *
 * GPU tensors go through the CPU here (the collective is TCP): they are copied into one flat GPU buffer, read back
 * once, reduced, written back once and copied out again, so a step pays one read and one write, not one per tensor.
 */
import type { Collective } from '../distributed/collective.js';
import type { Device } from '../gpu/device.js';
import type { Tensor } from '../tensor/tensor.js';

/** Copies `tensors` into one flat buffer (a copy each), reads it back once: their values, concatenated. */
async function gather(device: Device, tensors: readonly Tensor[]): Promise<Float32Array> {
  const total = tensors.reduce((n, t) => n + t.size, 0);
  const flat = device.allocate(Math.max(total, 1) * 4, 'data-parallel flat');
  try {
    let offset = 0;
    for (const t of tensors) {
      if (t.size > 0) device.copy(t.buffer, 0, flat, offset * 4, t.size * 4);
      offset += t.size;
    }
    return new Float32Array(await device.read(flat, Math.max(total, 1) * 4)).subarray(0, total);
  } finally {
    device.release(flat);
  }
}

/** Writes `values` (concatenated, as gather returns them) back into `tensors`: one upload, a copy each. */
function scatter(device: Device, tensors: readonly Tensor[], values: Float32Array): void {
  const flat = device.allocate(Math.max(values.length, 1) * 4, 'data-parallel flat');
  device.write(flat, values);
  let offset = 0;
  for (const t of tensors) {
    if (t.size > 0) device.copy(flat, offset * 4, t.buffer, 0, t.size * 4);
    offset += t.size;
  }
  // The copies are recorded before any later use of the buffer, so it can go back to the pool now.
  device.release(flat);
}

/** Sets every rank's `tensors` to rank 0's, bit for bit (the initial parameters of a model, a refilled slot's). */
export async function broadcastTensors(device: Device, collective: Collective, tensors: readonly Tensor[]): Promise<void> {
  if (collective.worldSize === 1) return;
  const values = collective.rank === 0 ? await gather(device, tensors) : new Float32Array(tensors.reduce((n, t) => n + t.size, 0));
  await collective.broadcast(values, 0);
  if (collective.rank !== 0) scatter(device, tensors, values);
}

/**
 * Averages the parameters' gradients over the ranks, in place (every rank ends with the same bits). A parameter
 * without a gradient this step counts as zeros, so that every rank sends the same sizes.
 */
export async function averageGradients(device: Device, collective: Collective, parameters: readonly Tensor[]): Promise<void> {
  if (collective.worldSize === 1) return;
  const grads = parameters.map((p) => p.grad).filter((g): g is Tensor => g !== null);
  if (grads.length !== parameters.length) {
    const names = parameters.flatMap((p, i) => (p.grad ? [] : [String(i)]));
    throw new Error(`data parallel: parameters ${names.join(', ')} got no gradient this step; every rank must send every gradient`);
  }
  const values = await gather(device, grads);
  await collective.allReduce(values, 'avg');
  scatter(device, grads, values);
}
