/** Float64 CPU reference for reductions over the middle axis of (outer, reduced, inner). */
export function reduceReference(
  input: ArrayLike<number>,
  outer: number,
  reduced: number,
  inner: number,
  op: 'sum' | 'mean' | 'max',
): Float64Array {
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let n = 0; n < inner; n++) {
      let acc = op === 'max' ? -Infinity : 0;
      for (let r = 0; r < reduced; r++) {
        const v = input[(o * reduced + r) * inner + n];
        acc = op === 'max' ? Math.max(acc, v) : acc + v;
      }
      out[o * inner + n] = op === 'mean' ? acc / reduced : acc;
    }
  }
  return out;
}
