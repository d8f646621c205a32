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

/** A new tensor a + b, elementwise (same size; a's shape). */
export function addTensors(a: Tensor, b: Tensor): Tensor {
  const out = emptyTensor(a.device, a.shape, 'f32', 'gradient sum');
  launchBinary(a.device, 'add', a.buffer, [a.size], b.buffer, [b.size], out.buffer, [a.size]);
  return out;
}

/** target += addend, elementwise (same size). */
export function accumulateInto(target: Tensor, addend: Tensor): void {
  launchBinary(target.device, 'add', target.buffer, [target.size], addend.buffer, [addend.size], null, [target.size]);
}
