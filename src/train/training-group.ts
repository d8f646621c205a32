/**
 * The training loop, for T trial slots trained together in one set of kernels (ARCHITECTURE.md: plain training
 * is a group of one). Each slot has its own TrainingArguments (learning rate, schedule, weight decay, betas,
 * clipping, seed: its initialisation and data order); the arguments that set shapes (batch size, steps, sequence
 * length) must agree. A step uploads one (T, B, S) batch and reads nothing back; losses are summed on the GPU and
 * read only at logging steps, evaluations read logits.
 */
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ForwardContext, type SlotDropout } from '../nn/forward-context.js';
import { releaseInput, uploadBatch, type HostBatch } from '../nn/model-input.js';
import { recordTrainingStep } from './training-step.js';
import type { Optimizer } from '../nn/optimizer.js';
import { scheduleFactor, warmupStepsFor } from '../nn/schedules.js';
import type { TrainableModel } from '../nn/trainable-model.js';
import { noGrad } from '../tensor/autograd.js';
import { tensor, zeros } from '../tensor/create.js';
import type { Device } from '../gpu/device.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { describeError, ensureDirectory } from './checkpoint/files.js';
import { firstNonFinite, readSafetensors, validateAgainst, writeSafetensors, type TensorData } from './checkpoint/safetensors.js';
import { collateEncoded, type Batch, type EncodedExample } from './data/collator.js';
import { epochBatches, evaluationBatches, lengthGroupedEpochBatches, stackSlots } from './slot-batches.js';
import type { TrainerCallback, TrainerControl } from './trainer-callback.js';
import { bestModelMetric, type TrainingArguments } from './training-arguments.js';

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
}

export interface TrainOutput {
  globalStep: number;
  trainingLoss: number;
  metrics: Record<string, number>;
  /** Why this slot stopped before the end, if it did. */
  stoppedEarly: string | null;
  /** Set when this slot stopped because its loss or weights stopped being finite. */
  diverged: Divergence | null;
}

/** Where a slot's training blew up: the step, and what was not finite ('loss', 'eval_loss', or a weight). */
export interface Divergence {
  step: number;
  what: string;
  value: number;
}

/** Thrown by Trainer.train when its one slot diverged: nothing after that step is worth keeping. */
export class TrainingDivergedError extends Error {
  override name = 'TrainingDivergedError';
  constructor(readonly divergence: Divergence) {
    super(`training diverged at step ${divergence.step}: ${divergence.what} is ${divergence.value} ` +
      '(try a smaller learning rate, or gradient clipping with max_grad_norm)');
  }
}

export interface TrainerState {
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

/** Arguments that set shapes or the length of training: every slot of a group must agree on these. */
export const SLOT_SHARED_ARGUMENTS = ['perDeviceTrainBatchSize', 'perDeviceEvalBatchSize', 'numTrainEpochs', 'maxSteps', 'maxSeqLength', 'evalStrategy', 'evalSteps', 'loggingSteps', 'loggingStrategy', 'saveStrategy', 'saveSteps', 'groupByLength'] as const;

export class TrainingGroup {
  readonly slots: number;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  readonly epochs: number;
  state: TrainerState;
  private readonly args: TrainingArguments;
  private readonly stopped: (string | null)[];
  private readonly diverged: (Divergence | null)[];
  private readonly dropout: SlotDropout;
  private lossSum: Tensor | null = null; // (T) training loss summed since the last log
  private readonly totalLoss: number[];
  private stepsSinceLog = 0;

