/**
 * One batch as the model reads it, for all trial slots: uploaded once per step, then only read on the GPU.
 * Host arrays are laid out (T, B, S); every slot has the same B and S (slots of one fused group share shapes;
 * shorter sequences are padded, and padding changes nothing because attention masks it out).
 *
 * Two layouts of the token rows (`InputLayout`):
 * - padded: every sequence takes S rows, a slot B·S. What any model takes.
 * - packed: each slot's sequences lie end to end, a slot R rows: the most tokens any slot has, rounded up to
 *   PACKED_ROW_MULTIPLE. A fused group pads every slot to the longest sequence of all its slots' batches (52 rows a
 *   sequence in a group of 8 on the SST-2 sample, for 13 real tokens): packed, every row kernel (linear layers,
 *   LayerNorm, GELU, column sums) computes about a third as many rows. Only attention (the sequence table), the
 *   positions and the [CLS] rows need to know; a row's dropout mask follows its row in its slot, which no other
 *   slot moves (the tail after a slot's last sequence is the only padding). Models that take it say so
 *   (`TrainableModel.packsSequences`).
 */
import { paddedSequences } from '../../kernels/attention/attention.js';
import { tensor } from '../tensor/create.js';
import type { Device } from '../gpu/device.js';
import { ShapeError } from '../gpu/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { SequenceDims } from './attention.js';

/** Added to the attention scores of padding keys: exp() of it is exactly 0 in float32. */
export const MASKED_SCORE = -1e9;

/**
 * A packed slot's rows are rounded up to a multiple of this, and a packed batch's S (attention's rows per sequence)
 * to one of PACKED_SEQ_MULTIPLE: fewer distinct shapes, each captured once and replayed
 * (src/train/captured-training-step.ts keeps 8).
 */
export const PACKED_ROW_MULTIPLE = 32;
export const PACKED_SEQ_MULTIPLE = 32;

export interface HostBatch {
  slots: number;
  batch: number;
  seq: number;
  /** (T, B, S) token ids. */
  inputIds: Int32Array;
  /** (T, B, S) 1 for tokens, 0 for padding. */
  attentionMask: Int32Array;
  /** (T, B) class ids, or null for prediction. */
  labels: Int32Array | null;
}

export interface ModelInput {
  dims: SequenceDims;
  inputIds: Tensor; // (T, rows) i32
  positionIds: Tensor; // (T, rows) i32
  maskBias: Tensor; // (T, B, 1, 1, S) f32
  /** (T, B, 2) i32: per sequence, its first row in its slot and the rows it owns (kernels/attention). */
  sequences: Tensor;
  clsIndex: Tensor; // (T, B) i32: the row of each sequence's [CLS] token in (T, rows)
  labels: Tensor | null; // (T·B) i32
}

/** Where each sequence's rows lie, from a HostBatch and the layout asked for (`inputLayout`). */
export interface InputLayout {
  packed: boolean;
  /** Attention's rows per sequence: the host's S padded; packed, the longest sequence rounded up. */
  seq: number;
  /** Rows per slot: B·S padded; packed, the most tokens any slot has, rounded up to PACKED_ROW_MULTIPLE. */
  rows: number;
  /** (T·B) tokens of each sequence: its mask's ones, which come first (right padding), at least 1. */
  lengths: Int32Array;
  /** (T, B, 2): first row in its slot and rows owned (attention's sequence table). */
  sequences: Int32Array;
  /** Captured steps keep one set of input buffers per key (src/train/captured-training-step.ts). */
  key: string;
}

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/**
 * The layout of `host`'s rows: packed when asked and every mask is right padding (its ones first), else padded.
 * Throws a ShapeError naming the problem for arrays of the wrong size or a sequence over `maxPositions`.
 */
export function inputLayout(host: HostBatch, maxPositions: number, packed: boolean): InputLayout {
  const { slots, batch, seq } = host;
  const tokens = slots * batch * seq;
  if (host.inputIds.length !== tokens || host.attentionMask.length !== tokens) {
    throw new ShapeError(`batch: inputIds/attentionMask need ${slots}x${batch}x${seq} = ${tokens} values`);
  }
  if (seq > maxPositions) throw new ShapeError(`batch: sequence length ${seq} is over maxPositionEmbeddings ${maxPositions}`);
  const lengths = new Int32Array(slots * batch);
  let rightPadded = true;
  const mask = host.attentionMask;
  for (let n = 0; n < slots * batch; n++) {
    let length = 0;
    while (length < seq && mask[n * seq + length] !== 0) length++;
    for (let s = length; s < seq && rightPadded; s++) if (mask[n * seq + s] !== 0) rightPadded = false;
    lengths[n] = Math.max(length, 1);
  }
  const labelled = host.labels ? '' : ' unlabelled';
  if (!packed || !rightPadded) {
    return { packed: false, seq, rows: batch * seq, lengths, sequences: paddedSequences(slots, batch, seq), key: `${slots}x${batch}x${seq}${labelled}` };
  }
  const sequences = new Int32Array(2 * slots * batch);
  let most = 0;
  for (let t = 0; t < slots; t++) {
    let next = 0;
    for (let b = 0; b < batch; b++) {
      sequences[2 * (t * batch + b)] = next;
      sequences[2 * (t * batch + b) + 1] = lengths[t * batch + b];
      next += lengths[t * batch + b];
    }
    most = Math.max(most, next);
  }
  const rows = roundUp(most, PACKED_ROW_MULTIPLE);
  // The last sequence of each slot owns the slot's tail: attention writes every row (zeros there).
  for (let t = 0; t < slots; t++) {
    const last = 2 * (t * batch + batch - 1);
    sequences[last + 1] = rows - sequences[last];
  }
  const longest = lengths.reduce((a, b) => Math.max(a, b), 1);
  const packedSeq = roundUp(longest, PACKED_SEQ_MULTIPLE);
  return { packed: true, seq: packedSeq, rows, lengths, sequences, key: `${slots}x${batch}x${packedSeq} packed ${rows}${labelled}` };
}

