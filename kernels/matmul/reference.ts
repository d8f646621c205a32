/** Plain-loop float64 CPU reference for every matmul form the kernels take (transposes, batch broadcast, epilogue). */

export interface MatmulReferenceShape {
  batch: number;
  m: number;
  k: number;
  n: number;
  transposeA?: boolean;
  transposeB?: boolean;
  /** false: A is one matrix shared by every batch. */
  aBatched?: boolean;
  bBatched?: boolean;
  /** (n), or (batch, n) with `biasBatched`. */
  bias?: ArrayLike<number>;
  biasBatched?: boolean;
  gelu?: boolean;
}

export function geluReference(x: number): number {
  return 0.5 * x * (1 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

/** out (batch, m, n) = op(A) op(B) (+ bias) (GELU); `preActivation` is the value before GELU. */
export function matmulReference(
  a: ArrayLike<number>, // (batch|1, m, k), or (batch|1, k, m) transposed
  b: ArrayLike<number>, // (batch|1, k, n), or (batch|1, n, k) transposed
  s: MatmulReferenceShape,
): { out: Float64Array; preActivation: Float64Array } {
  const { batch, m, k, n } = s;
  const out = new Float64Array(batch * m * n);
  const preActivation = new Float64Array(batch * m * n);
  for (let p = 0; p < batch; p++) {
    const aBase = s.aBatched === false ? 0 : p * m * k;
    const bBase = s.bBatched === false ? 0 : p * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let total = 0;
        for (let kk = 0; kk < k; kk++) {
          const av = a[aBase + (s.transposeA ? kk * m + i : i * k + kk)];
          const bv = b[bBase + (s.transposeB ? j * k + kk : kk * n + j)];
          total += av * bv;
        }
        if (s.bias) total += s.bias[(s.biasBatched ? p * n : 0) + j];
        const index = (p * m + i) * n + j;
        preActivation[index] = total;
        out[index] = s.gelu ? geluReference(total) : total;
      }
    }
  }
  return { out, preActivation };
}
