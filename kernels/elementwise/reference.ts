/** Float64 CPU references for the elementwise kernels: plain loops, written from the definitions. */
import type { Shape } from '../../src/gpu/shape.js';

export function geluReference(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

export const unaryReference: Record<string, (x: number, alpha: number, beta: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  relu: (x) => Math.max(x, 0),
  tanh: Math.tanh,
  gelu: geluReference,
  affine: (x, alpha, beta) => alpha * x + beta,
};

export const binaryReference: Record<string, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
};

/** out[i] = f(a[broadcast index], b[broadcast index]) by explicit multi-index arithmetic, no stride tricks. */
export function broadcastReference(
  a: ArrayLike<number>,
  aShape: Shape,
  b: ArrayLike<number>,
  bShape: Shape,
  outShape: Shape,
  f: (a: number, b: number) => number,
): Float64Array {
  const count = outShape.reduce((p, d) => p * d, 1);
  const out = new Float64Array(count);
  const index = (shape: Shape, coords: number[]) => {
    let flat = 0;
    for (let i = 0; i < shape.length; i++) {
      const c = coords[coords.length - shape.length + i];
      flat = flat * shape[i] + (shape[i] === 1 ? 0 : c);
    }
    return flat;
  };
  const coords = new Array<number>(outShape.length).fill(0);
  for (let i = 0; i < count; i++) {
    let rest = i;
    for (let axis = outShape.length - 1; axis >= 0; axis--) {
      coords[axis] = rest % outShape[axis];
      rest = Math.floor(rest / outShape[axis]);
    }
    out[i] = f(a[index(aShape, coords)], b[index(bShape, coords)]);
  }
  return out;
}
