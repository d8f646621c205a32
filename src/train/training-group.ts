/**
 * The training loop, for T trial slots trained together in one set of kernels (ARCHITECTURE.md: plain training
 * is a group of one). Each slot has its own TrainingArguments (learning rate, schedule, weight decay, betas,
 * clipping, seed: its initialisation and data order); the arguments that set shapes (batch size, steps, sequence
 * length) must agree. A step uploads one (T, B, S) batch and reads nothing back; losses are summed on the GPU and
 * read only at logging steps, evaluations read logits.
 */
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSlotDropout, ForwardContext, type SlotDropout } from '../nn/forward-context.js';
import { layoutFor, releaseInput, uploadBatch } from '../nn/model-input.js';
import { withPlaceholderWeights } from '../nn/module.js';
import { CapturedTrainingStep } from './captured-training-step.js';
import { trainingStepDataParallel } from './training-step.js';
import type { Collective } from '../distributed/collective.js';
import { broadcastTensors } from './data-parallel.js';
import type { Optimizer, StateArray } from '../nn/optimizer.js';
import type { TrainableModel } from '../nn/trainable-model.js';
import { noGrad } from '../tensor/autograd.js';
import { zeros } from '../tensor/create.js';
import type { Device } from '../gpu/device.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { describeError, ensureDirectory } from './checkpoint/files.js';
import { firstNonFinite, readSafetensors, validateAgainst, writeSafetensors, type TensorData } from './checkpoint/safetensors.js';
import { collateEncoded, type Batch, type EncodedExample } from './data/collator.js';
import { evaluationBatches, stackSlots } from './slot-batches.js';
import { copySlots } from './slot-copy.js';
import { SlotRun, type Divergence, type SlotDue } from './slot-run.js';
import type { TrainerCallback, TrainerControl, TrainerEvent } from './trainer-callback.js';
import { bestModelMetric, optimizerSettings, type TrainingArguments } from './training-arguments.js';

export interface EvalPrediction {
  predictions: Int32Array;
  labelIds: Int32Array;
  /** (N, numLabels) */
  logits: Float32Array;
  numLabels: number;
}

export type ComputeMetrics = (prediction: EvalPrediction) => Record<string, number>;

export interface TrainingGroupOptions {
  device: Device;
  model: TrainableModel;
  optimizer: Optimizer;
  /** One per slot (T = model.slots). */
  slotArgs: TrainingArguments[];
  trainExamples?: readonly EncodedExample[];
  evalExamples?: readonly EncodedExample[];
  padId?: number;
  /** Pads examples into a batch (HF's data_collator); default: pad to the longest in the batch. */
  dataCollator?: (examples: EncodedExample[]) => Batch;
  computeMetrics?: ComputeMetrics;
  callbacks?: TrainerCallback[];
  /** Per-slot dropout rates; default: the model config's. */
  hiddenDropout?: readonly number[];
  attentionDropout?: readonly number[];
  /** Per slot, the trial it runs (a search's): events carry it. */
  trialNumbers?: readonly (number | undefined)[];
  /** Called as soon as a slot's run ends (its last step, or stopped: pruned, early-stopped, diverged), with its output. */
  onSlotEnd?: (slot: number, output: TrainOutput) => Promise<void> | void;
  /**
   * Asked for a freed slot's next trial after onSlotEnd: a SlotRefill starts it in that slot at once, while the
   * other slots go on; null leaves the slot idle. Without it, slots stay idle until the whole group has ended.
   */
  nextTrial?: (slot: number) => Promise<SlotRefill | null> | SlotRefill | null;
  /**
   * Rebuilds the model and optimizer with only `keepSlots` (old slot numbers, in order), their weights and
   * optimizer state copied (see copySlots); slot j of the new model is old slot keepSlots[j]. Called when slots
   * idle with no trial to refill them; null keeps the group as it is. The owner releases the old model and optimizer.
   */
  shrink?: (keepSlots: readonly number[]) => Promise<{ model: TrainableModel; optimizer: Optimizer } | null>;
  /**
   * Data parallelism (data-parallel.ts): this process is one rank of `collective`. Each rank trains on its shard of
   * every global batch (per_device_train_batch_size examples, as HF's DistributedSampler deals them), gradients are
   * averaged every step, rank 0's parameters are broadcast at the start, and rank 0 evaluates, saves and decides:
   * its metrics, stops and refills reach the other ranks, so no rank trains on alone.
   */
  collective?: Collective;
  /**
   * Builds a model of `slots` slots (any weights: the group copies the slots it evaluates into it). With it, an
   * evaluation runs only the slots that are due (refilled slots fall due at different steps), at their share of
   * the cost; without it, every evaluation runs every slot.
   */
  evalModel?: (slots: number) => TrainableModel;
  /** On ranks other than 0: builds the refill rank 0 announced (its weights are then overwritten by rank 0's). */
  buildRefill?: (config: SlotRefillConfig, slot: number) => Promise<SlotRefill> | SlotRefill;
}

/** Evaluation batches recorded ahead of the one whose logits are awaited (predictWith). */
const READS_IN_FLIGHT = 4;

/** What rank 0 says of a refill: everything but the weights (those are broadcast as tensors). */
export type SlotRefillConfig = Omit<SlotRefill, 'weights' | 'release'>;

/** A new trial for a freed slot: its arguments, dropout, and initial weights. */
export interface SlotRefill {
  args: TrainingArguments;
  /** One-slot parameters (leading axis 1) in the model's namedParameters() order: copied into the slot. */
  weights: readonly Tensor[];
  hiddenDropout?: number;
  attentionDropout?: number;
  trialNumber?: number;
  /** The trial's sampled values (told to the other ranks of a data-parallel search). */
  params?: Record<string, unknown>;
  /** Called once the weights are copied (they may be released then). */
  release?: () => void;
}