  constructor(private readonly options: TrainingGroupOptions) {
    const { model, slotArgs, device } = options;
    this.slots = model.slots;
    if (slotArgs.length !== this.slots) throw new Error(`TrainingGroup: ${slotArgs.length} slot arguments for a model of ${this.slots} slots`);
    this.args = slotArgs[0];
    for (const key of SLOT_SHARED_ARGUMENTS) {
      const values = new Set(slotArgs.map((a) => a[key]));
      if (values.size > 1) throw new Error(`TrainingGroup: fused slots must share ${key}, got ${[...values].join(', ')}`);
    }
    const trainCount = options.trainExamples?.length ?? 0;
    this.stepsPerEpoch = Math.max(1, Math.ceil(trainCount / this.args.perDeviceTrainBatchSize));
    // HF: max_steps > 0 wins; otherwise ceil(epochs · steps per epoch).
    this.totalSteps = this.args.maxSteps > 0 ? this.args.maxSteps : Math.ceil(this.args.numTrainEpochs * this.stepsPerEpoch);
    this.epochs = Math.ceil(this.totalSteps / this.stepsPerEpoch);
    this.stopped = new Array<string | null>(this.slots).fill(null);
    this.diverged = new Array<Divergence | null>(this.slots).fill(null);
    this.totalLoss = new Array<number>(this.slots).fill(0);
    this.state = {
      globalStep: 0,
      epoch: 0,
      logHistory: Array.from({ length: this.slots }, () => []),
      bestMetric: new Array(this.slots).fill(null),
      bestCheckpoint: new Array(this.slots).fill(null),
    };
    const config = model.config;
    const perSlot = (values: readonly number[] | undefined, fallback: number) => Float32Array.from(values ?? new Array(this.slots).fill(fallback));
    this.dropout = {
      seeds: keep(tensor(device, Int32Array.from(slotArgs.map((a) => a.seed)), [this.slots])),
      hidden: keep(tensor(device, perSlot(options.hiddenDropout, config.hiddenDropoutProb), [this.slots])),
      attention: keep(tensor(device, perSlot(options.attentionDropout, config.attentionDropoutProb), [this.slots])),
      callBase: keep(zeros(device, [2], { dtype: 'i32' })),
    };
  }

  /** Stops slot `slot` from learning further (pruned, early-stopped or diverged); the others go on. */
  stopSlot(slot: number, reason: string): void {
    this.stopped[slot] ??= reason;
  }

  isStopped(slot: number): boolean {
    return this.stopped[slot] !== null;
  }

  /**
   * Stops a slot whose loss or weights are no longer finite. The reason of a non-finite loss starts with
   * "loss is", which the sweep's runner recognises.
   */
  private markDiverged(slot: number, divergence: Divergence, reason: string): void {
    if (this.stopped[slot] !== null) return;
    this.diverged[slot] = divergence;
    this.stopSlot(slot, reason);
  }

  learningRate(slot: number, step: number): number {
    const a = this.options.slotArgs[slot];
    const warmup = warmupStepsFor(this.totalSteps, a.warmupSteps, a.warmupRatio);
    return a.learningRate * scheduleFactor(a.lrSchedulerType, step, warmup, this.totalSteps);
  }

  async train(options: { resumeFromCheckpoint?: string } = {}): Promise<TrainOutput[]> {
    const { device, model } = this.options;
    const train = this.options.trainExamples;
    if (!train || train.length === 0) throw new Error('train(): no training examples');
    if (options.resumeFromCheckpoint) await this.loadCheckpoint(options.resumeFromCheckpoint);
    const started = performance.now();
    const startStep = this.state.globalStep;
    this.lossSum ??= keep(zeros(device, [this.slots]));
    model.train();
    const padId = this.options.padId ?? 0;
    let step = this.state.globalStep;
    let lastYield = performance.now();
    for (let epoch = Math.floor(step / this.stepsPerEpoch); epoch < this.epochs && step < this.totalSteps; epoch++) {
      const batchSize = this.args.perDeviceTrainBatchSize;
      const lengths = this.args.groupByLength ? train.map((e) => e.inputIds.length) : null;
      const orders = this.options.slotArgs.map((a) =>
        lengths ? lengthGroupedEpochBatches(lengths, batchSize, a.seed, epoch) : epochBatches(train.length, batchSize, a.seed, epoch),
      );
      for (let b = step % this.stepsPerEpoch; b < this.stepsPerEpoch && step < this.totalSteps; b++) {
        if (this.stopped.every((s) => s !== null)) break;
        const host = stackSlots(orders.map((order) => this.collate(train, order[b])), padId);
        this.trainStep(host, step);
        step++;
        this.state.globalStep = step;
        this.state.epoch = epoch + (b + 1) / this.stepsPerEpoch;
        this.forEachSlot((slot) => this.control(slot, (c) => c.onStepEnd?.(this.event(slot))));
        // Steps only record GPU work, so without logging the loop may not await for a long time; let signal
        // handlers and timers run (a callback can then stop training) about every 50 ms.
        if (performance.now() - lastYield > 50) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          lastYield = performance.now();
        }
        const a = this.args;
        if (a.loggingStrategy === 'steps' && step % a.loggingSteps === 0) await this.log();
        if (a.evalStrategy === 'steps' && step % (a.evalSteps ?? a.loggingSteps) === 0) await this.evaluateAndReport();
        if (a.saveStrategy === 'steps' && step % a.saveSteps === 0) await this.saveCheckpoint();
      }
      if (step % this.stepsPerEpoch === 0 || step >= this.totalSteps) {
        this.state.epoch = Math.min(epoch + 1, this.totalSteps / this.stepsPerEpoch);
        if (this.args.loggingStrategy === 'epoch') await this.log();
        if (this.args.evalStrategy === 'epoch') await this.evaluateAndReport();
        if (this.args.saveStrategy === 'epoch') await this.saveCheckpoint();
        this.forEachSlot((slot) => this.control(slot, (c) => c.onEpochEnd?.(this.event(slot))));
      }
      if (this.stopped.every((s) => s !== null)) break;
    }
    if (this.stepsSinceLog > 0) await this.log(false);
    await device.sync();
    const runtime = (performance.now() - started) / 1000;
    const stepsRun = Math.max(1, step - startStep);
    if (this.args.loadBestModelAtEnd) await this.loadBestModel();
    const outputs = Array.from({ length: this.slots }, (_, slot): TrainOutput => {
      const metrics = {
        train_runtime: round(runtime, 4),
        train_samples_per_second: round((stepsRun * this.args.perDeviceTrainBatchSize) / runtime, 3),
        train_steps_per_second: round(stepsRun / runtime, 3),
        total_flos: 0,
        train_loss: this.totalLoss[slot] / Math.max(1, step),
        epoch: this.state.epoch,
      };
      this.state.logHistory[slot].push({ ...metrics, step });
      return { globalStep: step, trainingLoss: metrics.train_loss, metrics, stoppedEarly: this.stopped[slot], diverged: this.diverged[slot] };
    });
    this.forEachSlot((slot) => this.options.callbacks?.forEach((c) => c.onTrainEnd?.(this.event(slot))));
    return outputs;
  }

