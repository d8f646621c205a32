/**
 * Runs several trials fused into one TrainingGroup: each trial's objective call joins a batch, and a batch of
 * compatible trials (the same shape-setting arguments: batch size, length of training, sequence length; and the
 * same model settings: hidden size, layers, heads, …) trains as one group of T slots, one set of kernels, on one
 * GPU. Each slot reports its evaluations to its own trial and is stopped alone when its pruner says so; each
 * trial's promise settles with its own slot's result.
 *
 * The objective is Hugging Face's: the last evaluation reported during training (`_report_to_hp_search` on each
 * evaluate), or, for a trial never evaluated during training, one evaluation after it (`run_hp_search_*`: "If
 * there hasn't been any evaluation during the training loop").
 *
 * The search layer decides only which trials share a group (ARCHITECTURE.md): the training loop is the same one
 * plain training uses.
 */
import type { ModelConfig } from '../nn/config.js';
import type { TrainableModel } from '../nn/trainable-model.js';
import { AdamW } from '../nn/adamw.js';
import type { Device } from '../gpu/device.js';
import type { Batch, EncodedExample } from './data/collator.js';
import { MODEL_SETTING_NAME } from './model-settings.js';
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
  /** Model settings that set shapes: trials that differ here never share a group. */
  model?: Partial<ModelConfig>;
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
  /**
   * The training and evaluation examples, tokenized to a group's max_seq_length (a shared argument, so one per
   * group): a trial that searches max_seq_length trains on text truncated to it.
   */
  datasets: (maxSeqLength: number) => { train: readonly EncodedExample[]; eval: readonly EncodedExample[] };
  padId: number;
  slots: number;
  computeMetrics?: ComputeMetrics;
  computeObjective: (metrics: Record<string, number>) => number | number[];
  callbacks?: TrainerCallback[];
  /** The Trainer's data collator (HF keeps it during a search); default: the TrainingGroup's. */
  dataCollator?: (examples: EncodedExample[]) => Batch;
  /** Aborting stops the running group at its next step; its trials reject with an 'interrupted' error. */
  signal?: AbortSignal;
}

/** Trials fuse only when this key is equal: the arguments every slot must share, and the model's shape settings. */
export function fusionKey(args: TrainingArguments, model: Partial<ModelConfig> = {}): string {
  const settings = Object.entries(model).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([SLOT_SHARED_ARGUMENTS.map((k) => args[k]), settings]);
}

/** Throws unless the model built has every model setting the trials asked for. */
function checkModelSettings(model: TrainableModel, wanted: Partial<ModelConfig>): void {
  const config = model.config as unknown as Record<string, unknown>;
  for (const [field, value] of Object.entries(wanted)) {
    if (config[field] === value) continue;
    const name = MODEL_SETTING_NAME[field as keyof ModelConfig] ?? field;
    throw new Error(`modelInit built a model whose ${field} is ${String(config[field])}, but the trial set ${name} = ${value}: ` +
      'build the model from the settings modelInit receives (its third argument: { trials, model }), as HF\'s model_init(trial)');
  }
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
      const key = fusionKey(pending.args, pending.model);
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
    // Per slot: the metrics and objective of the last evaluation reported during training (HF's trainer.objective).
    const lastMetrics: (Record<string, number> | undefined)[] = new Array(members.length);
    const lastObjective: (number | number[] | undefined)[] = new Array(members.length);
    try {
      this.groupsRun++;
      const data = o.datasets(members[0].args.maxSeqLength);
      const modelSettings = members[0].model ?? {};
      model = o.modelInit(o.device, members.map((m) => m.args.seed), { trials: members.map((m) => m.trial), model: { ...modelSettings } });
      checkModelSettings(model, modelSettings);
      const config = model.config;
      optimizer = new AdamW(
        o.device,
        model.namedParameters(),
        members.map((m) => optimizerSettings(m.args)),
      );
      const reporter: TrainerCallback = {
        onStepEnd: () => (o.signal?.aborted ? { shouldTrainingStop: true } : {}),
        // HF's _report_to_hp_search: the objective of every evaluation; the last one is the trial's.
        onEvaluate: ({ slot, globalStep }, metrics) => {
          const objective = o.computeObjective(metrics);
          lastMetrics[slot] = metrics;
          lastObjective[slot] = objective;
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
        trainExamples: data.train,
        evalExamples: data.eval,
        padId: o.padId,
        dataCollator: o.dataCollator,
        computeMetrics: o.computeMetrics,
        callbacks: [reporter, ...(o.callbacks ?? [])],
        hiddenDropout: members.map((m) => m.hiddenDropout ?? config.hiddenDropoutProb),
        attentionDropout: members.map((m) => m.attentionDropout ?? config.attentionDropoutProb),
      });
      group = trainingGroup;
      const outputs = await trainingGroup.train();
      if (o.signal?.aborted) throw new Error('interrupted');
      // "If there hasn't been any evaluation during the training loop": evaluate once, after training.
      const unevaluated = members.some((_, slot) => lastMetrics[slot] === undefined && !pruned.has(slot) && !outputs[slot].diverged);
      const finals = unevaluated ? await trainingGroup.evaluate() : null;
      members.forEach((member, slot) => {
        if (pruned.has(slot)) return member.reject(new TrialPruned(`pruned at step ${trainingGroup.state.globalStep}`));
        const diverged = outputs[slot].diverged;
        if (diverged) return member.reject(new Error(`training diverged at step ${diverged.step}: ${diverged.what} is ${diverged.value}`));
        const evaluation = lastMetrics[slot] ?? finals![slot];
        const objective = lastObjective[slot] ?? o.computeObjective(evaluation);
        const metrics = { ...evaluation, train_loss: outputs[slot].trainingLoss };
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