export interface TrainOutput {
  /** This slot's steps (its trial's global_step). */
  globalStep: number;
  trainingLoss: number;
  metrics: Record<string, number>;
  /** Why this slot stopped before the end, if it did. */
  stoppedEarly: string | null;
  /** Set when this slot stopped because its loss or weights stopped being finite. */
  diverged: Divergence | null;
  /** HF's log_history of the slot's run. */
  logHistory: Record<string, number>[];
}

export type { Divergence } from './slot-run.js';

/** Thrown by Trainer.train when its one slot diverged: nothing after that step is worth keeping. */
export class TrainingDivergedError extends Error {
  override name = 'TrainingDivergedError';
  constructor(readonly divergence: Divergence) {
    super(`training diverged at step ${divergence.step}: ${divergence.what} is ${divergence.value} ` +
      '(try a smaller learning rate, or gradient clipping with max_grad_norm)');
  }
}

export interface TrainerState {
  /** Steps the group has taken (for a group whose slots were never refilled: every slot's step). */
  globalStep: number;
  epoch: number;
  /** Per slot, HF's log_history: every log and evaluation dict. */
  logHistory: Record<string, number>[][];
  bestMetric: (number | null)[];
  bestCheckpoint: (string | null)[];
}

const CHECKPOINT_PREFIX = 'checkpoint-';

/**
 * The default collation pads each batch to a multiple of 8 tokens (HF's pad_to_multiple_of): the attention mask
 * makes the extra positions change nothing, and 8 lengths instead of 64 let a step reuse its cached uniforms and
 * bind groups (full SST-2 on lavapipe: 122 → 7 new bind groups per step, 133 → 112 ms per step; issue 17).
 */
export const DEFAULT_PAD_TO_MULTIPLE_OF = 8;

/** Arguments that set shapes: every slot of a group must agree on these (a refilled slot's trial too). */
export const SLOT_SHARED_ARGUMENTS = ['perDeviceTrainBatchSize', 'perDeviceEvalBatchSize', 'maxSeqLength'] as const;

/**
 * Arguments that set a run's length and its log / evaluation / save schedule: slots may differ here (each keeps its
 * own schedule), except slots writing one shared checkpoint (the same output_dir), which must agree.
 */
const SHARED_CHECKPOINT_ARGUMENTS = ['numTrainEpochs', 'maxSteps', 'evalStrategy', 'evalSteps', 'loggingSteps', 'loggingStrategy', 'saveStrategy', 'saveSteps', 'groupByLength'] as const;

export class TrainingGroup {
  /** Slots T of the model now (a group shrinks when slots idle with no trial left: see `shrink`). */
  slots: number;
  /** Each slot's current run (a refilled slot gets a new one). */
  private runs: SlotRun[];
  /** Each slot's dropout rates (CPU copies of the (T) buffers, to rebuild them when the group shrinks). */
  private hiddenRates: number[];
  /** The slots whose runs end at this step, while onSlotEnd is told of them. */
  private ending: readonly number[] = [];
  /** Models for evaluating a subset of the slots, by slot count (evaluateSlots). */
  private readonly evalModels = new Map<number, TrainableModel>();
  private attentionRates: number[];
  private groupStep = 0;
  private dropout: SlotDropout;
  private lossSum: Tensor | null = null; // (T) training loss summed on the GPU since it was last read
  /** Records each step, replaying the first one of each batch shape (captured-training-step.ts). */
  readonly capturedStep = new CapturedTrainingStep();
  private readonly trainLengths: readonly number[];

  constructor(private readonly options: TrainingGroupOptions) {
    const { model, slotArgs, device } = options;
    this.slots = model.slots;
    if (slotArgs.length !== this.slots) throw new Error(`TrainingGroup: ${slotArgs.length} slot arguments for a model of ${this.slots} slots`);
    const sharedCheckpoint = this.slots > 1 && new Set(slotArgs.map((a) => a.outputDir)).size === 1 && slotArgs.some((a) => a.saveStrategy !== 'no');
    for (const key of [...SLOT_SHARED_ARGUMENTS, ...(sharedCheckpoint ? SHARED_CHECKPOINT_ARGUMENTS : [])]) {
      const values = new Set(slotArgs.map((a) => a[key]));
      if (values.size > 1) throw new Error(`TrainingGroup: fused slots must share ${key}${sharedCheckpoint ? ' (they save one checkpoint: one output_dir)' : ''}, got ${[...values].join(', ')}`);
    }
    this.trainLengths = (options.trainExamples ?? []).map((e) => e.inputIds.length);
    this.runs = slotArgs.map((a, slot) => this.newRun(a, options.trialNumbers?.[slot]));
    const config = model.config;
    this.hiddenRates = [...(options.hiddenDropout ?? new Array(this.slots).fill(config.hiddenDropoutProb))];
    this.attentionRates = [...(options.attentionDropout ?? new Array(this.slots).fill(config.attentionDropoutProb))];
    this.dropout = this.makeDropout(device);
  }

  private newRun(args: TrainingArguments, trialNumber?: number): SlotRun {
    const c = this.options.collective;
    return new SlotRun(args, this.trainLengths, trialNumber, c ? { rank: c.rank, worldSize: c.worldSize } : undefined);
  }

  /** Rank 0, or a process training alone: the one that evaluates, saves and decides. */
  private get leads(): boolean {
    return (this.options.collective?.rank ?? 0) === 0;
  }

  private makeDropout(device: Device): SlotDropout {
    return createSlotDropout(device, this.runs.map((r) => r.args.seed), this.hiddenRates, this.attentionRates);
  }

  /** HF's TrainerState, per slot where it differs. */
  get state(): TrainerState {
    return {
      globalStep: this.groupStep,
      epoch: this.runs[0].epoch,
      logHistory: this.runs.map((r) => r.logHistory),
      bestMetric: this.runs.map((r) => r.bestMetric),
      bestCheckpoint: this.runs.map((r) => r.bestCheckpoint),
    };
  }

  /** Steps per epoch and total steps of slot 0's run (of every slot's, when they share their arguments). */
  get stepsPerEpoch(): number {
    return this.runs[0].stepsPerEpoch;
  }