  /** One optimizer step: forward, loss, backward, clip + AdamW. Records GPU work only. */
  private trainStep(host: HostBatch, step: number): void {
    const { device, model, optimizer } = this.options;
    const rates = Array.from({ length: this.slots }, (_, t) => (this.stopped[t] ? 0 : this.learningRate(t, step)));
    recordTrainingStep({ device, model, optimizer, dropout: this.dropout }, host, step, rates, this.lossSum!);
    this.stepsSinceLog++;
  }

  private async log(report = true): Promise<void> {
    if (this.stepsSinceLog === 0 || !this.lossSum) return;
    const losses = await this.lossSum.toArray();
    const norms = await this.options.optimizer.readGradNorms();
    noGrad(() => {
      this.lossSum!.release();
      this.lossSum = keep(zeros(this.options.device, [this.slots]));
    });
    const steps = this.stepsSinceLog;
    this.stepsSinceLog = 0;
    this.forEachSlot((slot) => {
      this.totalLoss[slot] += losses[slot];
      const loss = losses[slot] / steps;
      const step = this.state.globalStep;
      if (!Number.isFinite(loss)) this.markDiverged(slot, { step, what: 'loss', value: loss }, `loss is ${loss} at step ${step}`);
      if (!report) return;
      const logs = {
        loss: round(loss, 6),
        grad_norm: norms[slot],
        learning_rate: this.learningRate(slot, this.state.globalStep - 1),
        epoch: round(this.state.epoch, 4),
        step: this.state.globalStep,
      };
      this.state.logHistory[slot].push(logs);
      this.control(slot, (c) => c.onLog?.(this.event(slot), logs));
    }, true);
  }

  private async evaluateAndReport(): Promise<void> {
    if (!this.options.evalExamples) return;
    const all = await this.evaluate();
    this.forEachSlot((slot) => {
      const metrics = all[slot];
      const step = this.state.globalStep;
      this.state.logHistory[slot].push({ ...metrics, step });
      this.control(slot, (c) => c.onEvaluate?.(this.event(slot), metrics));
      // NaN logits mean NaN weights, even if the training losses read so far were finite.
      const loss = metrics.eval_loss;
      if (!Number.isFinite(loss)) this.markDiverged(slot, { step, what: 'eval_loss', value: loss }, `loss is ${loss} at step ${step} (evaluation)`);
    });
  }

