/**
 * embeddingsLayerNorm = dropout(layerNorm(embedding(words, inputIds) + embedding(positions, positionIds))) with
 * autograd, as one op: BERT's embeddings block. The forward is one kernel (kernels/embeddings-layernorm) instead of
 * two gathers, add, layerNorm and dropout; the backward one row kernel (dropout's backward, LN's dx, and the rows
 * whose column sums autograd computes with other layers' as LN's weight and bias gradients: DeferredSum), the word
 * table's scatter, and for the position table either the scatter or, when the
 * caller states that positions repeat with a period S (positionIds[t, r] = r mod S, uploadBatch's layout), one
 * column-sum dispatch. The dropout masks are those `dropout` draws for the same seeds, rates, call index and slot
 * shape (src/tensor/ops/dropout.ts). On a device allowing fewer storage buffers per shader stage than the kernels
 * bind (up to 13; WebGPU guarantees 8) it composes the unfused ops instead: same values, more dispatches.
 */
import {
  embeddingsLayerNormFits,
  launchEmbeddingsLayerNorm,
  launchEmbeddingsLayerNormBackward,
  type EmbeddingsShape,
} from '../../../kernels/embeddings-layernorm/embeddings-layernorm.js';
import { apply, type OpDefinition } from '../autograd.js';
import { ShapeError } from '../../gpu/errors.js';
import { DeferredSum } from '../deferred-sum.js';
import { emptyTensor } from '../tensor-fill.js';
import type { Tensor } from '../tensor.js';
import { dropoutCall, dropout as dropoutOp, rowDropoutOf } from './dropout.js';
import { add } from './elementwise.js';
import { embedding } from './embedding.js';
import { layerNorm } from './layernorm.js';
import type { ResidualDropoutOptions } from './residual-layernorm.js';

export interface EmbeddingsLayerNormOptions {
  /** Added to the variance; BERT uses 1e-12. */
  eps?: number;
  /** Null or absent: no dropout (evaluation). The fields a training `dropout` call passes (Dropout.settings). */
  dropout?: ResidualDropoutOptions | null;
  /**
   * S when positionIds[t, r] = r mod S for every row r of each slot (uploadBatch's layout, S the sequence length):
   * the kernels then compute positions from the row and never read positionIds, and the position table's gradient
   * is one column sum. The caller vouches for the pattern. Absent: positionIds are read, any ids.
   */
  positionPeriod?: number;
  /**
   * (T, B, 2) i32 when positions count up from 0 along each of these sequences (first row within the slot, rows
   * owned: uploadBatch's packed layout, ModelInput.sequences), and any other row's gradient is 0 (a packed slot's
   * tail): the position table's gradient is then one dispatch instead of the scatter. Not with positionPeriod.
   */
  positionSequences?: Tensor;
}

interface EmbeddingsLayerNormAttrs {
  eps: number;
  shape: EmbeddingsShape;
  /** B of positionSequences, which is then the op's last input; 0 without. */
  sequencesPerSlot: number;
  /** Dropout's layout and call offset; its buffers are the op's inputs 6..8. */
  dropout: { slots: number; slotShape: readonly number[]; callOffset: number } | null;
}

function describe(t: Tensor): string {
  return `${t.dtype}[${t.shape.join(', ')}]`;
}

