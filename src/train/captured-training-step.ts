/**
 * Training steps recorded once per batch shape and replayed after (src/gpu/command-trace.ts), as CUDA Graphs
 * replay a captured step: a step of a shape seen before runs through the tensor layer while the device keeps its
 * commands; every later step of that shape uploads its batch, dropout base and learning rates into the same
 * buffers and records those commands again, without autograd or any op's bookkeeping. Recording a step of the
 * default model drops from ~15 ms of CPU to ~1 ms (bench/RESULTS.md), which on a real GPU is most of a step.
 *
 * What a replay must not miss is in its key: the model, optimizer and dropout buffers (a shrunk group has new ones),
 * the batch's layout key (its shape, packed or padded: model-input.ts; its input buffers are kept per key), the loss
 * accumulator, the optimizer's `commandsKey` (clipping on or off), the model's `commandsKey` (its training mode and
 * kernel-path switches) and the device's resource epoch. Only models that declare `staticStep` (their forward makes
 * no choice on the data in JavaScript) with an optimizer split into `beginStep` and `recordStep` are captured;
 * anything else, and a data-parallel step (which reads gradients back mid-step), is recorded in full each time. A
 * capture that fails says why once (a process warning) and the steps go on in full.
 *
 * What kept traces cost: each holds its step's intermediate buffers and bind groups. So a shape is captured only when
 * it comes again within `RECENT_STEPS` steps (data padded to every length would otherwise keep capturing shapes that
 * are dropped before they recur), at most `MAX_SHAPES` shapes are kept (the Trainer pads to multiples of 8: a
 * max_seq_length of 64 makes 8; packed batches round to 32 rows a sequence and 32 a slot), and their dispatches
 * together stay under half the device's bind-group cache (`Device.cacheCapacity`), least recently used dropped first.
 */
import type { CommandTrace } from '../gpu/command-trace.js';
import { writeDropoutCallBase } from '../nn/forward-context.js';
import { inputTensors, layoutFor, releaseInput, uploadBatch, writeBatch, type HostBatch, type InputLayout, type ModelInput } from '../nn/model-input.js';
import { ones } from '../tensor/create.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { recordLossAndGradients, recordTrainingStep, type TrainingStepParts } from './training-step.js';

/** Batch shapes whose inputs and traces are kept at once. */
const MAX_SHAPES = 8;
/**
 * A shape is captured when its previous step was at most this many steps ago: one that comes back less often would
 * mostly be dropped from the kept shapes before it is replayed.
 */
const RECENT_STEPS = 2 * MAX_SHAPES;

interface ShapeEntry {
  input: ModelInput;
  /** (T) ones: the backward's seed, kept so the trace does not fill one every step. */
  ones: Tensor;
  trace: CommandTrace | null;
  /** What else the trace was captured with (lossSum buffer; the optimizer's and the model's commandsKey). */
  lossSum: GPUBuffer | null;
  optimizerKey: string;
}

export interface CapturedStepCounts {
  /** Steps recorded through the tensor layer while their commands were kept. */
  captured: number;
  /** Steps that replayed kept commands. */
  replayed: number;
  /** Steps recorded in full without keeping them (a shape's first step, not capturable, or a capture failed). */
  uncaptured: number;
}

export class CapturedTrainingStep {
  readonly counts: CapturedStepCounts = { captured: 0, replayed: 0, uncaptured: 0 };
  /** Why steps are no longer captured, once a capture failed for good. */
  failure: string | null = null;
  /** Kept shapes, least recently used first. */
  private readonly shapes = new Map<string, ShapeEntry>();
  /** The step count at which each shape last came (only the recent ones are kept). */
  private readonly lastSeen = new Map<string, number>();
  private stepsRecorded = 0;
  private parts: TrainingStepParts | null = null;
  private epoch = -1;