  get totalSteps(): number {
    return this.runs[0].totalSteps;
  }

  /** While onSlotEnd runs: every slot whose run ends at this step (their owner may evaluate them together). */
  slotsEnding(): readonly number[] {
    return this.ending;
  }

  /** Stops slot `slot` from learning further (pruned, early-stopped or diverged); the others go on. */
  stopSlot(slot: number, reason: string): void {
    this.runs[slot].stopped ??= reason;
  }

  isStopped(slot: number): boolean {
    return this.runs[slot].stopped !== null;
  }

  /**
   * Stops a slot whose loss or weights are no longer finite. The reason of a non-finite loss starts with
   * "loss is", which the sweep's runner recognises.
   */
  private markDiverged(slot: number, divergence: Divergence, reason: string): void {
    const run = this.runs[slot];
    if (run.stopped !== null) return;
    run.diverged = divergence;
    this.stopSlot(slot, reason);
  }

  learningRate(slot: number, step: number): number {
    return this.runs[slot].learningRate(step);
  }

  /**
   * Trains every slot to the end of its run. A slot whose run ends is handed to `onSlotEnd` at once, which may
   * refill it with a new trial; the group ends when no slot has a run left. Returns each slot's last output.
   */
  async train(options: { resumeFromCheckpoint?: string } = {}): Promise<TrainOutput[]> {
    const device = this.options.device;
    const train = this.options.trainExamples;
    if (!train || train.length === 0) throw new Error('train(): no training examples');
    if (options.resumeFromCheckpoint) await this.loadCheckpoint(options.resumeFromCheckpoint);
    this.lossSum ??= keep(zeros(device, [this.slots]));
    this.options.model.train();
    const outputs: (TrainOutput | null)[] = new Array(this.slots).fill(null);
    for (const run of this.runs) run.startStep = run.step;
    const collective = this.options.collective;
    if (collective) await broadcastTensors(device, collective, this.options.model.parameters());
    let lastYield = performance.now();
    // A run resumed stopped (or already at its end) ends before any step.
    await this.endRuns(outputs);
    while (this.runs.some((r) => r.training)) {
      const training = this.runs.map((r) => r.training);
      const batches = this.runs.map((r, slot) => (training[slot] ? this.collate(train, r.nextBatch()) : null));
      // A slot without a run computes on another slot's batch with learning rate 0: no new shapes, no effect.
      const filler = batches.find((b) => b !== null)!;
      const host = stackSlots(batches.map((b) => b ?? filler), this.options.padId ?? 0);
      const rates = this.runs.map((r, slot) => (training[slot] ? r.learningRate(r.step) : 0));
      // The model and optimizer of now: the group may have shrunk (shrinkIdle).
      const parts = { device, model: this.options.model, optimizer: this.options.optimizer, dropout: this.dropout };
      const steps = this.runs.map((r) => r.step);
      if (collective) await trainingStepDataParallel(parts, collective, host, steps, rates, this.lossSum);
      else this.capturedStep.record(parts, host, steps, rates, this.lossSum);
      this.groupStep++;
      const due = this.runs.map((r, slot) => (training[slot] ? r.stepTaken() : null));
      this.forEachTraining(training, (slot) => this.control(slot, (c) => c.onStepEnd?.(this.event(slot))));
      // Steps only record GPU work, so without logging the loop may not await for a long time; let signal
      // handlers and timers run (a callback can then stop training) about every 50 ms.
      if (performance.now() - lastYield > 50) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
      const slotsWhere = (what: keyof SlotDue) => due.flatMap((d, slot) => (d?.[what] ? [slot] : []));
      const logging = slotsWhere('log');
      if (logging.length > 0) await this.log(logging);
      const evaluating = slotsWhere('evaluate');
      if (evaluating.length > 0) await this.evaluateAndReport(evaluating);
      const saving = slotsWhere('save');
      if (saving.length > 0) await this.saveCheckpoint(saving);
      this.forEachTraining(training, (slot) => {
        if (due[slot]!.epochEnd) this.control(slot, (c) => c.onEpochEnd?.(this.event(slot)));
      });
      if (collective) await this.followDecisions(collective);
      await this.endRuns(outputs);
    }
    await device.sync();
    if (this.slots === 1 && this.options.slotArgs[0].loadBestModelAtEnd) await this.loadBestModel();
    return outputs.map((o) => o!);
  }

  /**
   * Ends every run that is over (last step taken, or stopped) and hands its output on; then refills each freed
   * slot when told to (all outputs first: a trial that has ended is settled before the search is asked for more).
   */
  private async endRuns(outputs: (TrainOutput | null)[]): Promise<void> {
    for (;;) {
      const over = this.runs.flatMap((run, slot) => (!run.ended && !run.training ? [slot] : []));
      if (over.length === 0) return;
      for (const slot of over) outputs[slot] = await this.endRun(slot);
      this.ending = over;
      try {
        for (const slot of over) await this.options.onSlotEnd?.(slot, outputs[slot]!);
      } finally {
        this.ending = [];
      }
      for (const slot of over) {
        const refill = await this.nextTrial(slot);
        if (!refill) continue;
        try {
          this.refillSlot(slot, refill);
        } finally {
          refill.release?.();
        }
      }
      await this.shrinkIdle(outputs);
    }
  }

  /** The next trial for a freed slot: rank 0 asks its owner and tells the other ranks, which build the same. */
  private async nextTrial(slot: number): Promise<SlotRefill | null> {
    const collective = this.options.collective;
    if (!collective) return (await this.options.nextTrial?.(slot)) ?? null;
    let refill = this.leads ? ((await this.options.nextTrial?.(slot)) ?? null) : null;
    const config = await collective.broadcastObject<SlotRefillConfig | null>(refill ? refillConfig(refill) : null, 0);
    if (!config) return null;
    if (!this.leads) {
      if (!this.options.buildRefill) throw new Error('TrainingGroup: rank 0 refilled a slot, but this rank has no buildRefill');
      refill = await this.options.buildRefill(config, slot);
    }
    await broadcastTensors(this.options.device, collective, refill!.weights);
    return refill;
  }

