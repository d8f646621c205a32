/**
 * Per-step, per-slot state a forward pass needs besides its input: training or evaluation, and for dropout the
 * slots' seeds and rates (small (T) GPU buffers, since fused trials each have their own) and a counter that gives
 * each dropout call of each step its own random stream.
 */
import type { Device } from '../gpu/device.js';
import { tensor, zeros } from '../tensor/create.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

export interface SlotDropout {
  /** (T) i32: each slot's seed. */
  seeds: Tensor;
  /** (T) f32: hidden-layer dropout probability per slot. */
  hidden: Tensor;
  /** (T) f32: attention-probability dropout per slot. */
  attention: Tensor;
  /**
   * (T, 2) i32: per slot, the low and high words of this step's first dropout call index (the slot's own step ·
   * 4096), written once per step (`writeDropoutCallBase`). Each site adds its own number on the GPU, so its dispatch
   * is the same every step.
   */
  callBase: Tensor;
}

/** A group's dropout buffers, kept (release each tensor when the group ends): per-slot seeds and rates, call base 0. */
export function createSlotDropout(device: Device, seeds: readonly number[], hidden: readonly number[], attention: readonly number[]): SlotDropout {
  const slots = seeds.length;
  return {
    seeds: keep(tensor(device, Int32Array.from(seeds), [slots])),
    hidden: keep(tensor(device, Float32Array.from(hidden), [slots])),
    attention: keep(tensor(device, Float32Array.from(attention), [slots])),
    callBase: keep(zeros(device, [slots, 2], { dtype: 'i32' })),
  };
}

/**
 * Writes each slot's call-index base into `dropout.callBase`: the masks of a slot at its step s are those of calls
 * s · 4096 + site, whatever step the other slots are at (a refilled slot starts again from 0).
 */
export function writeDropoutCallBase(dropout: SlotDropout, steps: readonly number[]): void {
  const words = new Int32Array(2 * steps.length);
  steps.forEach((step, slot) => {
    const base = step * DROPOUT_CALLS_PER_STEP;
    words[2 * slot] = base % 2 ** 32;
    words[2 * slot + 1] = Math.floor(base / 2 ** 32);
  });
  dropout.callBase.device.write(dropout.callBase.buffer, words);
}

/** Dropout sites per forward pass that get distinct streams: a step's call indices are step · this + site. */
export const DROPOUT_CALLS_PER_STEP = 4096;

export class ForwardContext {
  private calls = 0;

  constructor(
    readonly slots: number,
    readonly training: boolean,
    /** For training: whose `callBase` holds this step's base (writeDropoutCallBase). */
    readonly dropout: SlotDropout | null,
  ) {}

  /** This dropout site's number in the step (sites are numbered in forward order), added to the step's base. */
  nextDropoutCall(): number {
    if (this.calls >= DROPOUT_CALLS_PER_STEP) throw new Error(`ForwardContext: more than ${DROPOUT_CALLS_PER_STEP} dropout calls in one step`);
    return this.calls++;
  }
}
