/**
 * A fused group's model and optimizer rebuilt with fewer slots: the kept slots' weights, AdamW moments and step
 * counts copied into a model built for them alone (the group goes on without its idle slots). Rank 0 of a
 * data-parallel sweep and the other ranks rebuild the same way.
 */
import type { Device } from '../gpu/device.js';
import { AdamW } from '../nn/adamw.js';
import { withPlaceholderWeights } from '../nn/module.js';
import type { TrainableModel } from '../nn/trainable-model.js';
import { copySlots } from './slot-copy.js';
import { optimizerSettings, type TrainingArguments } from './training-arguments.js';

/**
 * `build(seeds)` makes the smaller model; `keptArgs[j]` are the arguments of old slot `keepSlots[j]`. The old model
 * and optimizer are released (the copies are recorded first).
 */
export function shrinkModel(
  device: Device,
  build: (seeds: number[]) => TrainableModel,
  model: TrainableModel,
  optimizer: AdamW,
  keepSlots: readonly number[],
  keptArgs: readonly TrainingArguments[],
): { model: TrainableModel; optimizer: AdamW } {
  // Every weight is copied from the old model below: built without drawing any.
  const smaller = withPlaceholderWeights(() => build(keptArgs.map((a) => a.seed)));
  const smallerOptimizer = new AdamW(device, smaller.namedParameters(), keptArgs.map((a) => optimizerSettings(a)));
  const to = keepSlots.map((_, j) => j);
  copySlots(device, model.namedParameters(), smaller.namedParameters(), keepSlots, to);
  copySlots(device, [...optimizer.stateArrays()], [...smallerOptimizer.stateArrays()], keepSlots, to);
  keepSlots.forEach((slot, j) => (smallerOptimizer.slotSteps[j] = optimizer.slotSteps[slot]));
  optimizer.release();
  model.release();
  return { model: smaller, optimizer: smallerOptimizer };
}