  /**
   * Ranks other than 0 take rank 0's stops (pruned, early-stopped, diverged, interrupted) after each step, and
   * drop their own: every rank then ends, refills and shrinks the same slots at the same step.
   */
  private async followDecisions(collective: Collective): Promise<void> {
    const decided = await collective.broadcastObject(this.leads ? this.runs.map((r) => ({ stopped: r.stopped, diverged: r.diverged })) : null, 0);
    if (this.leads) return;
    decided!.forEach(({ stopped, diverged }, slot) => {
      this.runs[slot].stopped = stopped;
      this.runs[slot].diverged = diverged;
    });
  }

  /**
   * When slots idle (their run ended, no trial came) while others still train, and the owner can rebuild the model
   * (`options.shrink`), the group goes on with the training slots only: an idle slot costs nothing from then on.
   */
  private async shrinkIdle(outputs: (TrainOutput | null)[]): Promise<void> {
    const keepSlots = this.runs.flatMap((run, slot) => (run.ended ? [] : [slot]));
    if (!this.options.shrink || keepSlots.length === 0 || keepSlots.length === this.slots) return;
    await this.readLossSum();
    const rebuilt = await this.options.shrink(keepSlots);
    if (!rebuilt) return;
    if (rebuilt.model.slots !== keepSlots.length) throw new Error(`TrainingGroup: the shrunk model has ${rebuilt.model.slots} slots, not ${keepSlots.length}`);
    this.options.model = rebuilt.model;
    this.options.optimizer = rebuilt.optimizer;
    this.slots = keepSlots.length;
    this.runs = keepSlots.map((slot) => this.runs[slot]);
    this.options.slotArgs = keepSlots.map((slot) => this.options.slotArgs[slot]);
    this.hiddenRates = keepSlots.map((slot) => this.hiddenRates[slot]);
    this.attentionRates = keepSlots.map((slot) => this.attentionRates[slot]);
    const kept = keepSlots.map((slot) => outputs[slot]);
    outputs.splice(0, outputs.length, ...kept);
    for (const t of Object.values(this.dropout)) t.release();
    this.dropout = this.makeDropout(this.options.device);
    this.lossSum?.release();
    this.lossSum = keep(zeros(this.options.device, [this.slots]));
    this.options.model.train();
  }

  /** HF's end of train(): the last partial log folded into the total, the run's metrics, onTrainEnd. */
  private async endRun(slot: number): Promise<TrainOutput> {
    const run = this.runs[slot];
    if (run.stepsSinceLog > 0) await this.log([slot], false);
    run.ended = true;
    const runtime = (performance.now() - run.startedAt) / 1000;
    const stepsRun = Math.max(1, run.step - run.startStep);
    const metrics = {
      train_runtime: round(runtime, 4),
      train_samples_per_second: round((stepsRun * run.args.perDeviceTrainBatchSize) / runtime, 3),
      train_steps_per_second: round(stepsRun / runtime, 3),
      total_flos: 0,
      train_loss: run.totalLoss / Math.max(1, run.step),
      epoch: run.epoch,
    };
    run.logHistory.push({ ...metrics, step: run.step });
    if (run.stopped === null) this.options.callbacks?.forEach((c) => c.onTrainEnd?.(this.event(slot)));
    return { globalStep: run.step, trainingLoss: metrics.train_loss, metrics, stoppedEarly: run.stopped, diverged: run.diverged, logHistory: run.logHistory };
  }

  /**
   * Starts a new trial in `slot`: its weights copied in, its optimizer state zeroed and step count reset, its
   * dropout seed and rates written, and a fresh run (step 0, its own schedule and data order). Only this slot's
   * parts of the buffers change.
   */
  refillSlot(slot: number, refill: SlotRefill): void {
    const { device, model, optimizer } = this.options;
    const args = refill.args;
    for (const key of SLOT_SHARED_ARGUMENTS) {
      if (args[key] !== this.runs[0].args[key]) throw new Error(`TrainingGroup.refillSlot: the new trial's ${key} (${args[key]}) differs from the group's (${this.runs[0].args[key]})`);
    }
    const named = model.namedParameters();
    if (refill.weights.length !== named.length) throw new Error(`TrainingGroup.refillSlot: ${refill.weights.length} weight tensors for a model of ${named.length}`);
    copySlots(device, named.map(([name], i) => [name, refill.weights[i]]), named, [0], [slot]);
    optimizer.resetSlot(slot, optimizerSettings(args));
    const config = model.config;
    device.write(this.dropout.seeds.buffer, Int32Array.of(args.seed), slot * 4);
    this.hiddenRates[slot] = refill.hiddenDropout ?? config.hiddenDropoutProb;
    this.attentionRates[slot] = refill.attentionDropout ?? config.attentionDropoutProb;
    device.write(this.dropout.hidden.buffer, Float32Array.of(this.hiddenRates[slot]), slot * 4);
    device.write(this.dropout.attention.buffer, Float32Array.of(this.attentionRates[slot]), slot * 4);
    // What the idle slot added to the GPU loss sum since it was last read belongs to no run.
    if (this.lossSum) device.write(this.lossSum.buffer, Float32Array.of(0), slot * 4);
    this.options.slotArgs[slot] = args;
    this.runs[slot] = this.newRun(args, refill.trialNumber);
    this.control(slot, (c) => c.onTrainBegin?.(this.event(slot)));
  }

  /** The slots' training losses since the last read, into each run's CPU sums; the GPU sum starts again from 0. */
  private async readLossSum(): Promise<void> {
    if (!this.lossSum) return;
    const losses = Float32Array.from(await this.lossSum.toArray());
    // Each rank's loss is over its shard: the mean over the ranks is the global batch's (HF logs the same).
    if (this.options.collective) await this.options.collective.allReduce(losses, 'avg');
    noGrad(() => {
      this.lossSum!.release();
      this.lossSum = keep(zeros(this.options.device, [this.slots]));
    });
    this.runs.forEach((run, slot) => {
      if (!run.ended) run.lossSinceLog += losses[slot];
    });
  }