/** The kernels' shape after checking the inputs. */
function shapeOf(words: Tensor, positions: Tensor, inputIds: Tensor, positionIds: Tensor, weight: Tensor, bias: Tensor, period: number): EmbeddingsShape {
  const op = 'embeddingsLayerNorm';
  for (const [name, t] of [['words', words], ['positions', positions], ['weight', weight], ['bias', bias]] as const) {
    if (t.dtype !== 'f32') throw new ShapeError(`${op}: ${name} must be f32, got ${describe(t)}`);
  }
  for (const [name, t] of [['inputIds', inputIds], ['positionIds', positionIds]] as const) {
    if (t.dtype !== 'i32') throw new ShapeError(`${op}: ${name} must be i32, got ${describe(t)}`);
  }
  if (words.rank !== 3 || positions.rank !== 3) {
    throw new ShapeError(`${op}: words ${describe(words)} and positions ${describe(positions)} must be (slots, count, hidden)`);
  }
  const [slots, vocab, hidden] = words.shape;
  if (positions.shape[0] !== slots || positions.shape[2] !== hidden) {
    throw new ShapeError(`${op}: positions ${describe(positions)} must be (${slots}, count, ${hidden}) like words ${describe(words)}`);
  }
  if (inputIds.rank < 1 || inputIds.shape[0] !== slots) throw new ShapeError(`${op}: inputIds ${describe(inputIds)} must lead with the ${slots} slots`);
  if (positionIds.shape.join() !== inputIds.shape.join()) {
    throw new ShapeError(`${op}: positionIds ${describe(positionIds)} must match inputIds ${describe(inputIds)}`);
  }
  if (weight.size !== slots * hidden || weight.shape[weight.rank - 1] !== hidden || bias.shape.join() !== weight.shape.join()) {
    throw new ShapeError(`${op}: weight ${describe(weight)} and bias ${describe(bias)} must both be (${slots}, ${hidden})`);
  }
  if (!Number.isInteger(period) || period < 0 || period > positions.shape[1]) {
    throw new ShapeError(`${op}: positionPeriod ${period} must be a whole number in [0, ${positions.shape[1]}] (the position table's rows; 0: none)`);
  }
  return { slots, rowsPerSlot: inputIds.size / slots, hidden, vocab, positions: positions.shape[1], period };
}

/** B of a positionSequences table (T, B, 2) i32, after checking it. */
function sequencesOf(sequences: Tensor, slots: number, period: number): number {
  const op = 'embeddingsLayerNorm';
  if (period > 0) throw new ShapeError(`${op}: positionSequences and positionPeriod ${period} exclude each other`);
  if (sequences.dtype !== 'i32' || sequences.rank !== 3 || sequences.shape[0] !== slots || sequences.shape[2] !== 2 || sequences.shape[1] < 1) {
    throw new ShapeError(`${op}: positionSequences ${describe(sequences)} must be i32 (${slots}, batch ≥ 1, 2)`);
  }
  return sequences.shape[1];
}

export const embeddingsLayerNormOp: OpDefinition<EmbeddingsLayerNormAttrs> = {
  name: 'embeddings_layer_norm',
  forward([words, positions, inputIds, positionIds, weight, bias, ...rest], attrs, save) {
    const dropoutInputs = attrs.sequencesPerSlot > 0 ? rest.slice(1) : rest; // the sequence table serves the backward
    const { shape } = attrs;
    const device = words.device;
    const rows = shape.slots * shape.rowsPerSlot;
    const outShape = [...inputIds.shape, shape.hidden];
    const z = emptyTensor(device, outShape, 'f32', 'embeddings_layer_norm z');
    const y = emptyTensor(device, outShape, 'f32', 'embeddings_layer_norm');
    const mean = emptyTensor(device, [rows], 'f32', 'embeddings_layer_norm mean');
    const rstd = emptyTensor(device, [rows], 'f32', 'embeddings_layer_norm rstd');
    launchEmbeddingsLayerNorm(
      device, words.buffer, positions.buffer, inputIds.buffer, positionIds.buffer, weight.buffer, bias.buffer,
      z.buffer, y.buffer, mean.buffer, rstd.buffer, shape, attrs.eps, rowDropoutOf(dropoutInputs, attrs.dropout),
    );
    for (const t of [z, weight, mean, rstd, inputIds, positionIds, ...rest]) save(t);
    for (const t of [z, mean, rstd]) t.release(); // The saved aliases keep them (none when not recording).
    return y;
  },
  backward({ inputs: [words, positions], saved: [z, weight, mean, rstd, inputIds, positionIds, ...rest], attrs, needsGrad }, g) {
    const [sequences, dropoutInputs] = attrs.sequencesPerSlot > 0 ? [rest[0], rest.slice(1)] : [null, rest];
    const device = z.device;
    const gradWords = needsGrad[0] ? emptyTensor(device, words.shape, 'f32', 'embeddings_layer_norm words grad') : null;
    const gradPositions = needsGrad[1] ? emptyTensor(device, positions.shape, 'f32', 'embeddings_layer_norm positions grad') : null;
    // LayerNorm's weight and bias gradients: column sums of the rows dy·ẑ and of the (masked) dy, which the row
    // kernel writes and autograd computes with other layers' (DeferredSum).
    const params = needsGrad[4] || needsGrad[5];
    const dyxhat = params ? emptyTensor(device, z.shape, 'f32', 'embeddings_layer_norm dy·ẑ') : null;
    const maskedDy = params && attrs.dropout ? emptyTensor(device, z.shape, 'f32', 'embeddings_layer_norm masked dy') : null;
    launchEmbeddingsLayerNormBackward(
      device, inputIds.buffer, positionIds.buffer, z.buffer, weight.buffer, mean.buffer, rstd.buffer, g.buffer,
      gradWords?.buffer ?? null, gradPositions?.buffer ?? null, null, null, attrs.shape, rowDropoutOf(dropoutInputs, attrs.dropout),
      dyxhat ? { dyxhat: dyxhat.buffer, maskedDy: maskedDy?.buffer ?? null } : null,
      sequences && { sequences: sequences.buffer, batch: attrs.sequencesPerSlot },
    );
    const { slots, rowsPerSlot, hidden } = attrs.shape;
    const columns = (source: Tensor | null) => (source ? new DeferredSum(source, slots, rowsPerSlot, hidden) : null);
    return [gradWords, gradPositions, null, null, columns(needsGrad[4] ? dyxhat : null), columns(needsGrad[5] ? (maskedDy ?? g) : null), ...rest.map(() => null)];
  },
};

