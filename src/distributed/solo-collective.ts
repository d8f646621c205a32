/**
 * The collective of a process that runs alone (no launch variables): a group of one, as plain training is a group
 * of one trial. Every call completes at once and leaves the data as it is (a sum or mean over one rank is the
 * rank's own value), so code written for several ranks runs unchanged on one.
 */
import { checkRoot, type Collective, type ReduceOp } from './collective.js';
import { CollectiveError } from './errors.js';

export class SoloCollective implements Collective {
  readonly rank = 0;
  readonly worldSize = 1;
  private closed = false;

  async broadcast(_data: ArrayBufferView, root = 0): Promise<void> {
    this.check('broadcast', root);
  }

  async allReduce(_data: Float32Array, op: ReduceOp = 'sum'): Promise<void> {
    this.check('allReduce');
    if (op !== 'sum' && op !== 'avg') throw new RangeError(`allReduce: op '${String(op)}' is not 'sum' or 'avg'`);
  }

  async barrier(): Promise<void> {
    this.check('barrier');
  }

  async broadcastObject<T>(value: T, root = 0): Promise<T> {
    this.check('broadcastObject', root);
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError('broadcastObject: the value has no JSON form (undefined or a function)');
    return JSON.parse(text) as T; // the same copy semantics as with several ranks
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private check(name: string, root = 0): void {
    checkRoot(root, 1);
    if (this.closed) throw new CollectiveError(`${name}: rank 0's collective is closed`, 'closed');
  }
}
