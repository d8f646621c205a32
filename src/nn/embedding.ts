/** A lookup table per slot: table (T, vocab, hidden); ids (T, rows) i32 → (T, rows, hidden). */
import { launchEmbeddingForward } from '../../kernels/embedding/embedding.js';
import { tensor } from '../tensor/create.js';
import { embedding } from '../tensor/ops/embedding.js';
import { keep } from '../tensor/scope.js';
import { emptyTensor } from '../tensor/tensor-fill.js';
import type { Tensor } from '../tensor/tensor.js';
import { bertNormal } from './init.js';
import { Module, type BuildContext } from './module.js';

export class Embedding extends Module {
  private weight: Tensor; // (T, count, hidden)

  constructor(context: BuildContext, private rows: number, readonly hiddenSize: number) {
    super();
    this.weight = this.parameter(context, 'weight', [rows, hiddenSize], bertNormal);
  }

  get table(): Tensor {
    return this.weight;
  }

  /** Rows of the table (ids it takes are 0 … count − 1). */
  get count(): number {
    return this.rows;
  }

  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids);
  }

  /**
   * Keeps only the table rows `kept` (ascending ids), in that order: id kept[i] becomes row i, in every slot. One
   * gather on the GPU; the full table is released. Made for a run whose data reaches few rows of a large vocabulary.
   */
  keepRows(kept: Int32Array): void {
    const [slots, vocab, hidden] = this.weight.shape;
    kept.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new RangeError(`Embedding.keepRows: row ${id} is outside the table's ${vocab} rows`);
      if (i > 0 && id <= kept[i - 1]) throw new RangeError(`Embedding.keepRows: rows must ascend without repeats, got ${kept[i - 1]} then ${id}`);
    });
    if (kept.length === 0) throw new RangeError('Embedding.keepRows: no row to keep');
    const ids = tensor(this.weight.device, Int32Array.from({ length: slots * kept.length }, (_, i) => kept[i % kept.length]), [slots, kept.length], { dtype: 'i32' });
    const smaller = keep(emptyTensor(this.weight.device, [slots, kept.length, hidden], 'f32', 'embedding rows kept'));
    smaller.requiresGrad = true;
    launchEmbeddingForward(this.weight.device, this.weight.buffer, ids.buffer, smaller.buffer, { slots, vocab, hidden, rowsPerSlot: kept.length });
    ids.release();
    this.replaceParameter('weight', smaller);
    this.weight = smaller;
    this.rows = kept.length;
  }
}
