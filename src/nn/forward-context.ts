/**
 * Per-step, per-slot state a forward pass needs besides its input: training or evaluation, and for dropout the
 * slots' seeds and rates (small (T) GPU buffers, since fused trials each have their own) and a counter that gives
 * each dropout call of each step its own random stream.
 */
import type { Tensor } from '../tensor/tensor.js';

export interface SlotDropout {
  /** (T) i32: each slot's seed. */
  seeds: Tensor;
  /** (T) f32: hidden-layer dropout probability per slot. */
  hidden: Tensor;
  /** (T) f32: attention-probability dropout per slot. */
  attention: Tensor;
}

export class ForwardContext {
  private calls = 0;

  constructor(
    readonly slots: number,
    readonly training: boolean,
    readonly dropout: SlotDropout | null,
    /** Distinct per step, so each step draws new masks; the same step replays the same masks. */
    readonly step: number,
  ) {}

  /** A call index unique to this dropout site in this step (sites are numbered in forward order). */
  nextDropoutCall(): number {
    return this.step * 4096 + this.calls++;
  }
}
