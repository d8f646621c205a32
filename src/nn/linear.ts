/** A dense layer y = x W + b (optionally GELU), per slot: W (T, in, out), b (T, out); x (T, rows, in). */
import { linear } from '../tensor/ops/matmul.js';
import type { Tensor } from '../tensor/tensor.js';
import { bertNormal, zerosInit } from './init.js';
import { Module, type BuildContext } from './module.js';

export class Linear extends Module {
  readonly weight: Tensor; // (T, in, out)
  readonly bias: Tensor; // (T, out)

  constructor(
    context: BuildContext,
    readonly inFeatures: number,
    readonly outFeatures: number,
    readonly activation: 'gelu' | null = null,
  ) {
    super();
    this.weight = this.parameter(context, 'weight', [inFeatures, outFeatures], bertNormal);
    this.bias = this.parameter(context, 'bias', [outFeatures], zerosInit);
  }

  /** x (T, rows, in) → (T, rows, out). */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias, { activation: this.activation ?? undefined });
  }
}
