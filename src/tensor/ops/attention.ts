/**
 * Fused multi-head self-attention with autograd (kernels/attention): from the query/key/value projections q, k, v
 * (T, rows, hidden) to the merged context (T, rows, hidden) =
 *   merge_heads(dropout(softmax((q · scale) · kᵀ + maskBias)) · v)
 * per sequence, rows = B·S padded, or fewer with the sequences packed end to end (`sequences`),
 * in one forward dispatch and two backward dispatches. The forward saves q, k, v, the mask, its output and each
 * query row's softmax statistics (max, sum): the backward recomputes the probabilities and regenerates the dropout
 * mask. maskBias gets no gradient (it is data). Query rows after a sequence's last key with a bias above −1e8 are
 * padding: they attend to nothing (their context is 0, and they add nothing to any gradient).
 * Dropout is the unfused path's, mask for mask: site `callIndex` of kernels/dropout on the (T, B, heads, S, S)
 * probabilities. `attentionUnsupported` (kernels/attention) says which shapes the kernels take.
 */
import {
  keepBitsWords,
  launchAttention,
  paddedSequences,
  launchAttentionBackward,
  type AttentionDims,
  type AttentionDropout,
  type AttentionVariant,
} from '../../../kernels/attention/attention.js';
import { apply, type OpDefinition } from '../autograd.js';
import { tensor } from '../create.js';
import { ShapeError } from '../../gpu/errors.js';
import { dropoutCall } from './dropout.js';
import { emptyTensor } from '../tensor-fill.js';
import type { Tensor } from '../tensor.js';

export interface AttentionOptions {
  slots: number; // T
  batch: number; // B
  seq: number; // S
  heads: number;
  /**
   * The packed layout: (T, B, 2) i32, per sequence its first row within its slot and the rows it owns (its tokens;
   * the last sequence of a slot also owns the slot's tail), with `rowsPerSlot` rows a slot. Absent: padded, every
   * sequence S rows (T, B·S).
   */
  sequences?: Tensor;
  rowsPerSlot?: number;
  /** Multiplies q before q·kᵀ; default 1/√(head size). */
  scale?: number;
  /** Dropout of the attention probabilities (training); omit or null for none (evaluation). */
  dropout?: AttentionDropoutOptions | null;
  /** The kernels' variant (kernels/attention/attention.ts); default: the adapter's. */
  variant?: AttentionVariant;
}

export interface AttentionDropoutOptions {
  /** (T) i32: each slot's seed. */
  seeds: Tensor;
  /** (T) f32: each slot's drop probability of attention probabilities. */
  probabilities: Tensor;
  /** (T, 2) i32: per slot, the step's call base (as the dropout op's `callBase`); default 0. */
  callBase?: Tensor;
  /** The dropout site's number (ForwardContext.nextDropoutCall()), added to the base; < 2^32. */
  callIndex: number;
}

interface AttentionAttrs {
  dims: AttentionDims;
  scale: number;
  /** The site's number when dropout is on, else null. */
  callOffset: number | null;
  variant?: AttentionVariant;
}

type Buffers = { dropout: AttentionDropout | null };

function dropoutBuffers(inputs: readonly Tensor[], callOffset: number | null): Buffers {
  if (callOffset === null) return { dropout: null };
  const [seeds, probabilities, callBase] = inputs;
  return { dropout: { seeds: seeds.buffer, probabilities: probabilities.buffer, callBase: callBase.buffer, callOffset } };
}

export const attentionOp: OpDefinition<AttentionAttrs> = {
  name: 'attention',
  forward(inputs, { dims, scale, callOffset, variant }, save) {
    const [q, k, v, maskBias, sequences, ...rest] = inputs;
    const device = q.device;
    const { slots, batch, seq, heads } = dims;
    const context = emptyTensor(device, q.shape, 'f32', 'attention');
    const stats = emptyTensor(device, [slots, batch, heads, seq, 2], 'f32', 'attention stats');
    launchAttention(device, {
      dims, q: q.buffer, k: k.buffer, v: v.buffer, maskBias: maskBias.buffer, sequences: sequences.buffer, scale, variant,
      context: context.buffer, stats: stats.buffer, ...dropoutBuffers(rest, callOffset),
    });
    for (const t of [q, k, v, maskBias, sequences, context, stats, ...rest]) save(t);
    stats.release(); // The saved alias keeps it.
    return context;
  },
  backward({ saved: [q, k, v, maskBias, sequences, context, stats, ...rest], attrs: { dims, scale, callOffset, variant }, inputs }, g) {
    const device = q.device;
    const { slots, batch, seq, heads } = dims;
    const grads = ['dq', 'dk', 'dv'].map((what) => emptyTensor(device, q.shape, 'f32', `attention ${what}`));
    const delta = emptyTensor(device, [slots, batch, heads, seq], 'f32', 'attention delta');
    const keepBits = callOffset === null ? null : emptyTensor(device, [keepBitsWords(dims)], 'i32', 'attention keep bits');
    launchAttentionBackward(device, {
      dims, q: q.buffer, k: k.buffer, v: v.buffer, maskBias: maskBias.buffer, sequences: sequences.buffer, scale, variant,
      context: context.buffer, gradContext: g.buffer, stats: stats.buffer, delta: delta.buffer, keepBits: keepBits?.buffer ?? null,
      gradQuery: grads[0].buffer, gradKey: grads[1].buffer, gradValue: grads[2].buffer, ...dropoutBuffers(rest, callOffset),
    });
    delta.release();
    keepBits?.release();
    return [...grads, ...inputs.slice(3).map(() => null)]; // the mask, sequence table and dropout get none
  },
};

