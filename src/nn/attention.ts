/**
 * Multi-head self-attention with a padding mask (Vaswani et al. 2017, as in BERT). From the query/key/value
 * projections to the merged heads, the fused op (src/tensor/ops/attention.ts, kernels/attention: one dispatch
 * forward, two backward) where it takes the shapes: head size ≤ 64 and the limits `attentionUnsupported` checks
 * (kernels/attention/attention.ts). Elsewhere, or with `fused` false, the unfused composition: all trial slots,
 * sequences and heads go through each matmul as one batch, (T·B·heads, S, d). Both draw the same dropout masks.
 */
import { attentionUnsupported } from '../../kernels/attention/attention.js';
import { attention } from '../tensor/ops/attention.js';
import { add, scale } from '../tensor/ops/elementwise.js';
import { matmul } from '../tensor/ops/matmul.js';
import { permute } from '../tensor/ops/permute.js';
import { reshape } from '../tensor/ops/shape.js';
import { softmax } from '../tensor/ops/softmax.js';
import type { Tensor } from '../tensor/tensor.js';
import { Dropout } from './dropout.js';
import type { ForwardContext } from './forward-context.js';
import { Linear } from './linear.js';
import { Module, type BuildContext } from './module.js';

export interface SequenceDims {
  slots: number;
  batch: number;
  seq: number;
}

export class SelfAttention extends Module {
  readonly query: Linear;
  readonly key: Linear;
  readonly value: Linear;
  readonly output: Linear;
  readonly probabilityDropout = this.child('dropout', new Dropout('attention'));
  private readonly headSize: number;
  /**
   * Use the fused attention op where it takes the shapes (the default). False forces the unfused composition
   * (scale, permutes, matmuls, softmax, dropout): tests compare the two (test/nn/attention-fused.test.ts).
   */
  fused = true;

  constructor(context: BuildContext, readonly hiddenSize: number, readonly numHeads: number) {
    super();
    this.query = this.child('query', new Linear(context, hiddenSize, hiddenSize));
    this.key = this.child('key', new Linear(context, hiddenSize, hiddenSize));
    this.value = this.child('value', new Linear(context, hiddenSize, hiddenSize));
    this.output = this.child('output', new Linear(context, hiddenSize, hiddenSize));
    this.headSize = hiddenSize / numHeads;
  }

  /**
   * x (T, B·S, hidden); maskBias (T, B, 1, 1, S): 0 for real tokens, a large negative number for padding.
   * Returns (T, B·S, hidden).
   */
  forward(x: Tensor, maskBias: Tensor, { slots, batch, seq }: SequenceDims, context: ForwardContext): Tensor {
    const heads = this.numHeads;
    const d = this.headSize;
    const dims = { slots, batch, seq, heads, headSize: d };
    if (this.fused && attentionUnsupported(x.device, dims) === null) {
      const [q, k, v] = [this.query, this.key, this.value].map((linear) => linear.forward(x));
      // The same dropout site, taken at the same point of the forward, as the unfused path's Dropout module.
      const site = this.probabilityDropout.settings(context);
      const dropout = site && { seeds: site.seeds, probabilities: site.probabilities, callBase: site.callBase, callIndex: site.callIndex };
      return this.output.forward(attention(q, k, v, maskBias, { slots, batch, seq, heads, dropout }));
    }
    // (T, B·S, hidden) → (T·B·heads, S, d)
    const split = (t: Tensor) => reshape(permute(reshape(t, [slots, batch, seq, heads, d]), [0, 1, 3, 2, 4]), [slots * batch * heads, seq, d]);
    // Scaling q rather than the scores touches S/d times fewer values.
    const q = split(scale(this.query.forward(x), 1 / Math.sqrt(d)));
    const k = split(this.key.forward(x));
    const v = split(this.value.forward(x));
    const scores = reshape(matmul(q, k, { transposeB: true }), [slots, batch, heads, seq, seq]);
    const probabilities = this.probabilityDropout.forward(softmax(add(scores, maskBias)), context);
    const mixed = matmul(reshape(probabilities, [slots * batch * heads, seq, seq]), v); // (T·B·heads, S, d)
    const merged = reshape(permute(reshape(mixed, [slots, batch, heads, seq, d]), [0, 1, 3, 2, 4]), [slots, batch * seq, heads * d]);
    return this.output.forward(merged);
  }
}
