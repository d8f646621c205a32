/**
 * residualLayerNorm(x, branch, weight, bias) = layerNorm(x + dropout(branch)) with autograd, as one op: BERT's
 * post-LN sublayer ending. The forward is one kernel (kernels/residual-layernorm) instead of dropout, add and
 * layerNorm; the backward one row kernel writing dx, the masked dbranch and the rows dy·ẑ, whose column sums (and
 * dy's) autograd computes with other layers' as the weight and bias gradients (DeferredSum), instead of
 * layerNorm's dx, its parameter sums and dropout's backward. The dropout masks are those
 * `dropout` draws for the same seeds, rates, call index and slot shape (src/tensor/ops/dropout.ts).
 * On a device allowing fewer storage buffers per shader stage than the kernels bind (11 with dropout; WebGPU
 * guarantees 8) it composes layerNorm(add(x, dropout(branch))) instead: same values, more dispatches.
 */
import { launchResidualLayerNorm, launchResidualLayerNormBackward, residualLayerNormFits } from '../../../kernels/residual-layernorm/residual-layernorm.js';
import { apply, type OpDefinition } from '../autograd.js';
import { ShapeError } from '../../gpu/errors.js';
import { DeferredSum } from '../deferred-sum.js';
import { emptyTensor } from '../tensor-fill.js';
import type { Tensor } from '../tensor.js';
import { dropoutCall, dropout as dropoutOp, rowDropoutOf, type DropoutOptions } from './dropout.js';
import { add } from './elementwise.js';
import { layerNorm } from './layernorm.js';

/** The branch's dropout: the fields of `dropout`'s options (src/tensor/ops/dropout.ts) that a training call passes. */
export type ResidualDropoutOptions = Omit<DropoutOptions, 'training'>;

export interface ResidualLayerNormOptions {
  /** Added to the variance; BERT uses 1e-12. */
  eps?: number;
  /** Null or absent: no dropout (evaluation), y = layerNorm(x + branch). */
  dropout?: ResidualDropoutOptions | null;
}

interface ResidualLayerNormAttrs {
  eps: number;
  /** Dropout's layout and call offset; its buffers are the op's inputs 4..6. */
  dropout: { slots: number; slotShape: readonly number[]; callOffset: number } | null;
}

function describe(t: Tensor): string {
  return `${t.dtype}[${t.shape.join(', ')}]`;
}

/** [rows, hidden, slots of the weight] after checking the shapes. */
function layout(x: Tensor, branch: Tensor, weight: Tensor, bias: Tensor): [number, number, number] {
  for (const [name, t] of [['x', x], ['branch', branch], ['weight', weight], ['bias', bias]] as const) {
    if (t.dtype !== 'f32') throw new ShapeError(`residualLayerNorm: ${name} must be f32, got ${describe(t)}`);
  }
  if (x.rank < 1 || x.shape[x.rank - 1] < 1) throw new ShapeError(`residualLayerNorm: x ${describe(x)} needs a last axis of at least 1`);
  if (branch.shape.join() !== x.shape.join()) throw new ShapeError(`residualLayerNorm: branch ${describe(branch)} must match x ${describe(x)}`);
  const hidden = x.shape[x.rank - 1];
  if ((weight.rank !== 1 && weight.rank !== 2) || weight.shape[weight.rank - 1] !== hidden) {
    throw new ShapeError(`residualLayerNorm: weight ${describe(weight)} must be (${hidden}) or (slots, ${hidden}) for x ${describe(x)}`);
  }
  if (bias.shape.join() !== weight.shape.join()) throw new ShapeError(`residualLayerNorm: bias ${describe(bias)} must match weight ${describe(weight)}`);
  const rows = x.size / hidden;
  const slots = weight.rank === 2 ? weight.shape[0] : 1;
  if (rows % slots !== 0) {
    throw new ShapeError(`residualLayerNorm: x ${describe(x)} has ${rows} rows, which do not split into weight ${describe(weight)}'s ${slots} slots`);
  }
  return [rows, hidden, slots];
}

