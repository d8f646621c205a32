/**
 * Elementwise ops with autograd: binary maps with NumPy broadcasting (their gradients are summed back over the
 * broadcast axes) and unary maps. Kernels: kernels/elementwise.
 */
import { broadcastShapes } from '../../../kernels/elementwise/broadcast.js';
import { launchBinary, launchUnary } from '../../../kernels/elementwise/elementwise.js';
import type { BinaryOp, UnaryOp } from '../../../kernels/elementwise/elementwise.wgsl.js';
import { apply, type OpDefinition } from '../autograd.js';
import { ShapeError } from '../../gpu/errors.js';
import { emptyTensor } from '../tensor-fill.js';
import type { Shape, Tensor } from '../tensor.js';
import { sumToShape } from './reduce.js';

function assertFloat(op: string, ...tensors: Tensor[]): void {
  for (const t of tensors) {
    if (t.dtype !== 'f32') throw new ShapeError(`${op}: needs f32 tensors, got ${t.dtype} [${t.shape.join(', ')}]`);
  }
}

/** out = op(a, b) broadcast, as a raw kernel call (no autograd). */
export function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor, outShape?: Shape): Tensor {
  const shape = outShape ?? broadcastShapes(a.shape, b.shape, op);
  const out = emptyTensor(a.device, shape, 'f32', op);
  launchBinary(a.device, op, a.buffer, a.shape, b.buffer, b.shape, out.buffer, shape);
  return out;
}

export function unaryRaw(op: UnaryOp, x: Tensor, alpha = 1, beta = 0): Tensor {
  const out = emptyTensor(x.device, x.shape, 'f32', op);
  launchUnary(x.device, op, x.buffer, out.buffer, x.size, alpha, beta);
  return out;
}

/** Materialises `x` broadcast to `shape`. */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  return binaryRaw('copy_a', x, x, shape);
}

function binaryOp(name: 'add' | 'sub' | 'mul' | 'div'): OpDefinition<undefined> {
  return {
    name,
    forward([a, b], _attrs, save) {
      assertFloat(name, a, b);
      if (name === 'mul' || name === 'div') {
        save(a);
        save(b);
      }
      return binaryRaw(name, a, b);
    },
    backward({ inputs: [a, b], saved, needsGrad }, g) {
      const gradA = (value: () => Tensor) => (needsGrad[0] ? sumToShape(value(), a.shape) : null);
      const gradB = (value: () => Tensor) => (needsGrad[1] ? sumToShape(value(), b.shape) : null);
      switch (name) {
        case 'add':
          return [gradA(() => g), gradB(() => g)];
        case 'sub':
          return [gradA(() => g), gradB(() => unaryRaw('neg', g))];
        case 'mul':
          return [gradA(() => binaryRaw('mul', g, saved[1])), gradB(() => binaryRaw('mul', g, saved[0]))];
        case 'div': {
          // d(a/b)/db = -a/b^2 = -(a/b)/b
          const quotient = () => binaryRaw('div', binaryRaw('mul', g, saved[0]), binaryRaw('mul', saved[1], saved[1]));
          return [gradA(() => binaryRaw('div', g, saved[1])), gradB(() => unaryRaw('neg', quotient()))];
        }
      }
    },
  };
}

export const addOp = binaryOp('add');
export const subOp = binaryOp('sub');
export const mulOp = binaryOp('mul');
export const divOp = binaryOp('div');

/** Unary ops whose derivative is a function of the input (x) or of the output (y). */
function unaryOp(name: UnaryOp, gradient: (g: Tensor, x: Tensor, y: Tensor, attrs: AffineAttrs) => Tensor): OpDefinition<AffineAttrs> {
  return {
    name,
    forward([x], attrs, save) {
      assertFloat(name, x);
      const y = unaryRaw(name, x, attrs.alpha, attrs.beta);
      save(x);
      save(y);
      return y;
    },
    backward({ saved: [x, y], attrs }, g) {
      return [gradient(g, x, y, attrs)];
    },
  };
}

interface AffineAttrs {
  alpha: number;
  beta: number;
}

export const negOp = unaryOp('neg', (g) => unaryRaw('neg', g));
export const expOp = unaryOp('exp', (g, _x, y) => binaryRaw('mul', g, y));
export const logOp = unaryOp('log', (g, x) => binaryRaw('div', g, x));
export const sqrtOp = unaryOp('sqrt', (g, _x, y) => binaryRaw('div', unaryRaw('affine', g, 0.5), y));
export const reluOp = unaryOp('relu', (g, x) => binaryRaw('relu_grad', x, g));
export const tanhOp = unaryOp('tanh', (g, _x, y) => binaryRaw('tanh_grad', y, g));
export const geluOp = unaryOp('gelu', (g, x) => binaryRaw('gelu_grad', x, g));
export const affineOp = unaryOp('affine', (g, _x, _y, { alpha }) => unaryRaw('affine', g, alpha, 0));

const plain = { alpha: 1, beta: 0 };
export const add = (a: Tensor, b: Tensor) => apply(addOp, [a, b], undefined);
export const sub = (a: Tensor, b: Tensor) => apply(subOp, [a, b], undefined);
export const mul = (a: Tensor, b: Tensor) => apply(mulOp, [a, b], undefined);
export const div = (a: Tensor, b: Tensor) => apply(divOp, [a, b], undefined);
export const neg = (x: Tensor) => apply(negOp, [x], plain);
export const exp = (x: Tensor) => apply(expOp, [x], plain);
export const log = (x: Tensor) => apply(logOp, [x], plain);
export const sqrt = (x: Tensor) => apply(sqrtOp, [x], plain);
export const relu = (x: Tensor) => apply(reluOp, [x], plain);
export const tanh = (x: Tensor) => apply(tanhOp, [x], plain);
/** BERT's GELU (tanh approximation). */
export const gelu = (x: Tensor) => apply(geluOp, [x], plain);
/** alpha * x + beta. */
export const scale = (x: Tensor, alpha: number, beta = 0) => apply(affineOp, [x], { alpha, beta });
