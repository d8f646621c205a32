/**
 * One trial's run in one slot of a TrainingGroup: its arguments, its own step and epoch, its learning-rate
 * schedule, its data order, its logging / evaluation / save schedule and its log history. A slot's run is what a
 * Trainer of that trial alone would track (HF's TrainerState), so a trial trained in a refilled slot, started while
 * the other slots are mid-way through theirs, sees exactly what it would see alone.
 */
import { scheduleFactor, warmupStepsFor } from '../nn/schedules.js';
import { epochBatches, lengthGroupedEpochBatches } from './slot-batches.js';
import type { TrainingArguments } from './training-arguments.js';

/** Where a slot's training blew up: the step, and what was not finite ('loss', 'eval_loss', or a weight). */
export interface Divergence {
  step: number;
  what: string;
  value: number;
}

/** What falls due after a step of this slot (HF's TrainerControl should_log / should_evaluate / should_save). */
export interface SlotDue {
  log: boolean;
  evaluate: boolean;
  save: boolean;
  /** The step ended an epoch (or training): the epoch strategies and onEpochEnd apply. */
  epochEnd: boolean;
}

export class SlotRun {
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  readonly epochs: number;
  /** Optimizer steps this trial has taken (HF's state.global_step). */
  step = 0;
  epoch = 0;
  readonly logHistory: Record<string, number>[] = [];
  bestMetric: number | null = null;
  bestCheckpoint: string | null = null;
  /** Training loss summed over every step so far, and since the last log. */
  totalLoss = 0;
  lossSinceLog = 0;
  stepsSinceLog = 0;
  /** Why this slot stopped before its last step (pruned, early-stopped, diverged), or null. */
  stopped: string | null = null;
  diverged: Divergence | null = null;
  /** Set once the run has ended and its output was handed on; a slot without a running trial is idle. */
  ended = false;
  readonly startedAt = performance.now();
  startStep = 0;
  private order: { epoch: number; batches: number[][] } | null = null;

  constructor(
    readonly args: TrainingArguments,
    private readonly trainLengths: readonly number[],
    /** The trial this slot runs, when a search fills it (events carry it). */
    readonly trialNumber?: number,
    /** This process's rank and the group's size when training data-parallel (data-parallel.ts). */
    private readonly shard: { rank: number; worldSize: number } = { rank: 0, worldSize: 1 },
  ) {
    // HF under DDP: each rank's epoch is ceil(N / world) examples, in batches of per_device_train_batch_size.
    const perRank = Math.ceil(trainLengths.length / shard.worldSize);
    this.stepsPerEpoch = Math.max(1, Math.ceil(perRank / args.perDeviceTrainBatchSize));
    // HF: max_steps > 0 wins; otherwise ceil(epochs · steps per epoch).
    this.totalSteps = args.maxSteps > 0 ? args.maxSteps : Math.ceil(args.numTrainEpochs * this.stepsPerEpoch);
    this.epochs = Math.ceil(this.totalSteps / this.stepsPerEpoch);
  }

  /** Still taking steps: not stopped and not at its last step. */
  get training(): boolean {
    return !this.ended && this.stopped === null && this.step < this.totalSteps;
  }

  learningRate(step: number): number {
    const a = this.args;
    const warmup = warmupStepsFor(this.totalSteps, a.warmupSteps, a.warmupRatio);
    return a.learningRate * scheduleFactor(a.lrSchedulerType, step, warmup, this.totalSteps);
  }

  /**
   * The example indices of this slot's next batch: its epoch's seeded order (each epoch reshuffles). Under data
   * parallelism, global batches of per_device × world examples in that order, each dealt round-robin to the ranks
   * (as HF's DistributedSampler deals its padded permutation), so the ranks' batches together are the global one.
   */
  nextBatch(): number[] {
    const epoch = Math.floor(this.step / this.stepsPerEpoch);
    if (this.order?.epoch !== epoch) {
      const { perDeviceTrainBatchSize, seed, groupByLength } = this.args;
      const { rank, worldSize } = this.shard;
      const batchSize = perDeviceTrainBatchSize * worldSize;
      const global = groupByLength
        ? lengthGroupedEpochBatches(this.trainLengths, batchSize, seed, epoch)
        : epochBatches(this.trainLengths.length, batchSize, seed, epoch);
      this.order = { epoch, batches: worldSize === 1 ? global : global.map((batch) => dealtTo(batch, rank, worldSize)) };
    }
    return this.order.batches[this.step % this.stepsPerEpoch];
  }

  /** Counts a step taken and says what falls due after it. */
  stepTaken(): SlotDue {
    const b = this.step % this.stepsPerEpoch;
    const epoch = Math.floor(this.step / this.stepsPerEpoch);
    this.step++;
    this.stepsSinceLog++;
    this.epoch = epoch + (b + 1) / this.stepsPerEpoch;
    const a = this.args;
    const epochEnd = this.step % this.stepsPerEpoch === 0 || this.step >= this.totalSteps;
    if (epochEnd) this.epoch = Math.min(epoch + 1, this.totalSteps / this.stepsPerEpoch);
    return {
      log: (a.loggingStrategy === 'steps' && this.step % a.loggingSteps === 0) || (epochEnd && a.loggingStrategy === 'epoch'),
      evaluate: (a.evalStrategy === 'steps' && this.step % (a.evalSteps ?? a.loggingSteps) === 0) || (epochEnd && a.evalStrategy === 'epoch'),
      save: (a.saveStrategy === 'steps' && this.step % a.saveSteps === 0) || (epochEnd && a.saveStrategy === 'epoch'),
      epochEnd,
    };
  }
}

/**
 * Rank `rank`'s share of a global batch: every worldSize-th example from `rank` on. A short last batch is padded
 * with its own first examples to a multiple of worldSize (HF's DistributedSampler pads its permutation the same
 * way), so every rank gets the same number of examples.
 */
export function dealtTo(batch: readonly number[], rank: number, worldSize: number): number[] {
  const padded = [...batch];
  for (let i = 0; padded.length % worldSize !== 0; i++) padded.push(batch[i % batch.length]);
  return padded.filter((_, i) => i % worldSize === rank);
}
