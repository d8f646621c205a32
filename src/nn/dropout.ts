/**
 * Inverted dropout (Srivastava et al. 2014) with per-slot rates: which rate ('hidden' or 'attention') comes from
 * the forward context, since fused trials each have their own. Identity in evaluation.
 */
import { dropout } from '../tensor/ops/dropout.js';
import type { ResidualDropoutOptions } from '../tensor/ops/residual-layernorm.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ForwardContext } from './forward-context.js';
import { Module } from './module.js';

export class Dropout extends Module {
  constructor(readonly kind: 'hidden' | 'attention') {
    super();
  }

  /** `slotShape`: one slot's logical shape when x's axes are merged ([B, S, H] for x (T, B·S, H)): see the op. */
  forward(x: Tensor, context: ForwardContext, slotShape?: readonly number[]): Tensor {
    const settings = this.settings(context, slotShape);
    return settings ? dropout(x, { ...settings, training: true }) : x;
  }

  /**
   * What `forward` would apply at this point of the step, for an op that fuses this dropout into its own kernel
   * (residualLayerNorm): null where `forward` is the identity. Like `forward`, it takes this site's call number.
   */
  settings(context: ForwardContext, slotShape?: readonly number[]): ResidualDropoutOptions | null {
    if (!this.training || !context.training || !context.dropout) return null;
    return {
      seeds: context.dropout.seeds,
      probabilities: context.dropout[this.kind],
      callBase: context.dropout.callBase,
      callIndex: context.nextDropoutCall(),
      slots: context.slots,
      slotShape,
    };
  }
}
