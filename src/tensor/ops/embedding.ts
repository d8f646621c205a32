/**
 * Embedding lookup with autograd (kernels/embedding). table (T, vocab, hidden) with ids (T, ...) gathers each slot's
 * rows from that slot's table; a rank-2 table (vocab, hidden) is the T = 1 case with ids of any shape. Output:
 * ids.shape + [hidden]. Ids outside [0, vocab) give NaN rows and no gradient. The table's gradient is a
 * deterministic scatter-add (bit-identical across runs); ids get none.
 */
import {
  launchEmbeddingBackward,
  launchEmbeddingForward,
  type EmbeddingShape,
} from '../../../kernels/embedding/embedding.js';
import { apply, type OpDefinition } from '../autograd.js';
import { ShapeError } from '../../gpu/errors.js';
import { emptyTensor } from '../tensor-fill.js';
import type { Tensor } from '../tensor.js';

function shapeOf(table: Tensor, ids: Tensor): EmbeddingShape {
  const t = `table [${table.shape.join(', ')}]`;
  const i = `ids [${ids.shape.join(', ')}]`;
  if (table.dtype !== 'f32' || (table.rank !== 2 && table.rank !== 3)) {
    throw new ShapeError(`embedding: ${t} must be f32 (vocab, hidden) or (T, vocab, hidden)`);
  }
  if (ids.dtype !== 'i32') throw new ShapeError(`embedding: ${i} must be i32, is ${ids.dtype}`);
  const slots = table.rank === 3 ? table.shape[0] : 1;
  if (table.rank === 3 && (ids.rank < 1 || ids.shape[0] !== slots)) {
    throw new ShapeError(`embedding: ${i} must lead with the ${slots} slots of ${t}`);
  }
  const [vocab, hidden] = table.shape.slice(-2);
  if (vocab < 1 || hidden < 1) throw new ShapeError(`embedding: ${t} needs vocab and hidden ≥ 1`);
  return { slots, vocab, hidden, rowsPerSlot: ids.size / slots };
}

export const embeddingOp: OpDefinition<EmbeddingShape> = {
  name: 'embedding',
  forward([table, ids], shape, save) {
    save(ids);
    const out = emptyTensor(table.device, [...ids.shape, shape.hidden], 'f32', 'embedding');
    launchEmbeddingForward(table.device, table.buffer, ids.buffer, out.buffer, shape);
    return out;
  },
  backward({ inputs: [table], saved: [ids], attrs }, g) {
    const grad = emptyTensor(table.device, table.shape, 'f32', 'embedding grad');
    launchEmbeddingBackward(table.device, ids.buffer, g.buffer, grad.buffer, attrs);
    return [grad, null];
  },
};

export function embedding(table: Tensor, ids: Tensor): Tensor {
  return apply(embeddingOp, [table, ids], shapeOf(table, ids));
}
