/**
 * `slots: 'auto'`: how many trials to fuse into one group on this device. Two bounds, then a measurement:
 * - the device's limits: the largest per-slot buffer of a step (an activation, the attention scores, or the
 *   embedding's gradient) times K must fit `maxStorageBufferBindingSize`, and the whole group's estimated bytes
 *   (parameters, gradients and AdamW state, plus a step's activations) must fit `maxBufferSize` times four — WebGPU
 *   does not say how much memory a device has, so the largest buffer it allows stands in for it;
 * - the trials there are: no more slots than trials;
 * - a short throughput probe: K = 1, 2, 4, … training steps of the real shapes (batch size, max_seq_length, the
 *   model modelInit builds) on a synthetic batch, timed after a warm-up; trial-steps per second is K / step time.
 *   Its sequences have the lengths of training examples (`lengths`) where given, each slot its own: a packed batch's
 *   rows follow its real lengths (src/nn/model-input.ts), so full-length sequences would overstate the row work
 *   that fusing does not save, against the fixed cost per step that it does.
 *   Doubling K stops paying when it gains less than 10%; the smallest K within 5% of the best is chosen (fewer
 *   slots idle at a sweep's end).
 * The probe measures training steps only: evaluations, the same for every K per trial, are left out.
 */
import type { Device } from '../gpu/device.js';
import { AdamW } from '../nn/adamw.js';
import type { ModelConfig } from '../nn/config.js';
import { createSlotDropout } from '../nn/forward-context.js';
import type { TrainableModel } from '../nn/trainable-model.js';
import { zeros } from '../tensor/create.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { stackSlots } from './slot-batches.js';
import { optimizerSettings, type TrainingArguments } from './training-arguments.js';
import { CapturedTrainingStep } from './captured-training-step.js';

export interface SlotProbe {
  k: number;
  msPerStep: number;
  /** K / step time: trial steps trained per second. */
  trialStepsPerSecond: number;
}

export interface SlotChoice {
  slots: number;
  probes: SlotProbe[];
  /** The largest K the device's limits allow (before the trial count). */
  limit: number;
  /** One line: the choice and why. */
  summary: string;
}

export interface ChooseSlotsOptions {
  device: Device;
  /** Builds the model with K seeds (the Trainer's modelInit). */
  modelInit: (device: Device, seeds: number[]) => TrainableModel;
  args: TrainingArguments;
  /** No more slots than this (the sweep's trial count). */
  maxSlots: number;
  warmupSteps?: number;
  timedSteps?: number;
  /** Token lengths of the training examples (encoded, truncated): the probe's sequences are drawn from them. */
  lengths?: readonly number[];
}

const CANDIDATES = [1, 2, 4, 8, 16, 32];

/**
 * Bytes of one slot's largest buffer and of its whole share of a step, estimated from the model's shapes (a model
 * that is not webtrainer's BERT-style classifier is judged by its parameters alone).
 */
export function slotFootprint(config: ModelConfig | null, batch: number, seq: number, parameters: number, largestParameter: number): { largest: number; total: number } {
  if (!config) return { largest: 4 * largestParameter, total: 16 * parameters };
  const tokens = batch * seq;
  const scores = batch * config.numHeads * seq * seq;
  const largest = 4 * Math.max(largestParameter, tokens * Math.max(config.intermediateSize, config.hiddenSize), scores);
  // Per layer, a step keeps about 12 hidden-sized and 2 intermediate-sized activations per token and 3 score
  // tensors (scores, probabilities, dropout) for the backward; parameters come 4 times (weights, grads, m, v).
  const activations = config.numLayers * (tokens * (12 * config.hiddenSize + 2 * config.intermediateSize) + 3 * scores);
  return { largest, total: 4 * (4 * parameters + activations) };
}

