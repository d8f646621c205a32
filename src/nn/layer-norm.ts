/** Layer normalisation over the last axis (Ba, Kiros & Hinton 2016), per slot gamma/beta (T, hidden). */
import { layerNorm } from '../tensor/ops/layernorm.js';
import type { Tensor } from '../tensor/tensor.js';
import { onesInit, zerosInit } from './init.js';
import { Module, type BuildContext } from './module.js';

export class LayerNorm extends Module {
  readonly weight: Tensor; // (T, hidden)
  readonly bias: Tensor; // (T, hidden)

  constructor(context: BuildContext, readonly hiddenSize: number, readonly eps = 1e-12) {
    super();
    this.weight = this.parameter(context, 'weight', [hiddenSize], onesInit);
    this.bias = this.parameter(context, 'bias', [hiddenSize], zerosInit);
  }

  /** x (T, rows, hidden) → same shape. */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, { eps: this.eps });
  }
}