  /** What recordTrainingStep records (same arguments), replayed when a step of this shape was captured. */
  record(parts: TrainingStepParts, host: HostBatch, steps: readonly number[], learningRates: readonly number[], lossSum?: Tensor): void {
    const { device, model, optimizer, dropout } = parts;
    const layout = layoutFor(model, host);
    const { key } = layout;
    const recent = this.cameRecently(key);
    if (this.failure || !model.staticStep || !optimizer.beginStep || !optimizer.recordStep || optimizer.commandsKey === undefined || !(recent || this.shapes.has(key))) {
      recordTrainingStep(parts, host, steps, learningRates, lossSum, layout);
      this.counts.uncaptured++;
      return;
    }
    if (!this.parts || this.parts.model !== model || this.parts.optimizer !== optimizer || this.parts.dropout !== dropout || this.parts.device !== device) {
      this.release(); // Another model (a shrunk group): none of the kept commands apply.
      this.parts = parts;
    }
    if (device.resourceEpoch !== this.epoch) {
      // The device replaced something traces may bind: every trace is void; give their buffers back now.
      for (const entry of this.shapes.values()) this.dropTrace(entry);
      this.epoch = device.resourceEpoch;
    }
    const entry = this.entryFor(key, host, layout);
    writeDropoutCallBase(dropout, steps);
    optimizer.beginStep(learningRates);
    // The model's own switches (its training mode: dropout reads it; its fused paths) choose commands too.
    const optimizerKey = `${optimizer.commandsKey} ${model.commandsKey ?? ''}`;
    if (entry.trace && entry.lossSum === (lossSum?.buffer ?? null) && entry.optimizerKey === optimizerKey) {
      device.replay(entry.trace);
      this.counts.replayed++;
    } else {
      this.dropTrace(entry);
      device.beginCapture();
      let captured: ReturnType<typeof device.endCapture>;
      try {
        recordLossAndGradients(parts, entry.input, lossSum, entry.ones);
        optimizer.recordStep();
        optimizer.zeroGrad();
      } finally {
        captured = device.endCapture();
      }
      if (captured.trace) {
        Object.assign(entry, { trace: captured.trace, lossSum: lossSum?.buffer ?? null, optimizerKey });
        this.counts.captured++;
        this.fitBudget(device.cacheCapacity / 2, key);
      } else {
        this.counts.uncaptured++;
        if (!captured.retry) {
          this.failure = captured.reason ?? 'unknown';
          process.emitWarning(`webtrainer: training steps are no longer captured and replayed: ${this.failure}`);
        }
      }
    }
    device.flush();
  }

  /** Kept shapes (tests). */
  get shapesKept(): number {
    return this.shapes.size;
  }

  /** Gives back every kept input and trace buffer (the next step captures afresh). */
  release(): void {
    for (const entry of this.shapes.values()) this.releaseEntry(entry);
    this.shapes.clear();
    this.parts = null;
  }

  /** Whether a step of shape `key` came in the last RECENT_STEPS steps (and remembers that one comes now). */
  private cameRecently(key: string): boolean {
    const now = ++this.stepsRecorded;
    const last = this.lastSeen.get(key);
    this.lastSeen.delete(key);
    this.lastSeen.set(key, now); // most recent last
    for (const [oldKey, step] of this.lastSeen) {
      if (now - step <= RECENT_STEPS) break;
      this.lastSeen.delete(oldKey);
    }
    return last !== undefined && now - last <= RECENT_STEPS;
  }

  /** The kept input buffers of `key`'s shape, with `host` uploaded into them. */
  private entryFor(key: string, host: HostBatch, layout: InputLayout): ShapeEntry {
    let entry = this.shapes.get(key);
    if (entry) {
      writeBatch(entry.input, host, layout);
      this.shapes.delete(key); // re-inserted below: most recently used last
    } else {
      if (this.shapes.size >= MAX_SHAPES) this.dropOldest();
      const input = uploadBatch(this.parts!.device, host, this.parts!.model.config.maxPositionEmbeddings, layout);
      for (const t of inputTensors(input)) keep(t);
      entry = { input, ones: keep(ones(this.parts!.device, [host.slots])), trace: null, lossSum: null, optimizerKey: '' };
    }
    this.shapes.set(key, entry);
    return entry;
  }

  /** Drops the least recently used shapes other than `keepKey` while the kept traces' dispatches exceed `budget`. */
  private fitBudget(budget: number, keepKey: string): void {
    const total = () => [...this.shapes.values()].reduce((n, e) => n + (e.trace?.dispatches ?? 0), 0);
    while (total() > budget && this.shapes.size > 1) {
      const oldest = this.shapes.keys().next().value as string;
      if (oldest === keepKey) break;
      this.dropOldest();
    }
  }

  private dropOldest(): void {
    const [key, entry] = this.shapes.entries().next().value as [string, ShapeEntry];
    this.shapes.delete(key);
    this.releaseEntry(entry);
  }

  private releaseEntry(entry: ShapeEntry): void {
    this.dropTrace(entry);
    releaseInput(entry.input);
    entry.ones.release();
  }

  private dropTrace(entry: ShapeEntry): void {
    entry.trace?.dispose();
    entry.trace = null;
  }
}
