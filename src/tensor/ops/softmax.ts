/** Softmax over the last axis with autograd. Kernel: kernels/softmax (forward and backward are one dispatch each). */
import { launchSoftmax, launchSoftmaxBackward } from '../../../kernels/softmax/softmax.js';
import { apply, type OpDefinition } from '../autograd.js';
import { ShapeError } from '../../gpu/errors.js';
import { emptyTensor } from '../tensor-fill.js';
import type { Tensor } from '../tensor.js';

/** (rows, cols) of a tensor whose last axis is the softmax axis. */
function rowsAndCols(x: Tensor, op: string): [number, number] {
  if (x.dtype !== 'f32') throw new ShapeError(`${op}: needs an f32 tensor, got ${x.dtype} [${x.shape.join(', ')}]`);
  if (x.rank === 0) throw new ShapeError(`${op}: needs at least one axis, got a scalar`);
  const cols = x.shape[x.rank - 1];
  return [cols === 0 ? 0 : x.size / cols, cols];
}

export const softmaxOp: OpDefinition<undefined> = {
  name: 'softmax',
  forward([x], _attrs, save) {
    const [rows, cols] = rowsAndCols(x, 'softmax');
    const y = emptyTensor(x.device, x.shape, 'f32', 'softmax');
    launchSoftmax(x.device, x.buffer, y.buffer, rows, cols);
    save(y); // The backward needs only the output.
    return y;
  },
  backward({ saved: [y] }, g) {
    const [rows, cols] = rowsAndCols(y, 'softmax backward');
    const dx = emptyTensor(y.device, y.shape, 'f32', 'softmax grad');
    launchSoftmaxBackward(y.device, y.buffer, g.buffer, dx.buffer, rows, cols);
    return [dx];
  },
};

/** softmax(x) over the last axis; x (..., cols) → same shape. */
export const softmax = (x: Tensor): Tensor => apply(softmaxOp, [x], undefined);
