/**
 * Runs several trials fused into one TrainingGroup: each trial's objective call joins a batch, and a batch of
 * compatible trials (the same shape-setting arguments: batch size, length of training, sequence length) trains as
 * one group of T slots, one set of kernels, on one GPU. Each slot reports its evaluations to its own trial and is
 * stopped alone when its pruner says so; each trial's promise settles with its own slot's result.
 *
 * The search layer decides only which trials share a group (ARCHITECTURE.md): the training loop is the same one
 * plain training uses.
 */
import type { TrainableModel } from '../nn/trainable-model.js';
import { AdamW } from '../nn/adamw.js';
import type { Device } from '../gpu/device.js';
import type { EncodedExample } from './data/collator.js';
import type { ModelInit } from './trainer.js';
import type { TrainerCallback } from './trainer-callback.js';
import { optimizerSettings, type TrainingArguments } from './training-arguments.js';
import { SLOT_SHARED_ARGUMENTS, TrainingGroup, type ComputeMetrics } from './training-group.js';
import { TrialPruned } from '../search/errors.js';
import type { Trial } from '../search/trial.js';

export interface SlotRequest {
  trial: Trial;
  args: TrainingArguments;
  hiddenDropout?: number;
  attentionDropout?: number;
}

export interface SlotResult {
  metrics: Record<string, number>;
  objective: number | number[];
}

interface Pending extends SlotRequest {
  resolve: (result: SlotResult) => void;
  reject: (error: unknown) => void;
}

export interface FusedRunnerOptions {
  device: Device;
  modelInit: ModelInit;
  train: readonly EncodedExample[];
  eval: readonly EncodedExample[];
  padId: number;
  slots: number;
  computeMetrics?: ComputeMetrics;
  computeObjective: (metrics: Record<string, number>) => number | number[];
  callbacks?: TrainerCallback[];
  /** Aborting stops the running group at its next step; its trials reject with an 'interrupted' error. */
  signal?: AbortSignal;
}


export function fusionKey(args: TrainingArguments): string {
  return JSON.stringify(SLOT_SHARED_ARGUMENTS.map((k) => args[k]));
}

export class FusedRunner {
  private readonly waiting: Pending[] = [];
  private scheduled = false;
  private queue: Promise<void> = Promise.resolve();
  groupsRun = 0;

  constructor(private readonly options: FusedRunnerOptions) {}

  /** Trains the trial's configuration in the next group; resolves with its metrics and objective. */
  run(request: SlotRequest): Promise<SlotResult> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ ...request, resolve, reject });
      // Trials asked together arrive within the same turn of the event loop: gather them, then run.
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.drain();
        });
      }
    });
  }

  private drain(): void {
    const batches = new Map<string, Pending[]>();
    for (const pending of this.waiting.splice(0)) {
      const key = fusionKey(pending.args);
      batches.set(key, [...(batches.get(key) ?? []), pending]);
    }
    for (const group of batches.values()) {
      for (let i = 0; i < group.length; i += this.options.slots) {
        const members = group.slice(i, i + this.options.slots);
        // One GPU: groups run one after another.
        this.queue = this.queue.then(() => this.runGroup(members));
      }
    }
  }

  private async runGroup(members: Pending[]): Promise<void> {
    const o = this.options;
    let model: TrainableModel | null = null;
    let optimizer: AdamW | null = null;
    let group: TrainingGroup | null = null;
    const pruned = new Set<number>();
    try {
      this.groupsRun++;
      model = o.modelInit(o.device, members.map((m) => m.args.seed));
      const config = model.config;
      optimizer = new AdamW(
        o.device,
        model.namedParameters(),
        members.map((m) => optimizerSettings(m.args)),
      );
      const reporter: TrainerCallback = {
        onStepEnd: () => (o.signal?.aborted ? { shouldTrainingStop: true } : {}),
        onEvaluate: ({ slot, globalStep }, metrics) => {
          const objective = o.computeObjective(metrics);
          const trial = members[slot].trial;
          if (typeof objective !== 'number') return {}; // Multi-objective trials are not pruned (as Optuna).
          trial.report(objective, globalStep);
          if (trial.shouldPrune()) {
            pruned.add(slot);
            return { shouldTrainingStop: true };
          }
          return {};
        },
      };
      const trainingGroup = new TrainingGroup({
        device: o.device,
        model,
        optimizer,
        slotArgs: members.map((m) => m.args),
        trainExamples: o.train,
        evalExamples: o.eval,
        padId: o.padId,
        computeMetrics: o.computeMetrics,
        callbacks: [reporter, ...(o.callbacks ?? [])],
        hiddenDropout: members.map((m) => m.hiddenDropout ?? config.hiddenDropoutProb),
        attentionDropout: members.map((m) => m.attentionDropout ?? config.attentionDropoutProb),
      });
      group = trainingGroup;
      const outputs = await trainingGroup.train();
      if (o.signal?.aborted) throw new Error('interrupted');
      // HF evaluates once more after training and computes the objective from that.
      const finals = await trainingGroup.evaluate();
      members.forEach((member, slot) => {
        if (pruned.has(slot)) return member.reject(new TrialPruned(`pruned at step ${trainingGroup.state.globalStep}`));
        const diverged = outputs[slot].diverged;
        if (diverged) return member.reject(new Error(`training diverged at step ${diverged.step}: ${diverged.what} is ${diverged.value}`));
        const metrics = { ...finals[slot], train_loss: outputs[slot].trainingLoss };
        const objective = o.computeObjective(finals[slot]);
        const values = Array.isArray(objective) ? objective : [objective];
        if (values.some((v) => !Number.isFinite(v))) return member.reject(new Error(`objective is ${values.join(', ')}`));
        member.resolve({ metrics, objective });
      });
    } catch (error) {
      for (const member of members) member.reject(error);
    } finally {
      group?.release();
      optimizer?.release();
      model?.release();
    }
  }
}
