/** The kernels autograd itself needs: a tensor filled with one value, and gradient accumulation (in place or not). */
import { launchBinary, launchFill } from '../../kernels/elementwise/elementwise.js';
import type { Device } from '../gpu/device.js';
import { Storage, Tensor, sizeOf, type DType, type Shape } from './tensor.js';

/** A new tensor whose buffer is not yet written (each op fills its output). */
export function emptyTensor(device: Device, shape: Shape, dtype: DType = 'f32', what = 'tensor'): Tensor {
  const buffer = device.allocate(sizeOf(shape) * 4, `${what} [${shape.join(', ')}]`);
  return new Tensor(device, [...shape], dtype, new Storage(device, buffer));
}

export function fillTensor(device: Device, shape: Shape, value: number, dtype: DType = 'f32'): Tensor {
  const tensor = emptyTensor(device, shape, dtype, 'fill');
  launchFill(device, tensor.buffer, tensor.size, value, dtype);
  return tensor;
}

/**
 * target + addend for a gradient: added in place, unless another handle shares target's buffer (an add's backward
 * hands one gradient buffer to both its inputs, as views), whose gradient would change with it; then into a new
 * tensor of target's shape, and target released. Returns what holds the sum; addend stays the caller's.
 */
export function addToGradient(target: Tensor, addend: Tensor): Tensor {
  if (!target.storage.shared) {
    accumulateInto(target, addend);
    return target;
  }
  const total = emptyTensor(target.device, target.shape, 'f32', 'gradient sum');
  launchBinary(target.device, 'add', target.buffer, [target.size], addend.buffer, [addend.size], total.buffer, [target.size]);
  target.release();
  return total;
}

/** target += addend, elementwise (same size). */
export function accumulateInto(target: Tensor, addend: Tensor): void {
  launchBinary(target.device, 'add', target.buffer, [target.size], addend.buffer, [addend.size], null, [target.size]);
}
