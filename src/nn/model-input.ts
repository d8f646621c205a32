/**
 * One batch as the model reads it, for all trial slots: uploaded once per step, then only read on the GPU.
 * Host arrays are laid out (T, B, S); every slot has the same B and S (slots of one fused group share shapes;
 * shorter sequences are padded, and padding changes nothing because attention masks it out).
 */
import { tensor } from '../tensor/create.js';
import type { Device } from '../gpu/device.js';
import { ShapeError } from '../gpu/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { SequenceDims } from './attention.js';

/** Added to the attention scores of padding keys: exp() of it is exactly 0 in float32. */
export const MASKED_SCORE = -1e9;

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
  inputIds: Tensor; // (T, B·S) i32
  positionIds: Tensor; // (T, B·S) i32
  maskBias: Tensor; // (T, B, 1, 1, S) f32
  clsIndex: Tensor; // (T, B) i32: the row of each sequence's [CLS] token in (T, B·S)
  labels: Tensor | null; // (T·B) i32
}

/** The host's attention mask as the scores' additive bias, after checking the batch's sizes. */
function maskBiasOf(host: HostBatch, maxPositions: number): Float32Array {
  const { slots, batch, seq } = host;
  const tokens = slots * batch * seq;
  if (host.inputIds.length !== tokens || host.attentionMask.length !== tokens) {
    throw new ShapeError(`batch: inputIds/attentionMask need ${slots}x${batch}x${seq} = ${tokens} values`);
  }
  if (seq > maxPositions) throw new ShapeError(`batch: sequence length ${seq} is over maxPositionEmbeddings ${maxPositions}`);
  // A plain loop: Float32Array.from with a callback took 5x as long (0.55 ms a step for 8 slots of 16 x 52 tokens).
  const bias = new Float32Array(tokens);
  const mask = host.attentionMask;
  for (let i = 0; i < tokens; i++) if (mask[i] === 0) bias[i] = MASKED_SCORE;
  return bias;
}

export function uploadBatch(device: Device, host: HostBatch, maxPositions: number): ModelInput {
  const { slots, batch, seq } = host;
  const bias = maskBiasOf(host, maxPositions);
  // Positions and [CLS] rows follow from the dimensions alone.
  const positions = new Int32Array(slots * batch * seq);
  for (let i = 0; i < positions.length; i++) positions[i] = i % seq;
  const cls = new Int32Array(slots * batch);
  for (let i = 0; i < cls.length; i++) cls[i] = (i % batch) * seq;
  return {
    dims: { slots, batch, seq },
    inputIds: tensor(device, host.inputIds, [slots, batch * seq]),
    positionIds: tensor(device, positions, [slots, batch * seq]),
    maskBias: tensor(device, bias, [slots, batch, 1, 1, seq]),
    clsIndex: tensor(device, cls, [slots, batch]),
    labels: host.labels ? tensor(device, host.labels, [slots * batch]) : null,
  };
}

/**
 * Uploads `host` into an input made by `uploadBatch` for a batch of the same dimensions (a captured training step
 * keeps its input's buffers: captured-training-step.ts). Positions and [CLS] rows depend on the dimensions only, so
 * they are already there.
 */
export function writeBatch(input: ModelInput, host: HostBatch, maxPositions: number): void {
  const { slots, batch, seq } = input.dims;
  if (host.slots !== slots || host.batch !== batch || host.seq !== seq || (host.labels === null) !== (input.labels === null)) {
    throw new ShapeError(
      `writeBatch: a ${host.slots}x${host.batch}x${host.seq} batch${host.labels ? '' : ' without labels'} into an input of ${slots}x${batch}x${seq}${input.labels ? '' : ' without labels'}`,
    );
  }
  const bias = maskBiasOf(host, maxPositions);
  const device = input.inputIds.device;
  device.write(input.inputIds.buffer, host.inputIds);
  device.write(input.maskBias.buffer, bias);
  if (input.labels && host.labels) device.write(input.labels.buffer, host.labels);
}

export function releaseInput(input: ModelInput): void {
  for (const t of [input.inputIds, input.positionIds, input.maskBias, input.clsIndex, input.labels]) t?.release();
}