export const residualLayerNormOp: OpDefinition<ResidualLayerNormAttrs> = {
  name: 'residual_layer_norm',
  forward([x, branch, weight, bias, ...dropoutInputs], attrs, save) {
    const [rows, hidden, slots] = layout(x, branch, weight, bias);
    const device = x.device;
    const z = emptyTensor(device, x.shape, 'f32', 'residual_layer_norm z');
    const y = emptyTensor(device, x.shape, 'f32', 'residual_layer_norm');
    const mean = emptyTensor(device, [rows], 'f32', 'residual_layer_norm mean');
    const rstd = emptyTensor(device, [rows], 'f32', 'residual_layer_norm rstd');
    launchResidualLayerNorm(
      device, x.buffer, branch.buffer, weight.buffer, bias.buffer, z.buffer, y.buffer, mean.buffer, rstd.buffer,
      rows, hidden, slots, attrs.eps, rowDropoutOf(dropoutInputs, attrs.dropout),
    );
    for (const t of [z, weight, mean, rstd, ...dropoutInputs]) save(t);
    for (const t of [z, mean, rstd]) t.release(); // The saved aliases keep them (none when not recording).
    return y;
  },
  backward({ saved: [z, weight, mean, rstd, ...dropoutInputs], attrs, needsGrad }, g) {
    const hidden = z.shape[z.rank - 1];
    const rows = z.size / hidden;
    const slots = weight.rank === 2 ? weight.shape[0] : 1;
    const device = z.device;
    const rowGrads = needsGrad[0] || needsGrad[1];
    const dx = rowGrads ? emptyTensor(device, z.shape, 'f32', 'residual_layer_norm dx') : null;
    const dbranch = rowGrads ? emptyTensor(device, z.shape, 'f32', 'residual_layer_norm dbranch') : null;
    const params = needsGrad[2] || needsGrad[3];
    // With the rows' gradients: the row kernel writes dy·ẑ, and weight and bias are column sums autograd computes
    // with other layers' (DeferredSum). Else kernels/layernorm's parameter pass.
    const dyxhat = params && rowGrads ? emptyTensor(device, z.shape, 'f32', 'residual_layer_norm dy·ẑ') : null;
    const dweight = params && !dyxhat ? emptyTensor(device, weight.shape, 'f32', 'residual_layer_norm dweight') : null;
    const dbias = params && !dyxhat ? emptyTensor(device, weight.shape, 'f32', 'residual_layer_norm dbias') : null;
    launchResidualLayerNormBackward(
      device, z.buffer, weight.buffer, mean.buffer, rstd.buffer, g.buffer, dx?.buffer ?? null, dbranch?.buffer ?? null,
      dweight?.buffer ?? null, dbias?.buffer ?? null, rows, hidden, slots, rowDropoutOf(dropoutInputs, attrs.dropout), dyxhat?.buffer ?? null,
    );
    if (!dyxhat) return [dx, dbranch, dweight, dbias, ...dropoutInputs.map(() => null)];
    const columns = (source: Tensor) => new DeferredSum(source, slots, rows / slots, hidden);
    return [dx, dbranch, needsGrad[2] ? columns(dyxhat) : null, needsGrad[3] ? columns(g) : null, ...dropoutInputs.map(() => null)];
  },
};

/**
 * layerNorm(x + dropout(branch)) over the last axis: x and branch (T, ..., hidden), weight and bias (hidden) or
 * (T, hidden) → x's shape. The same values and masks as the composition, in one forward dispatch.
 */
export function residualLayerNorm(
  x: Tensor,
  branch: Tensor,
  weight: Tensor,
  bias: Tensor,
  { eps = 1e-12, dropout = null }: ResidualLayerNormOptions = {},
): Tensor {
  if (!residualLayerNormFits(x.device, dropout !== null)) {
    const dropped = dropout ? dropoutOp(branch, { ...dropout, training: true }) : branch;
    return layerNorm(add(x, dropped), weight, bias, { eps });
  }
  if (!dropout) return apply(residualLayerNormOp, [x, branch, weight, bias], { eps, dropout: null });
  const what = `x [${x.shape.join(', ')}]`;
  if (!Number.isInteger(dropout.slots) || dropout.slots < 1 || x.rank < 1 || x.shape[0] !== dropout.slots) {
    throw new ShapeError(`residualLayerNorm: ${what} must lead with the dropout's slots (${dropout.slots})`);
  }
  const { callBase, callOffset, slotShape } = dropoutCall('residualLayerNorm', x.device, what, x.size, x.shape.slice(1), dropout);
  const hidden = x.shape[x.rank - 1];
  if (slotShape[slotShape.length - 1] !== hidden) {
    throw new ShapeError(`residualLayerNorm: slotShape [${slotShape.join(', ')}] must end in x's last axis (${hidden})`);
  }
  return apply(residualLayerNormOp, [x, branch, weight, bias, dropout.seeds, dropout.probabilities, callBase], {
    eps,
    dropout: { slots: dropout.slots, slotShape, callOffset },
  });
}
