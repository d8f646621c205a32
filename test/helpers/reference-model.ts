/**
 * A float64 CPU implementation of the SequenceClassifier for one slot, in plain loops, written from BERT's
 * definition (not from the GPU code): embeddings + LayerNorm, post-LN encoder layers with masked multi-head
 * attention and a GELU (tanh form) feed-forward, a tanh [CLS] pooler, a linear head, mean cross-entropy.
 * Dropout is not modelled: tests run it with dropout off.
 */
import type { ModelConfig } from '../../src/nn/config.js';

export type Weights = Map<string, Float64Array>;

function dense(x: Float64Array, rows: number, n: number, w: Float64Array, b: Float64Array, out: number): Float64Array {
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < out; o++) {
      let acc = b[o];
      for (let i = 0; i < n; i++) acc += x[r * n + i] * w[i * out + o];
      y[r * out + o] = acc;
    }
  }
  return y;
}

function layerNorm(x: Float64Array, rows: number, n: number, g: Float64Array, b: Float64Array, eps: number): Float64Array {
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += x[r * n + i];
    mean /= n;
    let variance = 0;
    for (let i = 0; i < n; i++) variance += (x[r * n + i] - mean) ** 2;
    variance /= n;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < n; i++) y[r * n + i] = (x[r * n + i] - mean) * inv * g[i] + b[i];
  }
  return y;
}

const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

export interface ReferenceBatch {
  batch: number;
  seq: number;
  inputIds: ArrayLike<number>; // (B, S)
  attentionMask: ArrayLike<number>; // (B, S)
  labels: ArrayLike<number>; // (B)
}

/** Logits (B, numLabels) and mean cross-entropy for one slot's weights. */
export function referenceForward(config: ModelConfig, w: Weights, input: ReferenceBatch): { logits: Float64Array; loss: number } {
  const { batch: B, seq: S } = input;
  const H = config.hiddenSize;
  const heads = config.numHeads;
  const d = H / heads;
  const rows = B * S;
  const get = (name: string) => {
    const value = w.get(name);
    if (!value) throw new Error(`reference model: no weight ${name}`);
    return value;
  };
  let x: Float64Array = new Float64Array(rows * H);
  const word = get('word_embeddings.weight');
  const position = get('position_embeddings.weight');
  for (let r = 0; r < rows; r++) {
    const id = input.inputIds[r];
    const p = r % S;
    for (let i = 0; i < H; i++) x[r * H + i] = word[id * H + i] + position[p * H + i];
  }
  x = layerNorm(x, rows, H, get('embedding_norm.weight'), get('embedding_norm.bias'), config.layerNormEps);
  for (let l = 0; l < config.numLayers; l++) {
    const p = `layer.${l}.`;
    const q = dense(x, rows, H, get(`${p}attention.query.weight`), get(`${p}attention.query.bias`), H);
    const k = dense(x, rows, H, get(`${p}attention.key.weight`), get(`${p}attention.key.bias`), H);
    const v = dense(x, rows, H, get(`${p}attention.value.weight`), get(`${p}attention.value.bias`), H);
    const context = new Float64Array(rows * H);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < S; i++) {
          const scores = new Float64Array(S);
          let max = -Infinity;
          for (let j = 0; j < S; j++) {
            let s = 0;
            for (let c = 0; c < d; c++) s += q[(b * S + i) * H + h * d + c] * k[(b * S + j) * H + h * d + c];
            s = s / Math.sqrt(d) + (input.attentionMask[b * S + j] ? 0 : -1e9);
            scores[j] = s;
            max = Math.max(max, s);
          }
          let total = 0;
          for (let j = 0; j < S; j++) total += (scores[j] = Math.exp(scores[j] - max));
          for (let c = 0; c < d; c++) {
            let acc = 0;
            for (let j = 0; j < S; j++) acc += (scores[j] / total) * v[(b * S + j) * H + h * d + c];
            context[(b * S + i) * H + h * d + c] = acc;
          }
        }
      }
    }
    const attended = dense(context, rows, H, get(`${p}attention.output.weight`), get(`${p}attention.output.bias`), H);
    for (let i = 0; i < rows * H; i++) attended[i] += x[i];
    const h1 = layerNorm(attended, rows, H, get(`${p}attention_norm.weight`), get(`${p}attention_norm.bias`), config.layerNormEps);
    const inner = dense(h1, rows, H, get(`${p}intermediate.weight`), get(`${p}intermediate.bias`), config.intermediateSize).map(gelu);
    const out = dense(inner, rows, config.intermediateSize, get(`${p}output.weight`), get(`${p}output.bias`), H);
    for (let i = 0; i < rows * H; i++) out[i] += h1[i];
    x = layerNorm(out, rows, H, get(`${p}output_norm.weight`), get(`${p}output_norm.bias`), config.layerNormEps);
  }
  const cls = new Float64Array(B * H);
  for (let b = 0; b < B; b++) for (let i = 0; i < H; i++) cls[b * H + i] = x[b * S * H + i];
  const pooled = dense(cls, B, H, get('pooler.weight'), get('pooler.bias'), H).map(Math.tanh);
  const C = config.numLabels;
  const logits = dense(pooled, B, H, get('classifier.weight'), get('classifier.bias'), C);
  let loss = 0;
  for (let b = 0; b < B; b++) {
    let max = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, logits[b * C + c]);
    let total = 0;
    for (let c = 0; c < C; c++) total += Math.exp(logits[b * C + c] - max);
    loss += Math.log(total) + max - logits[b * C + input.labels[b]];
  }
  return { logits, loss: loss / B };
}