/**
 * dropout(layerNorm(words[inputIds] + positions[positionIds])): words (T, vocab, hidden), positions
 * (T, maxPositions, hidden), inputIds and positionIds (T, ...) i32, weight and bias (T, hidden) → inputIds.shape +
 * [hidden]. The same values and masks as the composition, in one forward dispatch.
 */
export function embeddingsLayerNorm(
  words: Tensor,
  positions: Tensor,
  inputIds: Tensor,
  positionIds: Tensor,
  weight: Tensor,
  bias: Tensor,
  { eps = 1e-12, dropout = null, positionPeriod = 0, positionSequences }: EmbeddingsLayerNormOptions = {},
): Tensor {
  const shape = shapeOf(words, positions, inputIds, positionIds, weight, bias, positionPeriod);
  const sequencesPerSlot = positionSequences ? sequencesOf(positionSequences, shape.slots, positionPeriod) : 0;
  if (!embeddingsLayerNormFits(words.device, dropout !== null, positionPeriod > 0)) {
    const normed = layerNorm(add(embedding(words, inputIds), embedding(positions, positionIds)), weight, bias, { eps });
    return dropout ? dropoutOp(normed, { ...dropout, training: true }) : normed;
  }
  const inputs = [words, positions, inputIds, positionIds, weight, bias, ...(positionSequences ? [positionSequences] : [])];
  if (!dropout) return apply(embeddingsLayerNormOp, inputs, { eps, shape, sequencesPerSlot, dropout: null });
  const outShape = [...inputIds.shape, shape.hidden];
  const what = `the output [${outShape.join(', ')}]`;
  if (!Number.isInteger(dropout.slots) || dropout.slots < 1 || outShape[0] !== dropout.slots) {
    throw new ShapeError(`embeddingsLayerNorm: ${what} must lead with the dropout's slots (${dropout.slots})`);
  }
  const size = outShape.reduce((a, b) => a * b, 1);
  const { callBase, callOffset, slotShape } = dropoutCall('embeddingsLayerNorm', words.device, what, size, outShape.slice(1), dropout);
  if (slotShape[slotShape.length - 1] !== shape.hidden) {
    throw new ShapeError(`embeddingsLayerNorm: slotShape [${slotShape.join(', ')}] must end in hidden (${shape.hidden})`);
  }
  return apply(embeddingsLayerNormOp, [...inputs, dropout.seeds, dropout.probabilities, callBase], {
    eps,
    shape,
    sequencesPerSlot,
    dropout: { slots: dropout.slots, slotShape, callOffset },
  });
}
