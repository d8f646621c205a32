/**
 * Float64 CPU references for AdamW and global-norm clipping, written from Loshchilov & Hutter 2019 (Algorithm 2)
 * as torch.optim.AdamW documents it, and from the definition of the L2 norm; no code shared with the kernels.
 */
export interface AdamWReferenceSettings {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** One AdamW step at 1-based step t, on float64 copies; returns nothing, updates p, m, v in place. */
export function adamwReferenceStep(
  p: Float64Array,
  g: ArrayLike<number>,
  m: Float64Array,
  v: Float64Array,
  s: AdamWReferenceSettings,
  t: number,
  gradScale = 1,
  decay = true,
): void {
  for (let i = 0; i < p.length; i++) {
    const grad = g[i] * gradScale;
    if (decay) p[i] -= s.lr * s.weightDecay * p[i];
    m[i] = s.beta1 * m[i] + (1 - s.beta1) * grad;
    v[i] = s.beta2 * v[i] + (1 - s.beta2) * grad * grad;
    const mHat = m[i] / (1 - s.beta1 ** t);
    const vHat = v[i] / (1 - s.beta2 ** t);
    p[i] -= (s.lr * mHat) / (Math.sqrt(vHat) + s.eps);
  }
}

/** Norm over the concatenation of every array, and the clip scale min(1, maxNorm / (norm + 1e-6)). */
export function clipReference(arrays: readonly ArrayLike<number>[], maxNorm: number): { norm: number; scale: number } {
  let squares = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) squares += a[i] * a[i];
  const norm = Math.sqrt(squares);
  return { norm, scale: maxNorm > 0 ? Math.min(1, maxNorm / (norm + 1e-6)) : 1 };
}