export async function chooseSlots(o: ChooseSlotsOptions): Promise<SlotChoice> {
  const { device, args } = o;
  const limits = device.gpuDevice.limits;
  const one = o.modelInit(device, [args.seed]);
  const parameters = one.namedParameters().reduce((n, [, t]) => n + t.size, 0);
  const largestParameter = Math.max(...one.namedParameters().map(([, t]) => t.size));
  const config = one.config;
  one.release();
  const batch = args.perDeviceTrainBatchSize;
  const seq = Math.min(args.maxSeqLength, config.maxPositionEmbeddings);
  const footprint = slotFootprint(bertConfig(config), batch, seq, parameters, largestParameter);
  const limit = Math.max(1, Math.min(Math.floor(limits.maxStorageBufferBindingSize / footprint.largest), Math.floor((4 * limits.maxBufferSize) / footprint.total)));
  const ceiling = Math.max(1, Math.min(limit, o.maxSlots));
  const probes: SlotProbe[] = [];
  for (const k of CANDIDATES) {
    if (k > ceiling) break;
    probes.push(await probe(o, k, batch, seq));
    const previous = probes[probes.length - 2];
    if (previous && probes[probes.length - 1].trialStepsPerSecond < 1.1 * previous.trialStepsPerSecond) break;
  }
  const chosen = probes.find((p) => p.k === pickSlots(probes))!;
  const measured = probes.map((p) => `K=${p.k} ${p.trialStepsPerSecond.toFixed(1)}`).join(', ');
  const bound = o.maxSlots < limit ? `${o.maxSlots} trials` : `device limits allow ${limit}`;
  return {
    slots: chosen.k,
    probes,
    limit,
    summary: `${chosen.k} fused per group (auto: trial-steps/s ${measured}; ${bound})`,
  };
}

/** The smallest K whose throughput is within 5% of the best probed. */
export function pickSlots(probes: readonly SlotProbe[]): number {
  const best = Math.max(...probes.map((p) => p.trialStepsPerSecond));
  return probes.find((p) => p.trialStepsPerSecond >= 0.95 * best)!.k;
}

function bertConfig(config: TrainableModel['config']): ModelConfig | null {
  return 'hiddenSize' in config && 'vocabSize' in config ? (config as ModelConfig) : null;
}

/** Times `timedSteps` training steps of a K-slot model on a synthetic batch of the real shape. */
async function probe(o: ChooseSlotsOptions, k: number, batch: number, seq: number): Promise<SlotProbe> {
  const { device, args } = o;
  const seeds = Array.from({ length: k }, (_, i) => args.seed + i);
  const model = o.modelInit(device, seeds);
  const optimizer = new AdamW(device, model.namedParameters(), seeds.map(() => optimizerSettings(args)));
  const config = model.config;
  const dropout = createSlotDropout(device, seeds, seeds.map(() => config.hiddenDropoutProb), seeds.map(() => config.attentionDropoutProb));
  const lossSum: Tensor = keep(zeros(device, [k]));
  let state = 12345;
  const next = (n: number) => ((state = (state * 1103515245 + 12345) % 2 ** 31), state % n);
  const vocabulary = model.keptVocabulary?.length ?? bertConfig(config)?.vocabSize ?? 2; // ids the model takes
  const lengths = o.lengths?.length ? o.lengths : [seq];
  const example = () => {
    const tokens = Array.from({ length: batch }, () => Math.min(seq, Math.max(1, lengths[next(lengths.length)])));
    return {
      batchSize: batch,
      seqLength: seq,
      inputIds: Int32Array.from({ length: batch * seq }, () => 1 + next(vocabulary - 1)),
      attentionMask: Int32Array.from({ length: batch * seq }, (_, i) => (i % seq < tokens[Math.floor(i / seq)] ? 1 : 0)),
      labels: Int32Array.from({ length: batch }, () => next(config.numLabels)),
    };
  };
  const host = stackSlots(Array.from({ length: k }, example));
  const rates = new Array(k).fill(args.learningRate);
  // TrainingGroup's own step: captured once, replayed after (the warm-up steps capture it).
  const captured = new CapturedTrainingStep();
  const step = (s: number) => captured.record({ device, model, optimizer, dropout }, host, new Array(k).fill(s), rates, lossSum);
  try {
    const warmup = o.warmupSteps ?? 2;
    const timed = o.timedSteps ?? 4;
    for (let s = 0; s < warmup; s++) step(s);
    await device.sync();
    const started = performance.now();
    for (let s = 0; s < timed; s++) step(warmup + s);
    await device.sync();
    const msPerStep = (performance.now() - started) / timed;
    return { k, msPerStep, trialStepsPerSecond: (1000 * k) / msPerStep };
  } finally {
    captured.release();
    lossSum.release();
    for (const t of Object.values(dropout)) t.release();
    optimizer.release();
    model.release();
  }
}
