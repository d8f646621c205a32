/**
 * One optimizer step of a model's T slots, recorded on the GPU and read back never: upload the batch, forward,
 * loss, backward, clip + AdamW, zero the gradients, submit. TrainingGroup runs it every step; `bench train` times
 * this same function, so the benchmark cannot drift from the product.
 */
import type { Collective } from '../distributed/collective.js';
import type { Device } from '../gpu/device.js';
import { averageGradients } from './data-parallel.js';
import { ForwardContext, writeDropoutCallBase, type SlotDropout } from '../nn/forward-context.js';
import { layoutFor, releaseInput, uploadBatch, type HostBatch, type InputLayout, type ModelInput } from '../nn/model-input.js';
import type { Optimizer } from '../nn/optimizer.js';
import type { TrainableModel } from '../nn/trainable-model.js';
import { backward } from '../tensor/autograd.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { accumulateInto } from '../tensor/tensor-fill.js';

export interface TrainingStepParts {
  device: Device;
  model: TrainableModel;
  optimizer: Optimizer;
  /** Per-slot seeds and rates, and the call base this step writes (forward-context.ts). */
  dropout: SlotDropout;
}

/**
 * Records one step on `host` (T, B, S): slot t at its own step `steps[t]` (0-based; its dropout masks) with its
 * learning rate (0 for a slot without a trial); adds the step's per-slot losses into `lossSum` (T) when given.
 */
export function recordTrainingStep(parts: TrainingStepParts, host: HostBatch, steps: readonly number[], learningRates: readonly number[], lossSum?: Tensor, layout?: InputLayout): void {
  const input = recordForwardBackward(parts, host, steps, lossSum, layout);
  recordUpdate(parts, learningRates, input);
}

/**
 * The same step for one rank of a data-parallel group: the gradients are averaged over the ranks (a read back and
 * an all-reduce: data-parallel.ts) between the backward and the update, so every rank applies the same update.
 */
export async function trainingStepDataParallel(parts: TrainingStepParts, collective: Collective, host: HostBatch, steps: readonly number[], learningRates: readonly number[], lossSum?: Tensor): Promise<void> {
  const input = recordForwardBackward(parts, host, steps, lossSum);
  try {
    await averageGradients(parts.device, collective, parts.model.parameters());
  } catch (error) {
    parts.optimizer.zeroGrad();
    releaseInput(input);
    throw error;
  }
  recordUpdate(parts, learningRates, input);
}

/** `layout`: the batch's (default: the model's, layoutFor). */
function recordForwardBackward(parts: TrainingStepParts, host: HostBatch, steps: readonly number[], lossSum?: Tensor, layout?: InputLayout): ModelInput {
  const { device, model, dropout } = parts;
  const input = uploadBatch(device, host, model.config.maxPositionEmbeddings, layout ?? layoutFor(model, host));
  writeDropoutCallBase(dropout, steps);
  recordLossAndGradients(parts, input, lossSum);
  return input;
}

/**
 * Forward, loss (added into `lossSum`) and backward on an uploaded batch: GPU commands only, no upload. `ones`, a
 * (T) tensor of ones the caller keeps, seeds the backward instead of one filled each step.
 */
export function recordLossAndGradients(parts: TrainingStepParts, input: ModelInput, lossSum?: Tensor, ones?: Tensor): void {
  const { model, dropout } = parts;
  const context = new ForwardContext(model.slots, true, dropout);
  tidy(() => {
    const loss = model.loss(model.forward(input, context), input.labels!); // (T)
    if (lossSum) accumulateInto(lossSum, loss);
    backward(loss, ones ? { gradient: ones } : {}); // d(sum of slots' losses): each slot gets its own gradient.
  });
}

/** Clip + AdamW, zero the gradients, release the batch, submit. */
function recordUpdate(parts: TrainingStepParts, learningRates: readonly number[], input: ModelInput): void {
  parts.optimizer.step(learningRates);
  parts.optimizer.zeroGrad();
  releaseInput(input);
  parts.device.flush();
}
