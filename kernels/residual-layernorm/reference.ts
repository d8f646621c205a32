/**
 * Float64 CPU reference for residual + dropout + layer normalisation on (slots, rowsPerSlot, hidden): the dropout
 * mask from kernels/dropout/reference.ts, the normalisation from kernels/layernorm/reference.ts.
 */
import { dropoutMaskReference, dropoutReference } from '../dropout/reference.js';
import { layerNormDxReference, layerNormReference } from '../layernorm/reference.js';

/** The branch's dropout, as launchDropout's: per dropout slot seed and rate, a slot shape, the call index. */
export interface DropoutReference {
  seeds: ArrayLike<number>;
  probabilities: ArrayLike<number>;
  slotShape: readonly number[];
  callIndex: number;
}

/** z = x + dropout(branch) (x + branch without dropout), then layerNormReference's y, mean and rstd. */
export function residualLayerNormReference(
  x: ArrayLike<number>,
  branch: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number>,
  rows: number,
  hidden: number,
  slots: number,
  eps: number,
  dropout: DropoutReference | null,
): { z: Float64Array; y: Float64Array; mean: Float64Array; rstd: Float64Array } {
  const dropped = dropout
    ? dropoutReference(branch, dropout.seeds, dropout.probabilities, dropout.callIndex, dropout.slotShape)
    : Float64Array.from(branch);
  const z = Float64Array.from(x, (v, i) => v + dropped[i]);
  return { z, ...layerNormReference(z, weight, bias, rows, hidden, slots, eps) };
}

/** Gradients of x, branch, weight and bias for an upstream gradient dy. */
export function residualLayerNormBackwardReference(
  x: ArrayLike<number>,
  branch: ArrayLike<number>,
  weight: ArrayLike<number>,
  dy: ArrayLike<number>,
  rows: number,
  hidden: number,
  slots: number,
  eps: number,
  dropout: DropoutReference | null,
): { dx: Float64Array; dbranch: Float64Array; dweight: Float64Array; dbias: Float64Array } {
  const { z, mean, rstd } = residualLayerNormReference(x, branch, weight, weight, rows, hidden, slots, eps, dropout);
  const dx = layerNormDxReference(z, weight, dy, rows, hidden, slots, eps);
  let dbranch = Float64Array.from(dx);
  if (dropout) {
    const keep = dropoutMaskReference(dropout.seeds, dropout.probabilities, dropout.slotShape, dropout.callIndex);
    const perDropoutSlot = dx.length / dropout.seeds.length;
    dbranch = Float64Array.from(dx, (g, i) => {
      const p = Math.min(1, Math.max(0, Math.fround(dropout.probabilities[Math.floor(i / perDropoutSlot)])));
      return keep[i] ? g / (1 - p) : 0;
    });
  }
  const dweight = new Float64Array(slots * hidden);
  const dbias = new Float64Array(slots * hidden);
  const perSlot = rows / slots;
  for (let r = 0; r < rows; r++) {
    const w = Math.floor(r / perSlot) * hidden;
    for (let c = 0; c < hidden; c++) {
      const i = r * hidden + c;
      dweight[w + c] += dy[i] * (z[i] - mean[r]) * rstd[r];
      dbias[w + c] += dy[i];
    }
  }
  return { dx, dbranch, dweight, dbias };
}
