/** Float64 CPU reference for permute: explicit multi-index loops, written from the definition out[i..] = x[perm]. */
import type { Shape } from '../../src/gpu/shape.js';

export function permuteReference(x: ArrayLike<number>, shape: Shape, axes: readonly number[]): Float64Array {
  const rank = shape.length;
  const outShape = axes.map((a) => shape[a]);
  const count = shape.reduce((p, d) => p * d, 1);
  const out = new Float64Array(count);
  const outIndex = new Array<number>(rank).fill(0);
  for (let i = 0; i < count; i++) {
    // outIndex is the multi-index of output element i; the input index puts coordinate k on axis axes[k].
    const inIndex = new Array<number>(rank);
    axes.forEach((a, k) => (inIndex[a] = outIndex[k]));
    let flat = 0;
    for (let d = 0; d < rank; d++) flat = flat * shape[d] + inIndex[d];
    out[i] = x[flat];
    for (let d = rank - 1; d >= 0; d--) {
      if (++outIndex[d] < outShape[d]) break;
      outIndex[d] = 0;
    }
  }
  return out;
}
