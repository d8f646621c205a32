/**
 * Layer normalisation over the last axis with autograd: x (..., hidden) with weight and bias either shared
 * (hidden) or per trial slot (T, hidden), where x's rows split into T equal slot-major groups (x (T, rows, hidden)).
 * The forward saves mean and rstd per row for the backward. Kernel: kernels/layernorm.
 */
import { launchLayerNorm, launchLayerNormBackward } from '../../../kernels/layernorm/layernorm.js';
import { apply, type OpDefinition } from '../autograd.js';
import { ShapeError } from '../../gpu/errors.js';
import { emptyTensor } from '../tensor-fill.js';
import type { Tensor } from '../tensor.js';

export interface LayerNormOptions {
  /** Added to the variance; BERT uses 1e-12. */
  eps?: number;
}

interface LayerNormAttrs {
  eps: number;
}

/** [rows, hidden, slots] after checking x (..., hidden) against weight and bias, both (hidden) or (T, hidden). */
function layout(x: Tensor, weight: Tensor, bias: Tensor): [number, number, number] {
  const describe = (t: Tensor) => `[${t.shape.join(', ')}]`;
  for (const [name, t] of [['x', x], ['weight', weight], ['bias', bias]] as const) {
    if (t.dtype !== 'f32') throw new ShapeError(`layerNorm: ${name} must be f32, got ${t.dtype} ${describe(t)}`);
  }
  if (x.rank < 1 || x.shape[x.rank - 1] < 1) throw new ShapeError(`layerNorm: x ${describe(x)} needs a last axis of at least 1`);
  const hidden = x.shape[x.rank - 1];
  if ((weight.rank !== 1 && weight.rank !== 2) || weight.shape[weight.rank - 1] !== hidden) {
    throw new ShapeError(`layerNorm: weight ${describe(weight)} must be (${hidden}) or (slots, ${hidden}) for x ${describe(x)}`);
  }
  if (bias.shape.join() !== weight.shape.join()) {
    throw new ShapeError(`layerNorm: bias ${describe(bias)} must match weight ${describe(weight)}`);
  }
  const rows = x.size / hidden;
  const slots = weight.rank === 2 ? weight.shape[0] : 1;
  if (slots < 1 || rows % slots !== 0) {
    throw new ShapeError(`layerNorm: x ${describe(x)} has ${rows} rows, which do not split into weight ${describe(weight)}'s ${slots} slots`);
  }
  return [rows, hidden, slots];
}

export const layerNormOp: OpDefinition<LayerNormAttrs> = {
  name: 'layer_norm',
  forward([x, weight, bias], { eps }, save) {
    const [rows, hidden, slots] = layout(x, weight, bias);
    const device = x.device;
    const y = emptyTensor(device, x.shape, 'f32', 'layer_norm');
    const mean = emptyTensor(device, [rows], 'f32', 'layer_norm mean');
    const rstd = emptyTensor(device, [rows], 'f32', 'layer_norm rstd');
    launchLayerNorm(device, x.buffer, weight.buffer, bias.buffer, y.buffer, mean.buffer, rstd.buffer, rows, hidden, slots, eps);
    for (const t of [x, weight, mean, rstd]) save(t);
    mean.release(); // The saved aliases keep them.
    rstd.release();
    return y;
  },
  backward({ saved: [x, weight, mean, rstd], needsGrad }, g) {
    const hidden = x.shape[x.rank - 1];
    const rows = x.size / hidden;
    const slots = weight.rank === 2 ? weight.shape[0] : 1;
    const device = x.device;
    const dx = needsGrad[0] ? emptyTensor(device, x.shape, 'f32', 'layer_norm dx') : null;
    const params = needsGrad[1] || needsGrad[2];
    const dweight = params ? emptyTensor(device, weight.shape, 'f32', 'layer_norm dweight') : null;
    const dbias = params ? emptyTensor(device, weight.shape, 'f32', 'layer_norm dbias') : null;
    launchLayerNormBackward(
      device, x.buffer, weight.buffer, mean.buffer, rstd.buffer, g.buffer,
      dx?.buffer ?? null, dweight?.buffer ?? null, dbias?.buffer ?? null, rows, hidden, slots,
    );
    return [dx, dweight, dbias];
  },
};

/** layerNorm(x (..., hidden), weight and bias (hidden) or (T, hidden)) → x's shape. */
export const layerNorm = (x: Tensor, weight: Tensor, bias: Tensor, { eps = 1e-12 }: LayerNormOptions = {}) =>
  apply(layerNormOp, [x, weight, bias], { eps });
