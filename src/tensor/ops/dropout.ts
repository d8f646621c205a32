/**
 * Inverted dropout with autograd, per trial slot (Srivastava et al. 2014). The mask is a pure function of
 * (seed[slot], callIndex, the element's coordinates) through Philox (kernels/dropout), so the backward regenerates it
 * instead of storing it, a repeated run is bit-identical, and neither padding nor the slot changes a value's mask.
 * Identity when not training.
 */
import { launchDropout } from '../../../kernels/dropout/dropout.js';
import { apply, type OpDefinition } from '../autograd.js';
import { ShapeError } from '../errors.js';
import { emptyTensor } from '../tensor-fill.js';
import type { Tensor } from '../tensor.js';

export interface DropoutOptions {
  /** (T) i32: each slot's seed. */
  seeds: Tensor;
  /** (T) f32: each slot's drop probability (clamped to [0, 1] on the GPU). */
  probabilities: Tensor;
  /** Distinct per dropout site and step (an integer in [0, 2^53)); the same index replays the same masks. */
  callIndex: number;
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
  callIndex: number;
  slots: number;
  slotShape: readonly number[];
}

function run(x: Tensor, seeds: Tensor, probabilities: Tensor, { callIndex, slots, slotShape }: DropoutAttrs): Tensor {
  const out = emptyTensor(x.device, x.shape, 'f32', 'dropout');
  launchDropout(x.device, {
    input: x.buffer,
    output: out.buffer,
    seeds: seeds.buffer,
    probabilities: probabilities.buffer,
    slots,
    slotShape,
    callIndex,
  });
  return out;
}

export const dropoutOp: OpDefinition<DropoutAttrs> = {
  name: 'dropout',
  forward([x, seeds, probabilities], attrs, save) {
    save(seeds);
    save(probabilities);
    return run(x, seeds, probabilities, attrs);
  },
  // d/dx of mask * x / (1 − p) is the same mask and scale: the forward kernel applied to the gradient.
  backward({ saved: [seeds, probabilities], attrs }, g) {
    return [run(g, seeds, probabilities, attrs), null, null];
  },
};

export function dropout(x: Tensor, options: DropoutOptions): Tensor {
  if (!options.training) return x;
  const { seeds, probabilities, slots, callIndex } = options;
  const shape = `x [${x.shape.join(', ')}]`;
  if (x.dtype !== 'f32') throw new ShapeError(`dropout: ${shape} must be f32, is ${x.dtype}`);
  if (x.rank < 1 || x.shape[0] !== slots) throw new ShapeError(`dropout: ${shape} must lead with slots (${slots})`);
  if (seeds.size !== slots || seeds.dtype !== 'i32') {
    throw new ShapeError(`dropout: seeds ${seeds.dtype}[${seeds.shape.join(', ')}] must be i32 (${slots})`);
  }
  if (probabilities.size !== slots || probabilities.dtype !== 'f32') {
    throw new ShapeError(
      `dropout: probabilities ${probabilities.dtype}[${probabilities.shape.join(', ')}] must be f32 (${slots})`,
    );
  }
  if (!Number.isSafeInteger(callIndex) || callIndex < 0) {
    throw new ShapeError(`dropout: callIndex ${callIndex} must be an integer in [0, 2^53)`);
  }
  const slotShape = options.slotShape ?? x.shape.slice(1);
  if (slotShape.reduce((a, b) => a * b, 1) * slots !== x.size) {
    throw new ShapeError(`dropout: slotShape [${slotShape.join(', ')}] does not hold one slot of ${shape}`);
  }
  return apply(dropoutOp, [x, seeds, probabilities], { callIndex, slots, slotShape });
}
