/** Column sums of (slots, rowsPerSlot, hidden) rows in float64, per slot: a LayerNorm's weight or bias gradient. */
export function slotColumnSums(rows: ArrayLike<number>, slots: number, hidden: number): Float32Array<ArrayBuffer> {
  const out = new Float64Array(slots * hidden);
  const perSlot = rows.length / hidden / slots;
  for (let i = 0; i < rows.length; i++) out[Math.floor(i / hidden / perSlot) * hidden + (i % hidden)] += rows[i];
  return Float32Array.from(out);
}