/** What `layoutFor` needs of a model (TrainableModel has it). */
export interface LayoutChooser {
  config: { maxPositionEmbeddings: number };
  packsSequences?(dims: { slots: number; batch: number; seq: number }): boolean;
}

/** `host`'s layout for `model`: packed where the model takes it (and the masks are right padding), else padded. */
export function layoutFor(model: LayoutChooser, host: HostBatch): InputLayout {
  return inputLayout(host, model.config.maxPositionEmbeddings, model.packsSequences?.(host) ?? false);
}

/** The host arrays of `layout`: token ids, positions, the mask as the scores' additive bias, [CLS] rows. */
function hostArrays(host: HostBatch, layout: InputLayout) {
  const { slots, batch, seq } = host;
  const { rows, lengths, sequences } = layout;
  const inputIds = new Int32Array(slots * rows);
  const positions = new Int32Array(slots * rows);
  const bias = new Float32Array(slots * batch * layout.seq);
  const cls = new Int32Array(slots * batch);
  // Plain loops: Float32Array.from with a callback took 5x as long (0.55 ms a step for 8 slots of 16 x 52 tokens).
  for (let n = 0; n < slots * batch; n++) {
    const t = Math.floor(n / batch);
    const start = sequences[2 * n];
    cls[n] = start;
    const length = layout.packed ? lengths[n] : seq; // padded: the padding rows too, as the host has them
    for (let s = 0; s < length; s++) {
      inputIds[t * rows + start + s] = host.inputIds[n * seq + s];
      positions[t * rows + start + s] = s;
    }
    for (let s = 0; s < layout.seq; s++) {
      const token = layout.packed ? s < lengths[n] : host.attentionMask[n * seq + s] !== 0;
      if (!token) bias[n * layout.seq + s] = MASKED_SCORE;
    }
  }
  return { inputIds, positions, bias, cls };
}

/** Uploads `host` in `layout` (default: padded, what any model takes). */
export function uploadBatch(device: Device, host: HostBatch, maxPositions: number, layout = inputLayout(host, maxPositions, false)): ModelInput {
  const { slots, batch } = host;
  const arrays = hostArrays(host, layout);
  return {
    dims: { slots, batch, seq: layout.seq, rows: layout.rows, packed: layout.packed },
    inputIds: tensor(device, arrays.inputIds, [slots, layout.rows]),
    positionIds: tensor(device, arrays.positions, [slots, layout.rows]),
    maskBias: tensor(device, arrays.bias, [slots, batch, 1, 1, layout.seq]),
    sequences: tensor(device, layout.sequences, [slots, batch, 2]),
    clsIndex: tensor(device, arrays.cls, [slots, batch]),
    labels: host.labels ? tensor(device, host.labels, [slots * batch]) : null,
  };
}

/**
 * Uploads `host` into an input made by `uploadBatch` for a batch of the same layout key (a captured training step
 * keeps its input's buffers: captured-training-step.ts). Padded, positions, [CLS] rows and the sequence table
 * depend on the dimensions only, so they are already there.
 */
export function writeBatch(input: ModelInput, host: HostBatch, layout: InputLayout): void {
  const { slots, batch, seq, rows, packed } = input.dims;
  if (host.slots !== slots || host.batch !== batch || layout.seq !== seq || layout.rows !== rows || layout.packed !== packed || (host.labels === null) !== (input.labels === null)) {
    throw new ShapeError(
      `writeBatch: a ${host.slots}x${host.batch}x${layout.seq} batch (${layout.rows} rows a slot${layout.packed ? ', packed' : ''})${host.labels ? '' : ' without labels'} into an input of ${slots}x${batch}x${seq} (${rows} rows${packed ? ', packed' : ''})${input.labels ? '' : ' without labels'}`,
    );
  }
  const arrays = hostArrays(host, layout);
  const device = input.inputIds.device;
  device.write(input.inputIds.buffer, arrays.inputIds);
  device.write(input.maskBias.buffer, arrays.bias);
  if (packed) {
    device.write(input.positionIds.buffer, arrays.positions);
    device.write(input.sequences.buffer, layout.sequences);
    device.write(input.clsIndex.buffer, arrays.cls);
  }
  if (input.labels && host.labels) device.write(input.labels.buffer, host.labels);
}

export function releaseInput(input: ModelInput): void {
  for (const t of inputTensors(input)) t.release();
}

/** Every tensor of `input` (a caller that keeps an input keeps them all). */
export function inputTensors(input: ModelInput): Tensor[] {
  return [input.inputIds, input.positionIds, input.maskBias, input.sequences, input.clsIndex, ...(input.labels ? [input.labels] : [])];
}
