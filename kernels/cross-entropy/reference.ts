/**
 * Float64 CPU references for softmax cross-entropy with integer labels: per-row loss (0 for ignored rows, NaN for
 * labels outside [0, classes)) and the per-slot mean over non-ignored rows (0 for an all-ignored slot).
 */
export function crossEntropyReference(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  rows: number,
  classes: number,
  ignoreIndex = -100,
): Float64Array {
  const loss = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const label = labels[r];
    if (label === ignoreIndex) continue;
    if (!(label >= 0 && label < classes)) {
      loss[r] = NaN;
      continue;
    }
    let m = -Infinity;
    for (let c = 0; c < classes; c++) m = Math.max(m, logits[r * classes + c]);
    let s = 0;
    for (let c = 0; c < classes; c++) s += Math.exp(logits[r * classes + c] - m);
    loss[r] = m + Math.log(s) - logits[r * classes + label];
  }
  return loss;
}

export function crossEntropyMeanReference(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  rows: number,
  classes: number,
  slots: number,
  ignoreIndex = -100,
): Float64Array {
  const loss = crossEntropyReference(logits, labels, rows, classes, ignoreIndex);
  const perSlot = rows / slots;
  const mean = new Float64Array(slots);
  for (let t = 0; t < slots; t++) {
    let total = 0;
    let count = 0;
    for (let r = t * perSlot; r < (t + 1) * perSlot; r++) {
      if (labels[r] === ignoreIndex) continue;
      total += loss[r];
      count++;
    }
    mean[t] = count > 0 ? total / count : 0;
  }
  return mean;
}