  private async log(slots: readonly number[], report = true): Promise<void> {
    await this.readLossSum();
    const norms = await this.options.optimizer.readGradNorms();
    for (const slot of slots) {
      const run = this.runs[slot];
      if (run.stepsSinceLog === 0) continue;
      const loss = run.lossSinceLog / run.stepsSinceLog;
      run.totalLoss += run.lossSinceLog;
      run.lossSinceLog = 0;
      run.stepsSinceLog = 0;
      const step = run.step;
      if (!Number.isFinite(loss)) this.markDiverged(slot, { step, what: 'loss', value: loss }, `loss is ${loss} at step ${step}`);
      if (!report) continue;
      const logs = {
        loss: round(loss, 6),
        grad_norm: norms[slot],
        learning_rate: run.learningRate(step - 1),
        epoch: round(run.epoch, 4),
        step,
      };
      run.logHistory.push(logs);
      this.control(slot, (c) => c.onLog?.(this.event(slot), logs));
    }
  }

  private async evaluateAndReport(slots: readonly number[]): Promise<void> {
    if (!this.options.evalExamples) return;
    const collective = this.options.collective;
    // Rank 0 evaluates the whole set and tells the others, so every rank logs and decides on the same metrics.
    const due = collective
      ? await collective.broadcastObject(this.leads ? await this.evaluateSlots(slots) : null, 0)
      : await this.evaluateSlots(slots);
    if (!due) throw new Error('TrainingGroup: rank 0 sent no evaluation');
    for (const [i, slot] of slots.entries()) {
      const run = this.runs[slot];
      const metrics: Record<string, number> = { ...due[i], epoch: round(run.epoch, 4) };
      const step = run.step;
      run.logHistory.push({ ...metrics, step });
      this.control(slot, (c) => c.onEvaluate?.(this.event(slot), metrics));
      // NaN logits mean NaN weights, even if the training losses read so far were finite.
      const loss = metrics.eval_loss;
      if (!Number.isFinite(loss)) this.markDiverged(slot, { step, what: 'eval_loss', value: loss }, `loss is ${loss} at step ${step} (evaluation)`);
    }
  }

  /** Evaluation metrics per slot, HF keys: eval_loss, eval_<metric>, eval_runtime, eval_samples_per_second, … */
  async evaluate(examples = this.options.evalExamples): Promise<Record<string, number>[]> {
    return this.evaluateWith(this.options.model, examples);
  }

  /**
   * Evaluation metrics of `slots` only (in that order): in a model of their own when the group can build one
   * (`evalModel`), their weights copied in, so the cost is theirs and not the whole group's.
   */
  async evaluateSlots(slots: readonly number[], examples = this.options.evalExamples): Promise<Record<string, number>[]> {
    if (!this.options.evalModel || slots.length === this.slots) {
      const all = await this.evaluate(examples);
      return slots.map((slot) => all[slot]);
    }
    let model = this.evalModels.get(slots.length);
    // Its weights are copied in before every use: built without drawing any.
    if (!model) this.evalModels.set(slots.length, (model = withPlaceholderWeights(() => this.options.evalModel!(slots.length))));
    copySlots(this.options.device, this.options.model.namedParameters(), model.namedParameters(), slots, slots.map((_, j) => j));
    return this.evaluateWith(model, examples);
  }

  private async evaluateWith(model: TrainableModel, examples: readonly EncodedExample[] | undefined): Promise<Record<string, number>[]> {
    if (!examples || examples.length === 0) throw new Error('evaluate(): no evaluation examples');
    const started = performance.now();
    const results = await this.predictWith(model, examples);
    const runtime = (performance.now() - started) / 1000;
    const steps = Math.ceil(examples.length / this.options.slotArgs[0].perDeviceEvalBatchSize);
    return results.map((result) => {
      const metrics: Record<string, number> = { eval_loss: result.loss };
      for (const [k, v] of Object.entries(result.metrics)) metrics[k.startsWith('eval_') ? k : `eval_${k}`] = v;
      metrics.eval_runtime = round(runtime, 4);
      metrics.eval_samples_per_second = round(examples.length / runtime, 3);
      metrics.eval_steps_per_second = round(steps / runtime, 3);
      metrics.epoch = round(this.state.epoch, 4);
      return metrics;
    });
  }

  /** Logits, predicted classes, mean loss and metrics of every slot on `examples` (all slots see the same data). */
  async predict(examples: readonly EncodedExample[]): Promise<{ logits: Float32Array; predictions: Int32Array; loss: number; metrics: Record<string, number> }[]> {
    return this.predictWith(this.options.model, examples);
  }