/**
 * attention(q, k, v (T, rows, hidden), maskBias (T, B, 1, 1, S) or (T, B, S)) → the merged context (T, rows,
 * hidden); rows = B·S (padded) unless `options.sequences` packs them. Throws a ShapeError for shapes the fused
 * kernels do not take (check `attentionUnsupported` first).
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, maskBias: Tensor, options: AttentionOptions): Tensor {
  const { slots, batch, seq, heads } = options;
  const hidden = q.shape[q.rank - 1];
  const headSize = hidden / heads;
  const describe = (t: Tensor) => `${t.dtype}[${t.shape.join(', ')}]`;
  if (!Number.isInteger(headSize)) throw new ShapeError(`attention: hidden ${hidden} does not split into ${heads} heads`);
  if ((options.sequences === undefined) !== (options.rowsPerSlot === undefined)) {
    throw new ShapeError('attention: sequences and rowsPerSlot come together (the packed layout) or not at all');
  }
  const rows = options.rowsPerSlot ?? batch * seq;
  for (const [what, t] of [['q', q], ['k', k], ['v', v]] as const) {
    if (t.dtype !== 'f32' || t.size !== slots * rows * hidden || t.shape[t.rank - 1] !== hidden) {
      throw new ShapeError(`attention: ${what} ${describe(t)} must be f32 (${slots}, ${rows}, ${hidden})`);
    }
  }
  if (maskBias.dtype !== 'f32' || maskBias.size !== slots * batch * seq) {
    throw new ShapeError(`attention: maskBias ${describe(maskBias)} must be f32 (${slots}, ${batch}, 1, 1, ${seq})`);
  }
  const sequences = options.sequences ?? tensor(q.device, paddedSequences(slots, batch, seq), [slots, batch, 2]);
  if (sequences.dtype !== 'i32' || sequences.size !== 2 * slots * batch) {
    throw new ShapeError(`attention: sequences ${describe(sequences)} must be i32 (${slots}, ${batch}, 2)`);
  }
  const dims: AttentionDims = { slots, batch, seq, heads, headSize, rowsPerSlot: rows };
  const context = attentionOf(q, k, v, maskBias, sequences, dims, options);
  if (!options.sequences) sequences.release(); // the op's saved alias keeps it for the backward
  return context;
}

function attentionOf(q: Tensor, k: Tensor, v: Tensor, maskBias: Tensor, sequences: Tensor, dims: AttentionDims, options: AttentionOptions): Tensor {
  const { slots, batch, seq, heads, headSize } = dims;
  const scale = Math.fround(options.scale ?? 1 / Math.sqrt(headSize));
  const d = options.dropout;
  const { variant } = options;
  if (!d) return apply(attentionOp, [q, k, v, maskBias, sequences], { dims, scale, callOffset: null, variant });
  // A site's number is a 32-bit offset to its step's base (ForwardContext); attention keeps to that.
  if (!Number.isInteger(d.callIndex) || d.callIndex < 0 || d.callIndex >= 2 ** 32) {
    throw new ShapeError(`attention: callIndex ${d.callIndex} must be an integer in [0, 2^32)`);
  }
  const probabilities = [slots, batch, heads, seq, seq];
  const { callBase, callOffset } = dropoutCall(
    'attention', q.device, `the probabilities [${probabilities.join(', ')}]`, probabilities.reduce((a, b) => a * b, 1), probabilities.slice(1), { ...d, slots },
  );
  return apply(attentionOp, [q, k, v, maskBias, sequences, d.seeds, d.probabilities, callBase], { dims, scale, callOffset, variant });
}
