/**
 * Training steps recorded once per batch shape and replayed after (src/gpu/command-trace.ts), as CUDA Graphs
 * replay a captured step: the first step of a shape runs through the tensor layer while the device keeps its
 * commands; every later step of that shape uploads its batch, dropout base and learning rates into the same
 * buffers and records those commands again, without autograd or any op's bookkeeping. Recording a step of the
 * default model drops from ~15 ms of CPU to ~1 ms (bench/RESULTS.md), which on a real GPU is most of a step.
 *
 * What a replay must not miss is in its key: the model, optimizer and dropout buffers (a shrunk group has new
 * ones), the batch shape (its input buffers are kept per shape), the loss accumulator, the optimizer's
 * `commandsKey` (clipping on or off) and the device's resource epoch. Only models that declare `staticStep`
 * (their forward makes no choice on the data in JavaScript) with an optimizer split into `beginStep` and
 * `recordStep` are captured; anything else, and a data-parallel step (which reads gradients back mid-step), is
 * recorded in full each time. A capture that fails says why once (a process warning) and the steps go on in full.
 */
import type { CommandTrace } from '../gpu/command-trace.js';
import { writeDropoutCallBase } from '../nn/forward-context.js';
import { releaseInput, uploadBatch, writeBatch, type HostBatch, type ModelInput } from '../nn/model-input.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { recordLossAndGradients, recordTrainingStep, type TrainingStepParts } from './training-step.js';

/** Batch shapes whose inputs and traces are kept at once (a training set's last, shorter batch is a second one). */
const SHAPES_KEPT = 4;

interface ShapeEntry {
  input: ModelInput;
  trace: CommandTrace | null;
  /** What else the trace was captured with (lossSum buffer, optimizer commands). */
  lossSum: GPUBuffer | null;
  optimizerKey: string;
}

export interface CapturedStepCounts {
  /** Steps recorded through the tensor layer while their commands were kept. */
  captured: number;
  /** Steps that replayed kept commands. */
  replayed: number;
  /** Steps recorded in full without keeping them (not capturable, or a capture failed). */
  uncaptured: number;
}

export class CapturedTrainingStep {
  readonly counts: CapturedStepCounts = { captured: 0, replayed: 0, uncaptured: 0 };
  /** Why steps are no longer captured, once a capture failed for good. */
  failure: string | null = null;
  private readonly shapes = new Map<string, ShapeEntry>();
  private parts: TrainingStepParts | null = null;

  /** What recordTrainingStep records (same arguments), replayed when a step of this shape was captured. */
  record(parts: TrainingStepParts, host: HostBatch, steps: readonly number[], learningRates: readonly number[], lossSum?: Tensor): void {
    const { device, model, optimizer, dropout } = parts;
    if (this.failure || !model.staticStep || !optimizer.beginStep || !optimizer.recordStep || optimizer.commandsKey === undefined) {
      recordTrainingStep(parts, host, steps, learningRates, lossSum);
      this.counts.uncaptured++;
      return;
    }
    if (!this.parts || this.parts.model !== model || this.parts.optimizer !== optimizer || this.parts.dropout !== dropout || this.parts.device !== device) {
      this.release(); // Another model (a shrunk group): none of the kept commands apply.
      this.parts = parts;
    }
    const entry = this.entryFor(host, model.config.maxPositionEmbeddings);
    writeDropoutCallBase(dropout, steps);
    optimizer.beginStep(learningRates);
    const optimizerKey = optimizer.commandsKey;
    const trace = entry.trace;
    if (trace && !trace.isDisposed && trace.epoch === device.resourceEpoch && entry.lossSum === (lossSum?.buffer ?? null) && entry.optimizerKey === optimizerKey) {
      device.replay(trace);
      this.counts.replayed++;
    } else {
      trace?.dispose();
      entry.trace = null;
      device.beginCapture();
      let captured: ReturnType<typeof device.endCapture>;
      try {
        recordLossAndGradients(parts, entry.input, lossSum);
        optimizer.recordStep();
        optimizer.zeroGrad();
      } finally {
        captured = device.endCapture();
      }
      if (captured.trace) {
        Object.assign(entry, { trace: captured.trace, lossSum: lossSum?.buffer ?? null, optimizerKey });
        this.counts.captured++;
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

  /** The kept input buffers of `host`'s shape, with the batch uploaded into them. */
  private entryFor(host: HostBatch, maxPositions: number): ShapeEntry {
    const key = `${host.slots}x${host.batch}x${host.seq}${host.labels ? '' : ' unlabelled'}`;
    let entry = this.shapes.get(key);
    if (entry) {
      writeBatch(entry.input, host, maxPositions);
      this.shapes.delete(key); // re-inserted below: most recently used last
    } else {
      if (this.shapes.size >= SHAPES_KEPT) {
        const [oldest, dropped] = this.shapes.entries().next().value as [string, ShapeEntry];
        this.shapes.delete(oldest);
        releaseEntry(dropped);
      }
      const input = uploadBatch(this.parts!.device, host, maxPositions);
      for (const t of [input.inputIds, input.positionIds, input.maskBias, input.clsIndex, input.labels]) if (t) keep(t);
      entry = { input, trace: null, lossSum: null, optimizerKey: '' };
    }
    this.shapes.set(key, entry);
    return entry;
  }

  /** Gives back every kept input and trace buffer (the next step captures afresh). */
  release(): void {
    for (const entry of this.shapes.values()) releaseEntry(entry);
    this.shapes.clear();
    this.parts = null;
  }
}

function releaseEntry(entry: ShapeEntry): void {
  entry.trace?.dispose();
  releaseInput(entry.input);
}