  private async predictWith(model: TrainableModel, examples: readonly EncodedExample[]): Promise<{ logits: Float32Array; predictions: Int32Array; loss: number; metrics: Record<string, number> }[]> {
    const device = this.options.device;
    const slots = model.slots;
    const numLabels = model.config.numLabels;
    const n = examples.length;
    const logits = Array.from({ length: slots }, () => new Float32Array(n * numLabels));
    const lossSums = new Float64Array(slots);
    const padId = this.options.padId ?? 0;
    const context = new ForwardContext(slots, false, null);
    model.eval();
    // Batches are recorded, and their read back started, up to READS_IN_FLIGHT ahead of the one awaited: the device
    // does not wait for the host to record the next batch, nor the host for each read.
    const reads: { indices: number[]; read: Promise<[Float32Array | Int32Array, Float32Array | Int32Array]> }[] = [];
    const settleOldest = async () => {
      const { indices, read } = reads.shift()!;
      const [batchLogits, losses] = await read;
      for (let t = 0; t < slots; t++) {
        // Row p of the batch is example indices[p] (batches group examples by length).
        indices.forEach((example, p) => {
          const from = (t * indices.length + p) * numLabels;
          logits[t].set(batchLogits.subarray(from, from + numLabels), example * numLabels);
        });
        lossSums[t] += losses[t] * indices.length; // HF: per-sample mean over the whole set
      }
    };
    try {
      const lengths = examples.map((e) => e.inputIds.length);
      for (const indices of evaluationBatches(lengths, this.options.slotArgs[0].perDeviceEvalBatchSize)) {
        const batch = this.collate(examples, indices);
        const host = stackSlots(new Array(slots).fill(batch), padId);
        const input = uploadBatch(device, host, model.config.maxPositionEmbeddings, layoutFor(model, host));
        const [slotLogits, slotLoss] = noGrad(() => tidy(() => {
          const out = model.forward(input, context); // (T, B, C)
          return [out, model.loss(out, input.labels!)] as const;
        }));
        // The copies out are recorded now, so the tensors can go back to the pool at once.
        const read = Promise.all([slotLogits.toArray(), slotLoss.toArray()]);
        read.catch(() => undefined); // awaited in settleOldest (a failure is thrown there, once)
        reads.push({ indices, read });
        slotLogits.release();
        slotLoss.release();
        releaseInput(input);
        if (reads.length > READS_IN_FLIGHT) await settleOldest();
      }
      while (reads.length > 0) await settleOldest();
    } finally {
      model.train();
    }
    const labelIds = Int32Array.from(examples, (e) => e.label);
    return logits.map((slotLogits, t) => {
      const predictions = argmaxRows(slotLogits, numLabels);
      const metrics = this.options.computeMetrics?.({ predictions, labelIds, logits: slotLogits, numLabels }) ?? {};
      return { logits: slotLogits, predictions, loss: lossSums[t] / n, metrics };
    });
  }

  private collate(examples: readonly EncodedExample[], indices: readonly number[]): Batch {
    const chosen = indices.map((i) => examples[i]);
    const padding = { padToMultipleOf: DEFAULT_PAD_TO_MULTIPLE_OF, maxLength: this.options.model.config.maxPositionEmbeddings };
    return this.options.dataCollator?.(chosen) ?? collateEncoded(chosen, this.options.padId ?? 0, padding);
  }

  private event(slot: number): TrainerEvent {
    const run = this.runs[slot];
    return { slot, globalStep: run.step, maxSteps: run.totalSteps, epoch: run.epoch, ...(run.trialNumber !== undefined ? { trialNumber: run.trialNumber } : {}) };
  }

  private control(slot: number, call: (callback: TrainerCallback) => TrainerControl | void): void {
    for (const callback of this.options.callbacks ?? []) {
      if (call(callback)?.shouldTrainingStop) this.stopSlot(slot, 'stopped by a callback');
    }
  }

  /** Calls `fn` for each slot that took this step and has not stopped since. */
  private forEachTraining(training: readonly boolean[], fn: (slot: number) => void): void {
    for (let slot = 0; slot < this.slots; slot++) if (training[slot] && this.runs[slot].stopped === null) fn(slot);
  }

  // ---- checkpoints -------------------------------------------------------------------------------------------

  /**
   * Writes `outputDir/checkpoint-<step>/`: model.safetensors + config.json, optimizer.safetensors and
   * trainer_state.json, each written atomically, then removes the oldest checkpoints beyond saveTotalLimit
   * (never the best one). Writes nothing, and returns null, when every slot has diverged: a checkpoint of NaN
   * weights is worth nothing. A slot still training whose weights are not finite is marked diverged first.
   * When the slots have different output directories or run a search's trials (HF's `output_dir/run-{trial number}`),
   * each slot still training (of `slots`, default all) writes its own one-slot checkpoint into its own directory at
   * its own step and rotates only there, so trials never remove each other's checkpoints; the path of the first is
   * returned.
   */
  async saveCheckpoint(slots: readonly number[] = this.runs.map((_, slot) => slot)): Promise<string | null> {
    const { model, optimizer } = this.options;
    requireWholeVocabulary(model);
    const weights = await readTensors(model.namedParameters());
    const live = (slot: number) => this.runs[slot].stopped === null && !this.runs[slot].ended;
    for (const slot of slots.filter(live)) {
      const bad = nonFiniteInSlot(weights, this.slots, slot);
      const step = this.runs[slot].step;
      if (bad) this.markDiverged(slot, { step, what: `weight ${JSON.stringify(bad.name)}`, value: bad.value }, `weights are not finite at step ${step} (${bad.name} holds ${bad.value})`);
    }
    if (this.runs.every((r) => r.diverged !== null)) return null;
    if (!this.leads) return null; // rank 0 writes; every rank holds the same weights
    const optimizerState = await readStateArrays(this.options.device, [...optimizer.stateArrays()]);
    // A search's trials each write their own checkpoints (also the last one left in a shrunk group).
    const perTrial = new Set(this.options.slotArgs.map((a) => a.outputDir)).size > 1 || this.runs.some((r) => r.trialNumber !== undefined);
    if (perTrial) return this.saveSlotCheckpoints(slots.filter(live), weights, optimizerState);
    const args = this.options.slotArgs[0];
    const dir = join(args.outputDir, `${CHECKPOINT_PREFIX}${this.groupStep}`);
    await ensureDirectory(dir);
    await writeSafetensors(join(dir, 'model.safetensors'), weights, modelMetadata(model));
    await writeSafetensors(join(dir, 'optimizer.safetensors'), optimizerState, { step: String(optimizer.stepCount) });
    await writeFile(join(dir, 'config.json'), JSON.stringify(model.config, null, 2));
    this.runs.forEach((_, slot) => this.updateBestCheckpoint(dir, slot));
    // `stopped` too, so that a resumed group keeps its stopped (and diverged) slots stopped.
    const state = {
      ...this.state,
      totalLoss: this.runs.map((r) => r.totalLoss),
      stopped: this.runs.map((r) => r.stopped),
      diverged: this.runs.map((r) => r.diverged),
    };
    await writeFile(join(dir, 'trainer_state.json'), JSON.stringify(state, null, 2));
    this.runs.forEach((_, slot) => {
      if (live(slot)) this.options.callbacks?.forEach((c) => c.onSave?.(this.event(slot), dir));
    });
    await this.rotateCheckpoints(args.outputDir, args.saveTotalLimit, new Set(this.runs.flatMap((r) => (r.bestCheckpoint ? [r.bestCheckpoint] : []))));
    return dir;
  }