  /** Evaluation metrics per slot, HF keys: eval_loss, eval_<metric>, eval_runtime, eval_samples_per_second, … */
  async evaluate(examples = this.options.evalExamples): Promise<Record<string, number>[]> {
    if (!examples || examples.length === 0) throw new Error('evaluate(): no evaluation examples');
    const started = performance.now();
    const results = await this.predict(examples);
    const runtime = (performance.now() - started) / 1000;
    const steps = Math.ceil(examples.length / this.args.perDeviceEvalBatchSize);
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
    const { device, model } = this.options;
    const numLabels = model.config.numLabels;
    const n = examples.length;
    const logits = Array.from({ length: this.slots }, () => new Float32Array(n * numLabels));
    const lossSums = new Float64Array(this.slots);
    const padId = this.options.padId ?? 0;
    const context = new ForwardContext(this.slots, false, null);
    model.eval();
    let offset = 0;
    for (const indices of evaluationBatches(n, this.args.perDeviceEvalBatchSize)) {
      const batch = this.collate(examples, indices);
      const input = uploadBatch(device, stackSlots(new Array(this.slots).fill(batch), padId), model.config.maxPositionEmbeddings);
      const [slotLogits, slotLoss] = noGrad(() => tidy(() => {
        const out = model.forward(input, context); // (T, B, C)
        return [out, model.loss(out, input.labels!)] as const;
      }));
      const values = (await slotLogits.toArray()) as Float32Array;
      const losses = await slotLoss.toArray();
      for (let t = 0; t < this.slots; t++) {
        logits[t].set(values.subarray(t * indices.length * numLabels, (t + 1) * indices.length * numLabels), offset * numLabels);
        lossSums[t] += losses[t] * indices.length; // HF: per-sample mean over the whole set
      }
      offset += indices.length;
      slotLogits.release();
      slotLoss.release();
      releaseInput(input);
    }
    model.train();
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

  private event(slot: number) {
    return { slot, globalStep: this.state.globalStep, epoch: this.state.epoch };
  }

  private control(slot: number, call: (callback: TrainerCallback) => TrainerControl | void): void {
    for (const callback of this.options.callbacks ?? []) {
      if (call(callback)?.shouldTrainingStop) this.stopSlot(slot, 'stopped by a callback');
    }
  }

  private forEachSlot(fn: (slot: number) => void, includeStopped = false): void {
    for (let slot = 0; slot < this.slots; slot++) if (includeStopped || !this.stopped[slot]) fn(slot);
  }

  // ---- checkpoints -------------------------------------------------------------------------------------------

  /**
   * Writes `outputDir/checkpoint-<step>/`: model.safetensors + config.json, optimizer.safetensors and
   * trainer_state.json, each written atomically, then removes the oldest checkpoints beyond saveTotalLimit
   * (never the best one). Writes nothing, and returns null, when every slot has diverged: a checkpoint of NaN
   * weights is worth nothing. A slot still training whose weights are not finite is marked diverged first.
   * When the slots have different output directories (a search's trials: HF's `output_dir/run-{trial number}`),
   * each slot still training writes its own one-slot checkpoint into its own directory and rotates only there, so
   * trials never remove each other's checkpoints; the path of the first is returned.
   */
  async saveCheckpoint(): Promise<string | null> {
    const { model, optimizer } = this.options;
    const weights = await readTensors(model.namedParameters());
    this.forEachSlot((slot) => {
      const bad = nonFiniteInSlot(weights, this.slots, slot);
      const step = this.state.globalStep;
      if (bad) this.markDiverged(slot, { step, what: `weight ${JSON.stringify(bad.name)}`, value: bad.value }, `weights are not finite at step ${step} (${bad.name} holds ${bad.value})`);
    });
    if (this.diverged.every((d) => d !== null)) return null;
    const optimizerState = await readTensors([...optimizer.stateTensors()]);
    if (new Set(this.options.slotArgs.map((a) => a.outputDir)).size > 1) return this.saveSlotCheckpoints(weights, optimizerState);
    const dir = join(this.args.outputDir, `${CHECKPOINT_PREFIX}${this.state.globalStep}`);
    await ensureDirectory(dir);
    await writeSafetensors(join(dir, 'model.safetensors'), weights, modelMetadata(model));
    await writeSafetensors(join(dir, 'optimizer.safetensors'), optimizerState, { step: String(optimizer.stepCount) });
    await writeFile(join(dir, 'config.json'), JSON.stringify(model.config, null, 2));
    this.updateBestCheckpoint(dir, null);
    // `stopped` too, so that a resumed group keeps its stopped (and diverged) slots stopped.
    await writeFile(join(dir, 'trainer_state.json'), JSON.stringify({ ...this.state, totalLoss: this.totalLoss, stopped: this.stopped, diverged: this.diverged }, null, 2));
    this.forEachSlot((slot) => this.options.callbacks?.forEach((c) => c.onSave?.(this.event(slot), dir)));
    await this.rotateCheckpoints(this.args.outputDir, new Set(this.state.bestCheckpoint.filter((d): d is string => d !== null)));
    return dir;
  }

  /** One one-slot checkpoint per slot still training, in that slot's output directory (loadable by a Trainer). */
  private async saveSlotCheckpoints(weights: Map<string, TensorData>, optimizerState: Map<string, TensorData>): Promise<string | null> {
    const { model, optimizer } = this.options;
    const written: string[] = [];
    for (let slot = 0; slot < this.slots; slot++) {
      if (this.stopped[slot] !== null) continue;
      const outputDir = this.options.slotArgs[slot].outputDir;
      const dir = join(outputDir, `${CHECKPOINT_PREFIX}${this.state.globalStep}`);
      await ensureDirectory(dir);
      await writeSafetensors(join(dir, 'model.safetensors'), slotSlice(weights, this.slots, slot), { ...modelMetadata(model), slots: '1' });
      await writeSafetensors(join(dir, 'optimizer.safetensors'), slotSlice(optimizerState, this.slots, slot), { step: String(optimizer.stepCount) });
      await writeFile(join(dir, 'config.json'), JSON.stringify(model.config, null, 2));
      this.updateBestCheckpoint(dir, slot);
      const state = {
        globalStep: this.state.globalStep,
        epoch: this.state.epoch,
        logHistory: [this.state.logHistory[slot]],
        bestMetric: [this.state.bestMetric[slot]],
        bestCheckpoint: [this.state.bestCheckpoint[slot]],
        totalLoss: [this.totalLoss[slot]],
        stopped: [this.stopped[slot]],
        diverged: [this.diverged[slot]],
      };
      await writeFile(join(dir, 'trainer_state.json'), JSON.stringify(state, null, 2));
      this.options.callbacks?.forEach((c) => c.onSave?.(this.event(slot), dir));
      const best = this.state.bestCheckpoint[slot];
      await this.rotateCheckpoints(outputDir, new Set(best ? [best] : []));
      written.push(dir);
    }
    return written[0] ?? null;
  }

  /** Records `dir` as the best checkpoint of `slot` (or of every slot, for null) whose metric improved at this step. */
  private updateBestCheckpoint(dir: string, only: number | null): void {
    const { metric, greaterIsBetter } = bestModelMetric(this.args);
    this.forEachSlot((slot) => {
      if (only !== null && slot !== only) return;
      const history = this.state.logHistory[slot];
      const last = [...history].reverse().find((entry) => entry[metric] !== undefined);
      if (!last || last.step !== this.state.globalStep) return;
      const best = this.state.bestMetric[slot];
      const value = last[metric];
      if (best === null || (greaterIsBetter ? value > best : value < best)) {
        this.state.bestMetric[slot] = value;
        this.state.bestCheckpoint[slot] = dir;
      }
    }, true);
  }

  private async rotateCheckpoints(outputDir: string, keepDirs: ReadonlySet<string>): Promise<void> {
    const limit = this.args.saveTotalLimit;
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
    const stateTensors = [...optimizer.stateTensors()];
    validateAgainst(saved.tensors, new Map(stateTensors.map(([name, t]) => [name, { shape: [...t.shape], dtype: 'F32' as const }])), optimizerPath);
    requireFinite(saved.tensors, this.slots, skipSlots, optimizerPath);
    optimizer.loadState(new Map([...saved.tensors].map(([name, t]) => [name, t.data as Float32Array])), stepCount);
    this.state = { globalStep: state.globalStep, epoch: state.epoch, logHistory: state.logHistory, bestMetric: state.bestMetric, bestCheckpoint: state.bestCheckpoint };
    state.totalLoss.forEach((v, i) => (this.totalLoss[i] = v));
    state.stopped?.forEach((reason, slot) => (this.stopped[slot] = reason));
    state.diverged?.forEach((d, slot) => (this.diverged[slot] = d));
  }

  private async loadBestModel(): Promise<void> {
    const best = this.state.bestCheckpoint[0];
    if (this.slots === 1 && best) await loadModelWeights(this.options.model, join(best, 'model.safetensors'), this.options.device);
  }

  release(): void {
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

function modelMetadata(model: TrainableModel): Record<string, string> {
  return { format: 'webtrainer', slots: String(model.slots) };
}

/** Writes a model's parameters (every slot) as safetensors, atomically; refuses NaN or infinite weights. */
export async function saveModelWeights(model: TrainableModel, path: string): Promise<void> {
  const weights = await readTensors(model.namedParameters());
  requireFinite(weights, model.slots, new Set(), path, 'not saved');
  await writeSafetensors(path, weights, modelMetadata(model));
}

/**
 * Loads weights into a model, checking every name, shape and dtype against it, and that every weight is finite
 * (except in `skipSlots`), before writing any.
 */
export async function loadModelWeights(model: TrainableModel, path: string, device: Device, options: { skipSlots?: ReadonlySet<number> } = {}): Promise<void> {
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

