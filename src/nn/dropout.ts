/**
 * Inverted dropout (Srivastava et al. 2014) with per-slot rates: which rate ('hidden' or 'attention') comes from
 * the forward context, since fused trials each have their own. Identity in evaluation.
 */
import { dropout } from '../tensor/ops/dropout.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ForwardContext } from './forward-context.js';
import { Module } from './module.js';

export class Dropout extends Module {
  constructor(readonly kind: 'hidden' | 'attention') {
    super();
  }

  /** `slotShape`: one slot's logical shape when x's axes are merged ([B, S, H] for x (T, B·S, H)): see the op. */
  forward(x: Tensor, context: ForwardContext, slotShape?: readonly number[]): Tensor {
    if (!this.training || !context.training || !context.dropout) return x;
    return dropout(x, {
      seeds: context.dropout.seeds,
      probabilities: context.dropout[this.kind],
      callBase: context.dropout.callBase,
      callIndex: context.nextDropoutCall(),
      slots: context.slots,
      training: true,
      slotShape,
    });
  }
}
