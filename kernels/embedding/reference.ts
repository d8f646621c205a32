/** Float64 CPU references for the embedding gather and its gradient: plain loops from the definitions. */

/** out[slot, r, h] = table[slot, ids[slot, r], h]; NaN rows for ids outside [0, vocab). */
export function embeddingReference(
  table: ArrayLike<number>, // (T, vocab, hidden)
  ids: ArrayLike<number>, // (T, rowsPerSlot)
  slots: number,
  vocab: number,
  hidden: number,
): Float64Array {
  const rowsPerSlot = ids.length / slots;
  const out = new Float64Array(ids.length * hidden);
  for (let token = 0; token < ids.length; token++) {
    const slot = Math.floor(token / rowsPerSlot);
    const id = ids[token];
    for (let h = 0; h < hidden; h++) {
      out[token * hidden + h] = id >= 0 && id < vocab ? table[(slot * vocab + id) * hidden + h] : NaN;
    }
  }
  return out;
}

/** dtable[slot, v, h] = Σ over tokens r of the slot with ids[slot, r] = v of dout[slot, r, h]. */
export function embeddingGradReference(
  gradOutput: ArrayLike<number>, // (T, rowsPerSlot, hidden)
  ids: ArrayLike<number>,
  slots: number,
  vocab: number,
  hidden: number,
): Float64Array {
  const rowsPerSlot = ids.length / slots;
  const grad = new Float64Array(slots * vocab * hidden);
  for (let token = 0; token < ids.length; token++) {
    const id = ids[token];
    if (id < 0 || id >= vocab) continue;
    const slot = Math.floor(token / rowsPerSlot);
    for (let h = 0; h < hidden; h++) grad[(slot * vocab + id) * hidden + h] += gradOutput[token * hidden + h];
  }
  return grad;
}

/** out[slot, k, h] = x[slot, k · stride + offset, h]; x (slots, selected · stride, hidden). */
export function selectRowsReference(x: ArrayLike<number>, slots: number, stride: number, offset: number, hidden: number): Float64Array {
  const selected = x.length / (slots * stride * hidden);
  const out = new Float64Array(slots * selected * hidden);
  for (let k = 0; k < slots * selected; k++) {
    for (let h = 0; h < hidden; h++) out[k * hidden + h] = x[(k * stride + offset) * hidden + h];
  }
  return out;
}

/** dx[slot, r, h] = dout[slot, r / stride, h] where r mod stride = offset, else 0. */
export function selectRowsGradReference(dout: ArrayLike<number>, slots: number, stride: number, offset: number, hidden: number): Float64Array {
  const dx = new Float64Array(dout.length * stride);
  for (let k = 0; k < dout.length / hidden; k++) {
    for (let h = 0; h < hidden; h++) dx[(k * stride + offset) * hidden + h] = dout[k * hidden + h];
  }
  return dx;
}

/** out[t, b] = x[t, sequences[t, b, 0]]: the first row of each sequence of a (T, rows, hidden) x. */
export function selectFirstRowsReference(x: ArrayLike<number>, sequences: ArrayLike<number>, slots: number, hidden: number): Float64Array {
  const rows = x.length / (slots * hidden);
  const sequencesPerSlot = sequences.length / (2 * slots);
  const out = new Float64Array(slots * sequencesPerSlot * hidden);
  for (let n = 0; n < slots * sequencesPerSlot; n++) {
    const row = Math.floor(n / sequencesPerSlot) * rows + sequences[2 * n];
    for (let h = 0; h < hidden; h++) out[n * hidden + h] = x[row * hidden + h];
  }
  return out;
}