  /** One one-slot checkpoint per slot given, in that slot's output directory at its step (loadable by a Trainer). */
  private async saveSlotCheckpoints(slots: readonly number[], weights: Map<string, TensorData>, optimizerState: Map<string, TensorData>): Promise<string | null> {
    const { model, optimizer } = this.options;
    const written: string[] = [];
    for (const slot of slots) {
      const run = this.runs[slot];
      const outputDir = run.args.outputDir;
      const dir = join(outputDir, `${CHECKPOINT_PREFIX}${run.step}`);
      await ensureDirectory(dir);
      await writeSafetensors(join(dir, 'model.safetensors'), slotSlice(weights, this.slots, slot), { ...modelMetadata(model), slots: '1' });
      await writeSafetensors(join(dir, 'optimizer.safetensors'), slotSlice(optimizerState, this.slots, slot), { step: String(optimizer.slotSteps[slot]) });
      await writeFile(join(dir, 'config.json'), JSON.stringify(model.config, null, 2));
      this.updateBestCheckpoint(dir, slot);
      const state = {
        globalStep: run.step,
        epoch: run.epoch,
        logHistory: [run.logHistory],
        bestMetric: [run.bestMetric],
        bestCheckpoint: [run.bestCheckpoint],
        totalLoss: [run.totalLoss],
        stopped: [run.stopped],
        diverged: [run.diverged],
      };
      await writeFile(join(dir, 'trainer_state.json'), JSON.stringify(state, null, 2));
      this.options.callbacks?.forEach((c) => c.onSave?.(this.event(slot), dir));
      await this.rotateCheckpoints(outputDir, run.args.saveTotalLimit, new Set(run.bestCheckpoint ? [run.bestCheckpoint] : []));
      written.push(dir);
    }
    return written[0] ?? null;
  }

  /** Records `dir` as the best checkpoint of `slot` if its best-model metric improved at this step. */
  private updateBestCheckpoint(dir: string, slot: number): void {
    const run = this.runs[slot];
    const { metric, greaterIsBetter } = bestModelMetric(run.args);
    const last = [...run.logHistory].reverse().find((entry) => entry[metric] !== undefined);
    if (!last || last.step !== run.step) return;
    const best = run.bestMetric;
    const value = last[metric];
    if (best === null || (greaterIsBetter ? value > best : value < best)) {
      run.bestMetric = value;
      run.bestCheckpoint = dir;
    }
  }

  private async rotateCheckpoints(outputDir: string, limit: number | null, keepDirs: ReadonlySet<string>): Promise<void> {
    if (limit === null) return;
    const steps = (await readdir(outputDir))
      .filter((name) => name.startsWith(CHECKPOINT_PREFIX))
      .map((name) => Number(name.slice(CHECKPOINT_PREFIX.length)))
      .filter(Number.isInteger)
      .sort((a, b) => a - b);
    let excess = steps.length - limit;
    for (const step of steps) {
      if (excess <= 0) break;
      const dir = join(outputDir, `${CHECKPOINT_PREFIX}${step}`);
      if (keepDirs.has(dir)) continue;
      await rm(dir, { recursive: true, force: true });
      excess--;
    }
  }

  /**
   * Restores model, optimizer and trainer state; training then continues the same loss curve. Everything is
   * read and checked before anything is loaded; non-finite weights are refused, except in slots the checkpoint
   * records as diverged (those stay stopped).
   */
  async loadCheckpoint(dir: string): Promise<void> {
    const { model, optimizer, device } = this.options;
    const statePath = join(dir, 'trainer_state.json');
    let text: string;
    try {
      text = await readFile(statePath, 'utf8');
    } catch (error) {
      throw new Error(`${statePath}: cannot read: ${describeError(error)}`, { cause: error });
    }
    let state: TrainerState & { totalLoss: number[]; stopped?: (string | null)[]; diverged?: (Divergence | null)[] };
    try {
      state = JSON.parse(text);
    } catch (error) {
      throw new Error(`${statePath}: not valid JSON (${(error as Error).message})`, { cause: error });
    }
    if (!state || !Number.isInteger(state.globalStep) || state.logHistory?.length !== this.slots || state.totalLoss?.length !== this.slots) {
      throw new Error(`${statePath}: not a checkpoint of this ${this.slots}-slot group`);
    }
    const skipSlots = new Set(state.diverged?.flatMap((d, slot) => (d ? [slot] : [])) ?? []);
    await loadModelWeights(model, join(dir, 'model.safetensors'), device, { skipSlots });
    const optimizerPath = join(dir, 'optimizer.safetensors');
    const saved = await readSafetensors(optimizerPath);
    const stepCount = Number(saved.metadata.get('step'));
    if (!Number.isInteger(stepCount)) throw new Error(`${optimizerPath}: metadata 'step' is missing or not an integer`);
    const stateArrays = [...optimizer.stateArrays()];
    validateAgainst(saved.tensors, new Map(stateArrays.map(([name, a]) => [name, { shape: [...a.shape], dtype: 'F32' as const }])), optimizerPath);
    requireFinite(saved.tensors, this.slots, skipSlots, optimizerPath);
    optimizer.loadState(new Map([...saved.tensors].map(([name, t]) => [name, t.data as Float32Array])), stepCount);
    this.groupStep = state.globalStep;
    this.runs.forEach((run, slot) => {
      run.step = state.globalStep;
      run.epoch = state.epoch;
      run.logHistory.splice(0, run.logHistory.length, ...state.logHistory[slot]);
      run.bestMetric = state.bestMetric[slot];
      run.bestCheckpoint = state.bestCheckpoint[slot];
      run.totalLoss = state.totalLoss[slot];
      run.stopped = state.stopped?.[slot] ?? null;
      run.diverged = state.diverged?.[slot] ?? null;
    });
  }

