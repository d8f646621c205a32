/**
 * Softmax cross-entropy with integer labels and an ignore index, with autograd (PyTorch's
 * `F.cross_entropy(logits, labels, ignore_index=-100)`). `crossEntropy` gives one mean loss per trial slot, (T);
 * `crossEntropyPerRow` the unreduced loss. A label outside [0, classes) that is not the ignore index gives NaN
 * (loss and gradient of that row, and its slot's mean) instead of reading out of bounds. Kernel: kernels/cross-entropy.
 */
import {
  launchCrossEntropy,
  launchCrossEntropyBackward,
  launchCrossEntropyLossMean,
} from '../../../kernels/cross-entropy/cross-entropy.js';
import { apply, type OpDefinition } from '../autograd.js';
import { ShapeError } from '../../gpu/errors.js';
import { emptyTensor } from '../tensor-fill.js';
import type { Tensor } from '../tensor.js';

export interface CrossEntropyOptions {
  /** Rows with this label count neither in the loss nor in the mean's denominator. */
  ignoreIndex?: number;
  /** Trial slots T: rows = T × rowsPerSlot, slot-major; the mean comes out per slot. */
  slots?: number;
}

interface CrossEntropyAttrs {
  ignoreIndex: number;
  slots: number;
  reduction: 'mean' | 'none';
}

/** (rows, classes) after checking logits (..., classes) f32 against labels (...) i32. */
function rowsAndClasses(logits: Tensor, labels: Tensor, op: string): [number, number] {
  if (logits.dtype !== 'f32') throw new ShapeError(`${op}: logits must be f32, got ${logits.dtype} [${logits.shape.join(', ')}]`);
  if (labels.dtype !== 'i32') throw new ShapeError(`${op}: labels must be i32, got ${labels.dtype} [${labels.shape.join(', ')}]`);
  if (logits.rank < 1 || logits.shape[logits.rank - 1] < 1) {
    throw new ShapeError(`${op}: logits [${logits.shape.join(', ')}] need a last (classes) axis of at least 1`);
  }
  const classes = logits.shape[logits.rank - 1];
  const rows = logits.size / classes;
  if (labels.size !== rows) {
    throw new ShapeError(
      `${op}: labels [${labels.shape.join(', ')}] must hold one label per row of logits [${logits.shape.join(', ')}] (${rows} rows)`,
    );
  }
  return [rows, classes];
}

export const crossEntropyOp: OpDefinition<CrossEntropyAttrs> = {
  name: 'cross_entropy',
  forward([logits, labels], { ignoreIndex, slots, reduction }, save) {
    const op = reduction === 'mean' ? 'crossEntropy' : 'crossEntropyPerRow';
    const [rows, classes] = rowsAndClasses(logits, labels, op);
    if (!Number.isInteger(slots) || slots < 1 || rows % slots !== 0) {
      throw new ShapeError(`${op}: slots=${slots} must divide the ${rows} rows of logits [${logits.shape.join(', ')}]`);
    }
    const device = logits.device;
    const logSumExp = emptyTensor(device, [rows], 'f32', 'cross_entropy logsumexp');
    save(logits);
    save(labels);
    save(logSumExp);
    if (reduction === 'none') {
      const loss = emptyTensor(device, logits.shape.slice(0, -1), 'f32', 'cross_entropy loss');
      launchCrossEntropy(device, logits.buffer, labels.buffer, loss.buffer, logSumExp.buffer, rows, classes, ignoreIndex);
      logSumExp.release(); // The saved alias keeps it (none when not recording).
      return loss;
    }
    // The per-row losses and their per-slot mean in one dispatch (kernels/cross-entropy v2).
    const mean = emptyTensor(device, [slots], 'f32', 'cross_entropy mean');
    const count = emptyTensor(device, [slots], 'f32', 'cross_entropy count');
    launchCrossEntropyLossMean(device, logits.buffer, labels.buffer, logSumExp.buffer, mean.buffer, count.buffer, rows, classes, slots, ignoreIndex);
    save(count);
    for (const t of [logSumExp, count]) t.release(); // The saved aliases keep them.
    return mean;
  },
  backward({ saved: [logits, labels, logSumExp, count], attrs }, g) {
    const classes = logits.shape[logits.rank - 1];
    const rows = logits.size / classes;
    const gradLogits = emptyTensor(logits.device, logits.shape, 'f32', 'cross_entropy grad');
    launchCrossEntropyBackward(
      logits.device,
      logits.buffer,
      labels.buffer,
      logSumExp.buffer,
      g.buffer,
      attrs.reduction === 'mean' ? count.buffer : null,
      gradLogits.buffer,
      rows,
      classes,
      attrs.reduction === 'mean' ? attrs.slots : 1,
      attrs.ignoreIndex,
    );
    return [gradLogits, null];
  },
};

/** Mean cross-entropy per trial slot: logits (T·rows, classes), labels (T·rows) i32 → (T). */
export const crossEntropy = (logits: Tensor, labels: Tensor, { ignoreIndex = -100, slots = 1 }: CrossEntropyOptions = {}) =>
  apply(crossEntropyOp, [logits, labels], { ignoreIndex, slots, reduction: 'mean' });

/** Unreduced cross-entropy: logits (..., classes), labels (...) i32 → (...), 0 on ignored rows. */
export const crossEntropyPerRow = (logits: Tensor, labels: Tensor, { ignoreIndex = -100 }: { ignoreIndex?: number } = {}) =>
  apply(crossEntropyOp, [logits, labels], { ignoreIndex, slots: 1, reduction: 'none' });
