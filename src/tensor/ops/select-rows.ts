/**
 * Strided row selection with autograd: x (T, rows, hidden) → (T, rows / stride, hidden), row k of each slot being
 * x's row k · stride + offset; the [CLS] rows of (T, B·S, hidden) hidden states are selectRows(x, { stride: S }).
 * The same values as an embedding lookup with those row indices, but its gradient is one dispatch writing every
 * row of dx (the output's gradient where selected, else 0) instead of a three-dispatch scatter. Kernels:
 * kernels/embedding (launchSelectRows).
 */
import {
  launchSelectFirstRows,
  launchSelectFirstRowsBackward,
  launchSelectRows,
  launchSelectRowsBackward,
  type SelectFirstRowsShape,
  type SelectRowsShape,
} from '../../../kernels/embedding/embedding.js';
import { apply, type OpDefinition } from '../autograd.js';
import { ShapeError } from '../../gpu/errors.js';
import { emptyTensor } from '../tensor-fill.js';
import type { Tensor } from '../tensor.js';

export interface SelectRowsOptions {
  /** Rows per group: each slot's rows must be a whole number of groups. */
  stride: number;
  /** The row selected in each group, in [0, stride). Default 0. */
  offset?: number;
}

export const selectRowsOp: OpDefinition<SelectRowsShape> = {
  name: 'select_rows',
  forward([x], shape) {
    const out = emptyTensor(x.device, [shape.slots, shape.selected, shape.hidden], 'f32', 'select_rows');
    launchSelectRows(x.device, x.buffer, out.buffer, shape);
    return out;
  },
  backward({ inputs: [x], attrs }, g) {
    const grad = emptyTensor(x.device, x.shape, 'f32', 'select_rows grad');
    launchSelectRowsBackward(x.device, g.buffer, grad.buffer, attrs);
    return [grad];
  },
};

/** x (T, rows, hidden) f32 → (T, rows / stride, hidden): row k of slot t is x[t, k · stride + offset]. */
export function selectRows(x: Tensor, { stride, offset = 0 }: SelectRowsOptions): Tensor {
  const what = `selectRows: x ${x.dtype}[${x.shape.join(', ')}]`;
  if (x.dtype !== 'f32' || x.rank !== 3) throw new ShapeError(`${what} must be f32 (slots, rows, hidden)`);
  const [slots, rows, hidden] = x.shape;
  if (!Number.isInteger(stride) || stride < 1 || rows % stride !== 0) {
    throw new ShapeError(`${what}: stride ${stride} must be a whole number ≥ 1 dividing its ${rows} rows per slot`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset >= stride) throw new ShapeError(`${what}: offset ${offset} must be in [0, ${stride})`);
  return apply(selectRowsOp, [x], { slots, selected: rows / stride, stride, offset, hidden });
}

export const selectFirstRowsOp: OpDefinition<SelectFirstRowsShape> = {
  name: 'select_first_rows',
  forward([x, sequences], shape, save) {
    const out = emptyTensor(x.device, [shape.slots, shape.batch, shape.hidden], 'f32', 'select_first_rows');
    launchSelectFirstRows(x.device, x.buffer, sequences.buffer, out.buffer, shape);
    save(sequences);
    return out;
  },
  backward({ inputs: [x], saved: [sequences], attrs }, g) {
    const grad = emptyTensor(x.device, x.shape, 'f32', 'select_first_rows grad');
    launchSelectFirstRowsBackward(x.device, g.buffer, sequences.buffer, grad.buffer, attrs);
    return [grad, null];
  },
};

/**
 * x (T, rows, hidden) f32 → (T, B, hidden): each sequence's first row, where `sequences` (T, B, 2) i32 places them
 * (first row within the slot, ascending; rows owned: ModelInput.sequences). The [CLS] rows of packed sequences,
 * with the same one-dispatch gradient as the strided selectRows.
 */
export function selectFirstRows(x: Tensor, sequences: Tensor): Tensor {
  const what = `selectFirstRows: x ${x.dtype}[${x.shape.join(', ')}]`;
  if (x.dtype !== 'f32' || x.rank !== 3) throw new ShapeError(`${what} must be f32 (slots, rows, hidden)`);
  const [slots, rowsPerSlot, hidden] = x.shape;
  if (sequences.dtype !== 'i32' || sequences.rank !== 3 || sequences.shape[0] !== slots || sequences.shape[2] !== 2) {
    throw new ShapeError(`${what}: sequences ${sequences.dtype}[${sequences.shape.join(', ')}] must be i32 (${slots}, batch, 2)`);
  }
  return apply(selectFirstRowsOp, [x, sequences], { slots, batch: sequences.shape[1], rowsPerSlot, hidden });
}