  private async loadBestModel(): Promise<void> {
    const best = this.runs[0].bestCheckpoint;
    if (this.slots === 1 && best) await loadModelWeights(this.options.model, join(best, 'model.safetensors'), this.options.device);
  }

  release(): void {
    this.capturedStep.release();
    for (const model of this.evalModels.values()) model.release();
    this.evalModels.clear();
    this.lossSum?.release();
    for (const t of Object.values(this.dropout)) t.release();
  }
}

async function readTensors(named: [string, Tensor][]): Promise<Map<string, TensorData>> {
  const out = new Map<string, TensorData>();
  for (const [name, t] of named) {
    out.set(name, { dtype: t.dtype === 'f32' ? 'F32' : 'I32', shape: [...t.shape], data: await t.toArray() });
  }
  return out;
}

/** Optimizer state arrays (f32, each a range of its buffer), read as readTensors reads tensors. */
async function readStateArrays(device: Device, named: [string, StateArray][]): Promise<Map<string, TensorData>> {
  const out = new Map<string, TensorData>();
  for (const [name, a] of named) {
    const size = a.shape.reduce((p, d) => p * d, 1);
    out.set(name, { dtype: 'F32', shape: [...a.shape], data: new Float32Array(await device.read(a.buffer, size * 4, a.byteOffset)) });
  }
  return out;
}

/** A checkpoint holds the model's whole vocabulary; groups that keep part of it (fused-runner.ts) save none. */
function requireWholeVocabulary(model: TrainableModel): void {
  if (model.keptVocabulary) throw new Error(`checkpoint: this model keeps ${model.keptVocabulary.length} rows of its token embedding (keepVocabulary), so it cannot be saved or loaded as a whole model`);
}

function modelMetadata(model: TrainableModel): Record<string, string> {
  return { format: 'webtrainer', slots: String(model.slots) };
}

/** Writes a model's parameters (every slot) as safetensors, atomically; refuses NaN or infinite weights. */
export async function saveModelWeights(model: TrainableModel, path: string): Promise<void> {
  requireWholeVocabulary(model);
  const weights = await readTensors(model.namedParameters());
  requireFinite(weights, model.slots, new Set(), path, 'not saved');
  await writeSafetensors(path, weights, modelMetadata(model));
}

/**
 * Loads weights into a model, checking every name, shape and dtype against it, and that every weight is finite
 * (except in `skipSlots`), before writing any.
 */
export async function loadModelWeights(model: TrainableModel, path: string, device: Device, options: { skipSlots?: ReadonlySet<number> } = {}): Promise<void> {
  requireWholeVocabulary(model);
  const content = await readSafetensors(path);
  const named = model.namedParameters();
  validateAgainst(content.tensors, new Map(named.map(([name, t]) => [name, { shape: [...t.shape], dtype: t.dtype === 'f32' ? 'F32' as const : 'I32' as const }])), path);
  requireFinite(content.tensors, model.slots, options.skipSlots ?? new Set(), path);
  for (const [name, t] of named) device.write(t.buffer, content.tensors.get(name)!.data);
}

/** Slot `slot`'s part of slot-major tensors (leading axis T), as one-slot tensors (leading axis 1). */
function slotSlice(tensors: ReadonlyMap<string, TensorData>, slots: number, slot: number): Map<string, TensorData> {
  const out = new Map<string, TensorData>();
  for (const [name, t] of tensors) {
    if (t.shape[0] !== slots) throw new Error(`checkpoint: tensor ${JSON.stringify(name)} has shape [${t.shape.join(', ')}], not a leading slot axis of ${slots}`);
    const per = t.data.length / slots;
    out.set(name, { ...t, shape: [1, ...t.shape.slice(1)], data: t.data.slice(slot * per, (slot + 1) * per) });
  }
  return out;
}

/**
 * The first non-finite value of one slot's part of the tensors (tensors are slot-major: slot t owns the t-th
 * of `slots` equal runs), or null.
 */
function nonFiniteInSlot(tensors: ReadonlyMap<string, TensorData>, slots: number, slot: number): { name: string; index: number; value: number } | null {
  for (const [name, t] of tensors) {
    const per = t.data.length / slots;
    const bad = firstNonFinite(t.data, slot * per, (slot + 1) * per);
    if (bad) return { name, ...bad };
  }
  return null;
}

/** Throws, naming the file, tensor, slot and value, if any slot outside `skipSlots` holds a NaN or infinity. */
function requireFinite(tensors: ReadonlyMap<string, TensorData>, slots: number, skipSlots: ReadonlySet<number>, path: string, verb = 'refused'): void {
  for (let slot = 0; slot < slots; slot++) {
    if (skipSlots.has(slot)) continue;
    const bad = nonFiniteInSlot(tensors, slots, slot);
    if (!bad) continue;
    const where = slots > 1 ? ` (slot ${slot})` : '';
    throw new Error(`${path}: ${verb}: tensor ${JSON.stringify(bad.name)}${where} holds ${bad.value} at index ${bad.index - slot * (tensors.get(bad.name)!.data.length / slots)}; the weights are not finite (a diverged run)`);
  }
}

export function argmaxRows(values: Float32Array, columns: number): Int32Array {
  const rows = values.length / columns;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < columns; c++) if (values[r * columns + c] > values[r * columns + best]) best = c;
    out[r] = best;
  }
  return out;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}


function refillConfig(refill: SlotRefill): SlotRefillConfig {
  const { args, hiddenDropout, attentionDropout, trialNumber, params } = refill;
  return { args, hiddenDropout, attentionDropout, trialNumber, params };
}
