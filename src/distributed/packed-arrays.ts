/**
 * Collectives over many arrays at once (a model's parameters, its gradients): packed into one buffer, so that the
 * group pays one call's latency instead of one per tensor. The packing copies (a memcpy per array each way).
 */
import type { Collective, ReduceOp } from './collective.js';

/** Sets every rank's `arrays` to `root`'s (e.g. the initial parameters, once before training). */
export async function broadcastArrays(collective: Collective, arrays: readonly Float32Array[], root = 0): Promise<void> {
  if (collective.worldSize === 1) return collective.broadcast(new Float32Array(0), root);
  const packed = pack(arrays, collective.rank === root);
  await collective.broadcast(packed, root);
  unpack(packed, arrays);
}

/** All-reduces every array of `arrays` in place (e.g. a step's gradients, averaged with 'avg'). */
export async function allReduceArrays(collective: Collective, arrays: readonly Float32Array[], op: ReduceOp = 'sum'): Promise<void> {
  if (collective.worldSize === 1) return collective.allReduce(new Float32Array(0), op);
  const packed = pack(arrays, true);
  await collective.allReduce(packed, op);
  unpack(packed, arrays);
}

function pack(arrays: readonly Float32Array[], fill: boolean): Float32Array {
  const packed = new Float32Array(arrays.reduce((sum, array) => sum + array.length, 0));
  if (fill) {
    let offset = 0;
    for (const array of arrays) {
      packed.set(array, offset);
      offset += array.length;
    }
  }
  return packed;
}

function unpack(packed: Float32Array, arrays: readonly Float32Array[]): void {
  let offset = 0;
  for (const array of arrays) {
    array.set(packed.subarray(offset, offset + array.length));
    offset += array.length;
  }
}
