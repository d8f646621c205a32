/** Making tensors from CPU data. Uploads go through `Device.write`, which orders them after pending GPU work. */
import type { Device } from '../gpu/device.js';
import { ShapeError } from '../gpu/errors.js';
import { emptyTensor, fillTensor } from './tensor-fill.js';
import { checkShape, sizeOf, type DType, type Shape, type Tensor } from './tensor.js';

export interface TensorOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

type Data = Float32Array | Int32Array | readonly number[];

/** A tensor holding `data` (float32 unless `dtype: 'i32'` or an Int32Array), with `shape` (default: 1-D). */
export function tensor(device: Device, data: Data, shape?: Shape, options: TensorOptions = {}): Tensor {
  const dtype = options.dtype ?? (data instanceof Int32Array ? 'i32' : 'f32');
  const finalShape = shape ?? [data.length];
  checkShape(finalShape, 'tensor');
  if (sizeOf(finalShape) !== data.length) {
    throw new ShapeError(`tensor: ${data.length} values do not fill shape [${finalShape.join(', ')}]`);
  }
  // A copy (the caller may change `data` before the write lands), made natively: `from` walks an iterator.
  const values = dtype === 'f32' ? new Float32Array(data) : new Int32Array(data);
  const t = emptyTensor(device, finalShape, dtype);
  if (values.length > 0) device.write(t.buffer, values);
  t.requiresGrad = options.requiresGrad ?? false;
  return t;
}

export function zeros(device: Device, shape: Shape, options: TensorOptions = {}): Tensor {
  return full(device, shape, 0, options);
}

export function ones(device: Device, shape: Shape, options: TensorOptions = {}): Tensor {
  return full(device, shape, 1, options);
}

export function full(device: Device, shape: Shape, value: number, options: TensorOptions = {}): Tensor {
  checkShape(shape, 'full');
  const t = fillTensor(device, shape, value, options.dtype ?? 'f32');
  t.requiresGrad = options.requiresGrad ?? false;
  return t;
}
