/**
 * Inverted dropout with autograd, per trial slot (Srivastava et al. 2014). The mask is a pure function of
 * (seed[slot], callIndex, the element's coordinates) through Philox (kernels/dropout), so the backward regenerates it
 * instead of storing it, a repeated run is bit-identical, and neither padding nor the slot changes a value's mask.
 * Identity when not training.
 */
import { launchDropout, type RowDropout } from '../../../kernels/dropout/dropout.js';
import type { DropoutActivation } from '../../../kernels/dropout/dropout.wgsl.js';
import { tanh } from './elementwise.js';
import { apply, type OpDefinition } from '../autograd.js';
import type { Device } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import { tensor } from '../create.js';
import { emptyTensor } from '../tensor-fill.js';
import type { Tensor } from '../tensor.js';

export interface DropoutOptions {
  /** (T) i32: each slot's seed. */
  seeds: Tensor;
  /** (T) f32: each slot's drop probability (clamped to [0, 1] on the GPU). */
  probabilities: Tensor;
  /**
   * Distinct per dropout site and step (an integer in [0, 2^53)); the same index replays the same masks. With
   * `callBase`, the index is that base plus this.
   */
  callIndex: number;
  /**
   * (T, 2) i32: per slot, the low and high 32-bit words of a base added to `callIndex` on the GPU. A training step
   * writes each slot's base once and each site passes its own number, so a site records the same dispatch every step.
   */
  callBase?: Tensor;
  /** T: x is (T, ...). */
  slots: number;
  /** False: identity (x itself is returned). */
  training: boolean;
  /**
   * One slot's logical shape when x's is merged, e.g. [B, S, H] for x (T, B·S, H): the mask follows coordinates
   * along the last two axes (kernels/dropout), so S must be its own axis for padding not to move it. Default: x's.
   */
  slotShape?: readonly number[];
}

interface DropoutAttrs {
  callOffset: number;
  slots: number;
  slotShape: readonly number[];
}

function run(
  x: Tensor,
  seeds: Tensor,
  probabilities: Tensor,
  callBase: Tensor,
  attrs: DropoutAttrs,
  activation: DropoutActivation = 'none',
  pre?: Tensor,
): Tensor {
  const out = emptyTensor(x.device, x.shape, 'f32', 'dropout');
  launchDropout(x.device, {
    input: x.buffer,
    output: out.buffer,
    seeds: seeds.buffer,
    probabilities: probabilities.buffer,
    callBase: callBase.buffer,
    activation,
    pre: pre?.buffer,
    ...attrs,
  });
  return out;
}

export const dropoutOp: OpDefinition<DropoutAttrs> = {
  name: 'dropout',
  forward([x, seeds, probabilities, callBase], attrs, save) {
    save(seeds);
    save(probabilities);
    save(callBase);
    return run(x, seeds, probabilities, callBase, attrs);
  },
  // d/dx of mask * x / (1 − p) is the same mask and scale: the forward kernel applied to the gradient.
  backward({ saved: [seeds, probabilities, callBase], attrs }, g) {
    return [run(g, seeds, probabilities, callBase, attrs), null, null, null];
  },
};

/** dropout(tanh(x)) in one dispatch, and its gradient in one: the pooler's activation and dropout. */
export const tanhDropoutOp: OpDefinition<DropoutAttrs> = {
  name: 'tanhDropout',
  forward([x, seeds, probabilities, callBase], attrs, save) {
    save(x);
    save(seeds);
    save(probabilities);
    save(callBase);
    return run(x, seeds, probabilities, callBase, attrs, 'tanh');
  },
  backward({ saved: [x, seeds, probabilities, callBase], attrs }, g) {
    return [run(g, seeds, probabilities, callBase, attrs, 'tanh_grad', x), null, null, null];
  },
};

/**
 * Checks a dropout's options against the tensor it drops (`what`, e.g. `x [2, 6, 8]`, of `size` values, leading
 * with the slots: that check is the caller's), as every op with a dropout does; returns the (T, 2) call base (a
 * tensor of its own, the whole index in it, when the options have none), the offset the GPU adds to it, and one
 * slot's shape (`defaultSlotShape` when the options give none).
 */
