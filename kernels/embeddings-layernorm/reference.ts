/**
 * Float64 CPU reference for the fused embeddings block on (slots, rowsPerSlot, hidden): the gathers of
 * kernels/embedding/reference.ts, the normalisation of kernels/layernorm/reference.ts and the dropout of
 * kernels/dropout/reference.ts, composed as the unfused model does.
 */
import { dropoutMaskReference, dropoutReference } from '../dropout/reference.js';
import { embeddingGradReference, embeddingReference } from '../embedding/reference.js';
import { layerNormDxReference, layerNormReference } from '../layernorm/reference.js';

/** The dropout on y, as launchDropout's: per slot seed and rate, a slot shape, the call index. */
export interface EmbeddingsDropoutReference {
  seeds: ArrayLike<number>;
  probabilities: ArrayLike<number>;
  slotShape: readonly number[];
  callIndex: number;
}

export interface EmbeddingsReferenceInput {
  words: ArrayLike<number>; // (slots, vocab, hidden)
  positionTable: ArrayLike<number>; // (slots, positions, hidden)
  inputIds: ArrayLike<number>; // (slots, rowsPerSlot)
  positionIds: ArrayLike<number>; // (slots, rowsPerSlot)
  weight: ArrayLike<number>; // (slots, hidden)
  bias: ArrayLike<number>; // (slots, hidden)
  slots: number;
  vocab: number;
  positions: number;
  hidden: number;
  eps: number;
  dropout: EmbeddingsDropoutReference | null;
}

/** z = word row + position row (NaN rows for bad ids), LN's y, mean and rstd, then out = dropout(y). */
export function embeddingsLayerNormReference(a: EmbeddingsReferenceInput): {
  z: Float64Array;
  out: Float64Array;
  mean: Float64Array;
  rstd: Float64Array;
} {
  const word = embeddingReference(a.words, a.inputIds, a.slots, a.vocab, a.hidden);
  const position = embeddingReference(a.positionTable, a.positionIds, a.slots, a.positions, a.hidden);
  const z = Float64Array.from(word, (v, i) => v + position[i]);
  const rows = a.inputIds.length;
  const { y, mean, rstd } = layerNormReference(z, a.weight, a.bias, rows, a.hidden, a.slots, a.eps);
  const out = a.dropout ? dropoutReference(y, a.dropout.seeds, a.dropout.probabilities, a.dropout.callIndex, a.dropout.slotShape) : y;
  return { z, out, mean, rstd };
}

/** Gradients of both tables, weight and bias for an upstream gradient dout (of the dropout's output). */
export function embeddingsLayerNormBackwardReference(
  a: EmbeddingsReferenceInput,
  dout: ArrayLike<number>,
): { dwords: Float64Array; dpositions: Float64Array; dweight: Float64Array; dbias: Float64Array } {
  const { z, mean, rstd } = embeddingsLayerNormReference(a);
  const rows = a.inputIds.length;
  let dy = Float64Array.from(dout);
  if (a.dropout) {
    const d = a.dropout;
    const keep = dropoutMaskReference(d.seeds, d.probabilities, d.slotShape, d.callIndex);
    const perSlot = dy.length / d.seeds.length;
    dy = Float64Array.from(dout, (g, i) => {
      const p = Math.min(1, Math.max(0, Math.fround(d.probabilities[Math.floor(i / perSlot)])));
      return keep[i] ? g / (1 - p) : 0;
    });
  }
  const dz = layerNormDxReference(z, a.weight, dy, rows, a.hidden, a.slots, a.eps);
  const dweight = new Float64Array(a.slots * a.hidden);
  const dbias = new Float64Array(a.slots * a.hidden);
  const perSlot = rows / a.slots;
  for (let r = 0; r < rows; r++) {
    const w = Math.floor(r / perSlot) * a.hidden;
    for (let c = 0; c < a.hidden; c++) {
      const i = r * a.hidden + c;
      dweight[w + c] += dy[i] * (z[i] - mean[r]) * rstd[r];
      dbias[w + c] += dy[i];
    }
  }
  return {
    dwords: embeddingGradReference(dz, a.inputIds, a.slots, a.vocab, a.hidden),
    dpositions: embeddingGradReference(dz, a.positionIds, a.slots, a.positions, a.hidden),
    dweight,
    dbias,
  };
}
