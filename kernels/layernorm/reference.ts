/**
 * Float64 CPU reference for layer normalisation over the last axis of (slots, rowsPerSlot, hidden) with weight
 * and bias (slots, hidden); slots = 1 shares them across all rows.
 */
export function layerNormReference(
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number>,
  rows: number,
  hidden: number,
  slots: number,
  eps: number,
): { y: Float64Array; mean: Float64Array; rstd: Float64Array } {
  const y = new Float64Array(rows * hidden);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  const perSlot = rows / slots;
  for (let r = 0; r < rows; r++) {
    const w = Math.floor(r / perSlot) * hidden;
    let m = 0;
    for (let c = 0; c < hidden; c++) m += x[r * hidden + c];
    m /= hidden;
    let v = 0;
    for (let c = 0; c < hidden; c++) v += (x[r * hidden + c] - m) ** 2;
    v /= hidden;
    const s = 1 / Math.sqrt(v + eps);
    mean[r] = m;
    rstd[r] = s;
    for (let c = 0; c < hidden; c++) y[r * hidden + c] = (x[r * hidden + c] - m) * s * weight[w + c] + bias[w + c];
  }
  return { y, mean, rstd };
}

/** dx of layer normalisation for an upstream gradient dy (same layout as `layerNormReference`). */
export function layerNormDxReference(
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  dy: ArrayLike<number>,
  rows: number,
  hidden: number,
  slots: number,
  eps: number,
): Float64Array {
  const { mean, rstd } = layerNormReference(x, weight, weight, rows, hidden, slots, eps);
  const dx = new Float64Array(rows * hidden);
  const perSlot = rows / slots;
  for (let r = 0; r < rows; r++) {
    const w = Math.floor(r / perSlot) * hidden;
    let a = 0;
    let b = 0;
    for (let c = 0; c < hidden; c++) {
      const g = dy[r * hidden + c] * weight[w + c];
      a += g;
      b += g * (x[r * hidden + c] - mean[r]) * rstd[r];
    }
    for (let c = 0; c < hidden; c++) {
      const g = dy[r * hidden + c] * weight[w + c];
      const xhat = (x[r * hidden + c] - mean[r]) * rstd[r];
      dx[r * hidden + c] = rstd[r] * (g - a / hidden - (xhat * b) / hidden);
    }
  }
  return dx;
}