export function dropoutCall(
  op: string,
  device: Device,
  what: string,
  size: number,
  defaultSlotShape: readonly number[],
  options: Omit<DropoutOptions, 'training'>,
): { callBase: Tensor; callOffset: number; slotShape: readonly number[] } {
  const { seeds, probabilities, slots, callIndex } = options;
  const describe = (t: Tensor) => `${t.dtype}[${t.shape.join(', ')}]`;
  if (seeds.size !== slots || seeds.dtype !== 'i32') throw new ShapeError(`${op}: seeds ${describe(seeds)} must be i32 (${slots})`);
  if (probabilities.size !== slots || probabilities.dtype !== 'f32') {
    throw new ShapeError(`${op}: probabilities ${describe(probabilities)} must be f32 (${slots})`);
  }
  if (!Number.isSafeInteger(callIndex) || callIndex < 0) throw new ShapeError(`${op}: callIndex ${callIndex} must be an integer in [0, 2^53)`);
  const slotShape = options.slotShape ?? defaultSlotShape;
  if (slotShape.reduce((a, b) => a * b, 1) * slots !== size) {
    throw new ShapeError(`${op}: slotShape [${slotShape.join(', ')}] does not hold one slot of ${what}`);
  }
  if (options.callBase) {
    if (options.callBase.size !== 2 * slots || options.callBase.dtype !== 'i32') {
      throw new ShapeError(`${op}: callBase ${describe(options.callBase)} must be i32 (${slots}, 2)`);
    }
    if (callIndex >= 2 ** 32) throw new ShapeError(`${op}: callIndex ${callIndex} must be < 2^32 with a callBase`);
    return { callBase: options.callBase, callOffset: callIndex, slotShape };
  }
  // Without a base, the whole index goes in a (T, 2) tensor of its own (the same for every slot) and the offset is 0.
  const words = [callIndex % 2 ** 32, Math.floor(callIndex / 2 ** 32)];
  return { callBase: tensor(device, Int32Array.from({ length: 2 * slots }, (_, i) => words[i % 2]), [slots, 2]), callOffset: 0, slotShape };
}

/**
 * The row dropout a fused op's kernel launches with (kernels/dropout's RowDropout), from the op's dropout inputs
 * (seeds, probabilities, call base, in that order: what dropoutCall gave it) and its saved layout; null without.
 */
export function rowDropoutOf(
  inputs: readonly Tensor[],
  dropout: { slots: number; slotShape: readonly number[]; callOffset: number } | null,
): RowDropout | null {
  if (!dropout) return null;
  const [seeds, probabilities, callBase] = inputs;
  return { seeds: seeds.buffer, probabilities: probabilities.buffer, callBase: callBase.buffer, ...dropout };
}

export function dropout(x: Tensor, options: DropoutOptions): Tensor {
  if (!options.training) return x;
  return apply(dropoutOp, ...dropoutInputs('dropout', x, options));
}

/**
 * dropout(tanh(x), options) as one op: the same values, masks and gradients as the two ops, bit for bit
 * (kernels/dropout), in one dispatch forward and one backward. Not training: tanh(x).
 */
export function tanhDropout(x: Tensor, options: DropoutOptions): Tensor {
  if (!options.training) return tanh(x);
  return apply(tanhDropoutOp, ...dropoutInputs('tanhDropout', x, options));
}

function dropoutInputs(op: string, x: Tensor, options: DropoutOptions): [Tensor[], DropoutAttrs] {
  const { seeds, probabilities, slots } = options;
  const shape = `x [${x.shape.join(', ')}]`;
  if (x.dtype !== 'f32') throw new ShapeError(`${op}: ${shape} must be f32, is ${x.dtype}`);
  if (x.rank < 1 || x.shape[0] !== slots) throw new ShapeError(`${op}: ${shape} must lead with slots (${slots})`);
  const { callBase, callOffset, slotShape } = dropoutCall(op, x.device, shape, x.size, x.shape.slice(1), options);
  return [[x, seeds, probabilities, callBase], { callOffset, slots, slotShape }];
}
