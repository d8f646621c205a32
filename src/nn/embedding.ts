/** A lookup table per slot: table (T, vocab, hidden); ids (T, rows) i32 → (T, rows, hidden). */
import { embedding } from '../tensor/ops/embedding.js';
import type { Tensor } from '../tensor/tensor.js';
import { bertNormal } from './init.js';
import { Module, type BuildContext } from './module.js';

export class Embedding extends Module {
  readonly table: Tensor; // (T, vocab, hidden)

  constructor(context: BuildContext, readonly count: number, readonly hiddenSize: number) {
    super();
    this.table = this.parameter(context, 'weight', [count, hiddenSize], bertNormal);
  }

  forward(ids: Tensor): Tensor {
    return embedding(this.table, ids);
  }
}
