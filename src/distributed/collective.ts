/**
 * The collective interface: what a training loop or a sweep needs from a group of processes, one device each.
 * Small on purpose (torch.distributed's broadcast / all_reduce / barrier, plus a JSON broadcast), so that a native
 * backend can replace the TCP one (tcp-collective.ts) behind it. Every rank calls the same collectives in the same
 * order with the same sizes; a mismatch, a dead rank or a timeout fails the call on every rank with a
 * CollectiveError (errors.ts), never a hang. Calls are queued: a second call waits for the first.
 */

export type ReduceOp = 'sum' | 'avg';

export interface Collective {
  /** This process's rank, 0 ≤ rank < worldSize. Rank 0 is the one that samples, logs and saves. */
  readonly rank: number;
  readonly worldSize: number;

  /** Copies `root`'s bytes of `data` into every other rank's `data`, in place (bit-identical; sizes must match). */
  broadcast(data: ArrayBufferView, root?: number): Promise<void>;

  /**
   * Reduces `data` over all ranks, in place: the element-wise float32 sum (or the sum divided by worldSize). Every
   * rank ends with the same bits. Float32 sums are rounded after each addition: the error against the exact sum is
   * at most γ(worldSize − 1)·Σ|xᵢ| per element, γ(k) = k·u/(1 − k·u) ≈ k·2⁻²⁴ (u = 2⁻²⁴; Higham, Accuracy and
   * Stability of Numerical Algorithms, §4.2); a mean adds one rounding of the division (u of the result).
   */
  allReduce(data: Float32Array, op?: ReduceOp): Promise<void>;

  /** Resolves once every rank has called it. */
  barrier(): Promise<void>;

  /** Returns `root`'s value on every rank (as JSON: plain data only, e.g. a trial's params or a decision). */
  broadcastObject<T>(value: T, root?: number): Promise<T>;

  /**
   * Leaves the group: later calls throw, and the other ranks' later calls fail naming this rank. Call it once
   * every rank is done (after a final barrier() where in doubt). A process that exits without it is seen as dead.
   */
  close(): Promise<void>;
}

/** Checks a root rank argument: an integer in [0, worldSize). */
export function checkRoot(root: number, worldSize: number): void {
  if (!Number.isInteger(root) || root < 0 || root >= worldSize) {
    throw new RangeError(`root: ${root} is not a rank of this group (0 to ${worldSize - 1})`);
  }
}
