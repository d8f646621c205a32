/**
 * Float64 CPU reference for fused self-attention, forward and backward, written as the unfused composition with
 * plain loops: scores = (q·scale)·kᵀ + maskBias, P = softmax(scores), A = dropout(P) with kernels/dropout's mask of a
 * (T, B, heads, S, S) tensor, context = A·v with heads merged back into (T, B·S, hidden). Query rows after a
 * sequence's last unmasked key are padding and attend to nothing: P is 0 there (the fused kernels skip them).
 */
import { dropoutMaskReference } from '../dropout/reference.js';
import type { AttentionDims } from './attention.js';

export interface AttentionReferenceDropout {
  seeds: readonly number[];
  probabilities: readonly number[];
  /** The full call index (base + offset). */
  callIndex: number;
}

interface Probabilities {
  /** (T, B, heads, S, S): softmax(scores). */
  softmax: Float64Array;
  /** (T, B, heads, S, S): the dropout factor (0 or 1/(1 − p); 1 without dropout). */
  factor: Float64Array;
}

function probabilities(
  q: ArrayLike<number>, // (T, B·S, hidden)
  k: ArrayLike<number>, // (T, B·S, hidden)
  maskBias: ArrayLike<number>, // (T, B, S)
  dims: AttentionDims,
  scale: number,
  dropout: AttentionReferenceDropout | null,
): Probabilities {
  const { slots, batch, seq, heads, headSize } = dims;
  const hidden = heads * headSize;
  const softmax = new Float64Array(slots * batch * heads * seq * seq);
  const factor = new Float64Array(softmax.length).fill(1);
  const at = (t: number, b: number, s: number, h: number) => ((t * batch + b) * seq + s) * hidden + h * headSize;
  const scores = new Float64Array(seq);
  for (let t = 0; t < slots; t++) {
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        const rows = queryRows(maskBias, (t * batch + b) * seq, seq);
        for (let i = 0; i < rows; i++) {
          let max = -Infinity;
          for (let j = 0; j < seq; j++) {
            let dot = 0;
            for (let e = 0; e < headSize; e++) dot += q[at(t, b, i, h) + e] * scale * k[at(t, b, j, h) + e];
            scores[j] = dot + maskBias[(t * batch + b) * seq + j];
            max = Math.max(max, scores[j]);
          }
          let sum = 0;
          for (let j = 0; j < seq; j++) sum += Math.exp(scores[j] - max);
          const row = (((t * batch + b) * heads + h) * seq + i) * seq;
          for (let j = 0; j < seq; j++) softmax[row + j] = Math.exp(scores[j] - max) / sum;
        }
      }
    }
  }
  if (dropout) {
    const keep = dropoutMaskReference(dropout.seeds, dropout.probabilities, [batch, heads, seq, seq], dropout.callIndex);
    const perSlot = batch * heads * seq * seq;
    for (let n = 0; n < factor.length; n++) {
      const p = Math.min(1, Math.max(0, Math.fround(dropout.probabilities[Math.floor(n / perSlot)])));
      factor[n] = keep[n] ? 1 / (1 - p) : 0;
    }
  }
  return { softmax, factor };
}

/**
 * Query rows that attend: up to the sequence's last key with a bias above −1e8 (all S when none is). The rows after
 * it are padding: they attend to nothing, so their probabilities, context and gradients are 0.
 */
function queryRows(maskBias: ArrayLike<number>, at: number, seq: number): number {
  let n = seq;
  while (n > 0 && maskBias[at + n - 1] <= -1e8) n--;
  return n === 0 ? seq : n;
}

/** The merged context (T, B·S, hidden). `scale`: what multiplies q (1/√d in the model). */
export function attentionReference(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  maskBias: ArrayLike<number>,
  dims: AttentionDims,
  scale: number,
  dropout: AttentionReferenceDropout | null = null,
): Float64Array {
  const { slots, batch, seq, heads, headSize } = dims;
  const hidden = heads * headSize;
  const { softmax, factor } = probabilities(q, k, maskBias, dims, scale, dropout);
  const context = new Float64Array(slots * batch * seq * hidden);
  const at = (t: number, b: number, s: number, h: number) => ((t * batch + b) * seq + s) * hidden + h * headSize;
  for (let t = 0; t < slots; t++) {
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < seq; i++) {
          const row = (((t * batch + b) * heads + h) * seq + i) * seq;
          for (let j = 0; j < seq; j++) {
            const a = softmax[row + j] * factor[row + j];
            for (let e = 0; e < headSize; e++) context[at(t, b, i, h) + e] += a * v[at(t, b, j, h) + e];
          }
        }
      }
    }
  }
  return context;
}

/** Gradients of q, k and v (each (T, B·S, hidden)) given the context's gradient (T, B·S, hidden). */
export function attentionBackwardReference(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  maskBias: ArrayLike<number>,
  gradContext: ArrayLike<number>,
  dims: AttentionDims,
  scale: number,
  dropout: AttentionReferenceDropout | null = null,
): { q: Float64Array; k: Float64Array; v: Float64Array } {
  const { slots, batch, seq, heads, headSize } = dims;
  const hidden = heads * headSize;
  const { softmax, factor } = probabilities(q, k, maskBias, dims, scale, dropout);
  const grads = { q: new Float64Array(q.length), k: new Float64Array(k.length), v: new Float64Array(v.length) };
  const at = (t: number, b: number, s: number, h: number) => ((t * batch + b) * seq + s) * hidden + h * headSize;
  const gradProbability = new Float64Array(seq);
  for (let t = 0; t < slots; t++) {
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < seq; i++) {
          const row = (((t * batch + b) * heads + h) * seq + i) * seq;
          const gi = at(t, b, i, h);
          // dP_ij = (G_i · v_j) · factor_ij; softmax backward: dS_ij = P_ij (dP_ij − Σ_j' P_ij' dP_ij').
          let dot = 0;
          for (let j = 0; j < seq; j++) {
            let g = 0;
            for (let e = 0; e < headSize; e++) g += gradContext[gi + e] * v[at(t, b, j, h) + e];
            gradProbability[j] = g * factor[row + j];
            dot += gradProbability[j] * softmax[row + j];
            const a = softmax[row + j] * factor[row + j];
            for (let e = 0; e < headSize; e++) grads.v[at(t, b, j, h) + e] += a * gradContext[gi + e];
          }
          for (let j = 0; j < seq; j++) {
            const gradScore = softmax[row + j] * (gradProbability[j] - dot);
            const kj = at(t, b, j, h);
            for (let e = 0; e < headSize; e++) {
              grads.q[gi + e] += gradScore * k[kj + e] * scale;
              grads.k[kj + e] += gradScore * q[gi + e] * scale;
            }
          }
        }
      }
    }
  }
  return grads;
}
