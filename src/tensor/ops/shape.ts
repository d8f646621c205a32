/** Reshape with autograd: a view of the same buffer; its gradient is the incoming gradient viewed back. */
import { apply, type OpDefinition } from '../autograd.js';
import { ShapeError } from '../../gpu/errors.js';
import { sizeOf, type Shape, type Tensor } from '../tensor.js';

interface ReshapeAttrs {
  shape: number[];
}

export const reshapeOp: OpDefinition<ReshapeAttrs> = {
  name: 'reshape',
  forward([x], { shape }) {
    return x.view(shape);
  },
  backward({ inputs: [x] }, g) {
    return [g.view(x.shape)];
  },
};

/** One axis may be -1 (inferred). */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const known = sizeOf(shape.filter((d) => d !== -1));
  const inferred = shape.map((d) => (d === -1 ? x.size / known : d));
  if (shape.filter((d) => d === -1).length > 1 || !Number.isInteger(sizeOf(inferred)) || sizeOf(inferred) !== x.size) {
    throw new ShapeError(`reshape: cannot reshape [${x.shape.join(', ')}] into [${shape.join(', ')}]`);
  }
  return apply(reshapeOp, [x], { shape: inferred });
}
