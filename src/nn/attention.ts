/**
 * Multi-head self-attention with a padding mask (Vaswani et al. 2017, as in BERT). From the query/key/value
 * projections to the merged heads, the fused op (src/tensor/ops/attention.ts, kernels/attention: one dispatch
 * forward, two backward) where it takes the shapes: head size ≤ 64 and the limits `attentionUnsupported` checks
 * (kernels/attention/attention.ts). Elsewhere, or with `fused` false, the unfused composition: all trial slots,
 * sequences and heads go through each matmul as one batch, (T·B·heads, S, d). Both draw the same dropout masks.
 */
import { attentionUnsupported } from '../../kernels/attention/attention.js';
import type { Device } from '../gpu/device.js';
import { ShapeError } from '../gpu/errors.js';
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
import type { ModelInput } from './model-input.js';
import { Module, type BuildContext } from './module.js';

export interface SequenceDims {
  slots: number;
  batch: number;
  /** Attention's rows per sequence (padded: every sequence's). */
  seq: number;
  /** Token rows per slot: B·S padded, fewer packed (model-input.ts). */
  rows: number;
  /** True: each slot's sequences lie end to end (ModelInput.sequences says where). */
  packed: boolean;
}

/**
 * One slot's logical shape of (T, rows, hidden) activations, as dropout takes it: [B, S, H] padded (S its own axis,
 * so padding moves no mask); packed, [rows, H] (a row's place in its slot depends on that slot's batch alone).
 */
export function slotTokenShape(dims: SequenceDims, hidden: number): number[] {
  return dims.packed ? [dims.rows, hidden] : [dims.batch, dims.seq, hidden];
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

  /** Whether the fused op takes these dims: the only path that takes packed sequences. */
  takesFused({ slots, batch, seq, rows }: SequenceDims, device: Device): boolean {
    return this.fused && attentionUnsupported(device, { slots, batch, seq, heads: this.numHeads, headSize: this.headSize, rowsPerSlot: rows }) === null;
  }

  /**
   * x (T, rows, hidden) → (T, rows, hidden); the input's maskBias (T, B, 1, 1, S) is 0 for real tokens and a large
   * negative number for padding. Packed sequences (input.dims.packed) need the fused op.
   */
  forward(x: Tensor, input: ModelInput, context: ForwardContext): Tensor {
    const { slots, batch, seq, rows, packed } = input.dims;
    const { maskBias } = input;
    const heads = this.numHeads;
    const d = this.headSize;
    if (this.takesFused(input.dims, x.device)) {
      const [q, k, v] = [this.query, this.key, this.value].map((linear) => linear.forward(x));
      // The same dropout site, taken at the same point of the forward, as the unfused path's Dropout module.
      const site = this.probabilityDropout.settings(context);
      const dropout = site && { seeds: site.seeds, probabilities: site.probabilities, callBase: site.callBase, callIndex: site.callIndex };
      // The input's sequence table, padded or packed: the op would otherwise upload a padded one each call.
      return this.output.forward(attention(q, k, v, maskBias, { slots, batch, seq, heads, dropout, sequences: input.sequences, rowsPerSlot: rows }));
    }
    if (packed) throw new ShapeError('SelfAttention: packed sequences need the fused attention op, which does not take these shapes or is switched off');
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
