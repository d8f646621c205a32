/** A lookup table per slot: table (T, vocab, hidden); ids (T, rows) i32 → (T, rows, hidden). */
import { launchEmbeddingForward } from '../../kernels/embedding/embedding.js';
import { tensor } from '../tensor/create.js';
import { embedding } from '../tensor/ops/embedding.js';
import { keep } from '../tensor/scope.js';
import { emptyTensor } from '../tensor/tensor-fill.js';
import type { Tensor } from '../tensor/tensor.js';
import { bertNormal, type SlotRandom } from './init.js';
import { Module, type BuildContext } from './module.js';

/** Throws unless `kept` ascends without repeats within [0, vocab) and is not empty. */
function checkKeptRows(kept: Int32Array, vocab: number): void {
  if (kept.length === 0) throw new RangeError('Embedding: no row to keep');
  kept.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new RangeError(`Embedding: row ${id} to keep is outside the table's ${vocab} rows`);
    if (i > 0 && id <= kept[i - 1]) throw new RangeError(`Embedding: rows to keep must ascend without repeats, got ${kept[i - 1]} then ${id}`);
  });
}

/**
 * One slot's kept rows of a (vocab, hidden) table drawn from `random`: the values the whole table would hold there,
 * the rows in between skipped in the stream without being computed.
 */
function drawKeptRows(random: SlotRandom, values: Float32Array, kept: Int32Array, vocab: number, hidden: number): void {
  const std = bertNormal.std;
  let next = 0; // the first row not yet drawn or skipped
  kept.forEach((id, i) => {
    random.skipNormals((id - next) * hidden);
    random.fillNormal(values.subarray(i * hidden, (i + 1) * hidden), std);
    next = id + 1;
  });
  random.skipNormals((vocab - next) * hidden);
}

export class Embedding extends Module {
  private weight: Tensor; // (T, count, hidden)
  private rows: number;

  /**
   * A table of `vocab` rows, or, with `kept` (ascending ids), of only those rows: id kept[i] is row i, drawn with
   * the values the whole table would give it (the same random stream).
   */
  constructor(context: BuildContext, vocab: number, readonly hiddenSize: number, kept?: Int32Array) {
    super();
    if (kept) checkKeptRows(kept, vocab);
    this.rows = kept?.length ?? vocab;
    const draw = kept ? (random: SlotRandom, values: Float32Array) => drawKeptRows(random, values, kept, vocab, hiddenSize) : undefined;
    this.weight = this.parameter(context, 'weight', [this.rows, hiddenSize], bertNormal, draw);
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
    checkKeptRows(kept, vocab);
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
