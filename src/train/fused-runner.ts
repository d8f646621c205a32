/**
 * Runs several trials fused into one TrainingGroup: each trial's objective call joins a batch, and a batch of
 * compatible trials (the same shape-setting arguments: batch sizes and sequence length; and the same model
 * settings: hidden size, layers, heads, …) trains as one group of T slots, one set of kernels, on one GPU. Each
 * slot reports its evaluations to its own trial and is stopped alone when its pruner says so; each trial's promise
 * settles with its own slot's result as soon as its run ends, and the slot takes the search's next compatible
 * trial at once (re-initialised: weights, optimizer state, step, schedule, data order) while the others go on.
 * Trials in one group may differ in length and in their evaluation schedule.
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
import { ReachedVocabulary } from './data/reached-vocabulary.js';
import type { TrainerCallback } from './trainer-callback.js';
import { optimizerSettings, type TrainingArguments } from './training-arguments.js';
import { SLOT_SHARED_ARGUMENTS, TrainingGroup, type ComputeMetrics, type SlotRefill, type TrainOutput } from './training-group.js';
import { TrialPruned } from '../search/errors.js';
import type { Collective } from '../distributed/collective.js';
import { fusedGroupOptions, memberConfig, type FollowerMessage } from './search-follower.js';
import { shrinkModel } from './shrink-model.js';
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
  /**
   * Whether the search will still ask for trials: a freed slot waits for the next one only then. Default: always
   * (a freed slot then waits up to 2 s before it idles).
   */
  moreTrials?: () => boolean;
  /** Data parallelism: this is rank 0; each group is announced to the other ranks, which train it with this one. */
  collective?: Collective;
  /** False: groups always train the model's whole vocabulary (keepsReachedVocabulary). Default true. */
  keepReachedVocabulary?: boolean;
}

/**
 * Trials fuse only when this key is equal: the arguments every slot must share, the model's shape settings, and
 * whether they save checkpoints (a group that saves none keeps only the vocabulary its data reaches).
 */
export function fusionKey(args: TrainingArguments, model: Partial<ModelConfig> = {}): string {
  const settings = Object.entries(model).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([SLOT_SHARED_ARGUMENTS.map((k) => args[k]), settings, args.saveStrategy === 'no']);
}

/**
 * Whether a group of trials with `args` trains on the vocabulary its data reaches (reached-vocabulary.ts), when its
 * model can keep part of its token embedding. Not when the trials save checkpoints (a checkpoint holds the whole
 * table), not with a data collator of the user's (it may look for ids of its own, as a masking collator does), and
 * not under data parallelism (the other ranks build their groups from the full vocabulary).
 */
export function keepsReachedVocabulary(o: Pick<FusedRunnerOptions, 'dataCollator' | 'collective' | 'keepReachedVocabulary'>, args: TrainingArguments): boolean {
  return (o.keepReachedVocabulary ?? true) && args.saveStrategy === 'no' && !o.dataCollator && !o.collective;
}

/**
 * `modelInit` told the reached vocabulary (`context.vocabulary`); a model that did not build with it keeps its rows
 * after, if it can. None given: `modelInit` as it is.
 */
export function withVocabulary(modelInit: ModelInit, vocabulary: ReachedVocabulary | null): ModelInit {
  if (!vocabulary) return modelInit;
  const rows = vocabulary.rows;
  return (device, seeds, context) => {
    const model = modelInit(device, seeds, { trials: [], model: {}, ...context, vocabulary: rows });
    if (!model.keptVocabulary) model.keepVocabulary?.(rows);
    const kept = model.keptVocabulary;
    if (kept && (kept.length !== rows.length || kept.some((id, i) => id !== rows[i]))) {
      model.release();
      throw new Error(`modelInit built a model that keeps ${kept.length} token embedding rows, not the ${rows.length} the data reaches (context.vocabulary)`);
    }
    return model;
  };
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

/** How long a freed slot waits for the search's next trial before it idles (a new trial still fills it later). */
const REFILL_WAIT_MS = 2000;

export class FusedRunner {
  private readonly waiting: Pending[] = [];
  private running = false;
  private arrival: (() => void) | null = null;
  private readonly idleWaiters: (() => void)[] = [];
  /** Per max_seq_length: the vocabulary the data reaches there, and the data renumbered to it. */
  private readonly vocabularies = new Map<number, { vocabulary: ReachedVocabulary; train: EncodedExample[]; eval: EncodedExample[]; padId: number }>();

  constructor(private readonly options: FusedRunnerOptions) {}

  /** Trains the trial's configuration in a slot as soon as one is free; resolves with its metrics and objective. */
  run(request: SlotRequest): Promise<SlotResult> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ ...request, resolve, reject });
      this.arrival?.();
      // Trials asked together arrive within the same turn of the event loop: gather them, then start a group.
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.runGroups());
      }
    });
  }

  /** One group at a time (one GPU): each starts with up to `slots` trials of one fusion key and refills as they end. */
  private async runGroups(): Promise<void> {
    while (this.waiting.length > 0) {
      if (this.options.signal?.aborted) {
        for (const pending of this.waiting.splice(0)) pending.reject(new Error('interrupted'));
        break;
      }
      const key = fusionKey(this.waiting[0].args, this.waiting[0].model);
      const members: Pending[] = [];
      for (let i = 0; i < this.waiting.length && members.length < this.options.slots; ) {
        if (fusionKey(this.waiting[i].args, this.waiting[i].model) === key) members.push(...this.waiting.splice(i, 1));
        else i++;
      }
      await this.runGroup(members, key);
    }
    this.running = false;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** The data's reached vocabulary at `maxSeqLength`, with the data renumbered to it (computed once per length). */
  private reached(maxSeqLength: number) {
    let entry = this.vocabularies.get(maxSeqLength);
    if (!entry) {
      const data = this.options.datasets(maxSeqLength);
      const vocabulary = new ReachedVocabulary([data.train, data.eval], [this.options.padId]);
      entry = { vocabulary, train: vocabulary.renumber(data.train), eval: vocabulary.renumber(data.eval), padId: vocabulary.numberOf(this.options.padId) };
      this.vocabularies.set(maxSeqLength, entry);
    }
    return entry;
  }

  /** Resolves once no group runs: every group's buffers are back in the pool. */
  idle(): Promise<void> {
    return this.running ? new Promise((resolve) => this.idleWaiters.push(resolve)) : Promise.resolve();
  }

  /**
   * The next trial for a slot of the group of `key`: one waiting already, or one the search is about to ask for
   * (it asks as soon as a trial ends). None when a trial of another key waits (that group goes next, so no key
   * starves), the search has no trial left, or none came in time.
   */
  private async nextMember(key: string): Promise<Pending | null> {
    const deadline = performance.now() + REFILL_WAIT_MS;
    for (;;) {
      if (this.options.signal?.aborted) return null;
      if (this.waiting.some((p) => fusionKey(p.args, p.model) !== key)) return null;
      if (this.waiting.length > 0) return this.waiting.shift()!;
      const wait = deadline - performance.now();
      if (wait <= 0 || !(this.options.moreTrials?.() ?? true)) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => ((this.arrival = null), resolve()), wait);
        this.arrival = () => {
          clearTimeout(timer);
          this.arrival = null;
          resolve();
        };
      });
    }
  }

  private async runGroup(first: Pending[], key: string): Promise<void> {
    const o = this.options;
    let model: TrainableModel | null = null;
    let optimizer: AdamW | null = null;
    let group: TrainingGroup | null = null;
    // Per slot: its trial, and the metrics and objective of its last evaluation reported during training (HF's
    // trainer.objective); a refilled slot starts these afresh.
    const members = [...first];
    const pruned: boolean[] = members.map(() => false);
    const lastMetrics: (Record<string, number> | undefined)[] = members.map(() => undefined);
    const lastObjective: (number | number[] | undefined)[] = members.map(() => undefined);
    const settled: boolean[] = members.map(() => false);
    const interrupted: boolean[] = members.map(() => false);
    const settlements: (() => void)[] = [];
    const evaluations = { groupStep: -1, results: new Map<number, Record<string, number>>() };
    try {
      const modelSettings = members[0].model ?? {};
      // A group that saves no checkpoint trains on the vocabulary its data reaches (fusionKey keeps savers apart).
      const maxSeqLength = members[0].args.maxSeqLength;
      const reached = keepsReachedVocabulary(o, members[0].args) ? this.reached(maxSeqLength) : null;
      const modelInit = withVocabulary(o.modelInit, reached?.vocabulary ?? null);
      // Every model of the group (its first, a refill's, a shrunk one) is modelInit's for its trials, with the group's
      // model settings: a fusion key includes them, so they are every trial's.
      const build = (trials: readonly Pending[]): TrainableModel => {
        const built = modelInit(o.device, trials.map((m) => m.args.seed), { trials: trials.map((m) => m.trial), model: { ...modelSettings } });
        try {
          checkModelSettings(built, modelSettings);
        } catch (error) {
          built.release();
          throw error;
        }
        return built;
      };
      model = build(members);
      // A model that can keep part of its vocabulary did: the group's data is renumbered to it.
      const source = reached && model.keptVocabulary ? { ...o, datasets: () => reached, padId: reached.padId } : o;
      const config = model.config;
      optimizer = new AdamW(o.device, model.namedParameters(), members.map((m) => optimizerSettings(m.args)));
      const reporter: TrainerCallback = {
        onStepEnd: ({ slot }) => {
          if (!o.signal?.aborted) return {};
          interrupted[slot] = true;
          return { shouldTrainingStop: true };
        },
        // HF's _report_to_hp_search: the objective of every evaluation; the last one is the trial's.
        onEvaluate: ({ slot, globalStep }, metrics) => {
          const objective = o.computeObjective(metrics);
          lastMetrics[slot] = metrics;
          lastObjective[slot] = objective;
          const trial = members[slot].trial;
          if (typeof objective !== 'number') return {}; // Multi-objective trials are not pruned (as Optuna).
          trial.report(objective, globalStep);
          if (trial.shouldPrune()) {
            pruned[slot] = true;
            return { shouldTrainingStop: true };
          }
          return {};
        },
      };
      // A slot's trial settles as soon as its run ends; the slot then takes the search's next trial, if any.
      const onSlotEnd = async (slot: number, output: TrainOutput): Promise<void> => {
        // Trials never evaluated during training that end at the same step share one evaluation (of them only).
        const evaluate = async (): Promise<Record<string, number>> => {
          if (evaluations.groupStep !== group!.state.globalStep || !evaluations.results.has(slot)) {
            const targets = group!.slotsEnding().filter((s) => lastMetrics[s] === undefined);
            const results = await group!.evaluateSlots(targets);
            evaluations.groupStep = group!.state.globalStep;
            evaluations.results = new Map(targets.map((s, i) => [s, results[i]]));
          }
          return evaluations.results.get(slot)!;
        };
        settlements.push(await this.settlement(members[slot], output, { interrupted: interrupted[slot], pruned: pruned[slot], metrics: lastMetrics[slot], objective: lastObjective[slot] }, evaluate));
        settled[slot] = true;
      };
      const nextTrial = async (slot: number): Promise<SlotRefill | null> => {
        // Trials that ended at the same step settle together, before the search is asked for any new one.
        for (const settle of settlements.splice(0)) settle();
        const next = await this.nextMember(key);
        if (!next) return null;
        let fresh: TrainableModel;
        try {
          fresh = build([next]);
        } catch (error) {
          next.reject(error);
          return null;
        }
        members[slot] = next;
        pruned[slot] = false;
        interrupted[slot] = false;
        lastMetrics[slot] = undefined;
        lastObjective[slot] = undefined;
        settled[slot] = false;
        return {
          args: next.args,
          weights: fresh.namedParameters().map(([, t]) => t),
          hiddenDropout: next.hiddenDropout ?? config.hiddenDropoutProb,
          attentionDropout: next.attentionDropout ?? config.attentionDropoutProb,
          trialNumber: next.trial.number,
          params: { ...next.trial.params },
          // The copies are recorded before any later use of these buffers, so they can go back to the pool now.
          release: () => fresh.release(),
        };
      };
      // No trial left for idle slots: the group goes on with its training slots only, weights and state copied.
      const shrink = async (keepSlots: readonly number[]) => {
        const kept = keepSlots.map((slot) => members[slot]);
        ({ model, optimizer } = shrinkModel(o.device, () => build(kept), model!, optimizer!, keepSlots, kept.map((m) => m.args)));
        for (const perSlot of [members, pruned, lastMetrics, lastObjective, settled, interrupted] as unknown[][]) {
          perSlot.splice(0, perSlot.length, ...keepSlots.map((slot) => perSlot[slot]));
        }
        evaluations.groupStep = -1; // the cached results are by old slot numbers
        return { model: model!, optimizer: optimizer! };
      };
      // Under data parallelism, the other ranks build the same group (search-follower.ts).
      await o.collective?.broadcastObject<FollowerMessage>({ type: 'group', members: members.map(memberConfig) }, 0);
      const trainingGroup = new TrainingGroup({
        ...fusedGroupOptions(source, model, optimizer, members.map(memberConfig)),
        callbacks: [reporter, ...(o.callbacks ?? [])],
        onSlotEnd,
        nextTrial,
        shrink,
        // Slots fall due for evaluation at different steps once refilled: each evaluation runs the due slots only.
        evalModel: (slots) => modelInit(o.device, new Array(slots).fill(0), { trials: [], model: { ...modelSettings } }),
        ...(o.collective ? { collective: o.collective } : {}),
      });
      group = trainingGroup;
      await trainingGroup.train();
    } catch (error) {
      members.forEach((member, slot) => {
        if (!settled[slot]) member.reject(error);
      });
    } finally {
      for (const settle of settlements.splice(0)) settle();
      group?.release();
      optimizer?.release();
      model?.release();
    }
  }

  /**
   * How a trial whose run ended settles: pruned, diverged, or its objective: the last evaluation reported during
   * training, else ("If there hasn't been any evaluation during the training loop") one evaluation now.
   */
  private async settlement(
    member: Pending,
    output: TrainOutput,
    reported: { interrupted: boolean; pruned: boolean; metrics?: Record<string, number>; objective?: number | number[] },
    evaluate: () => Promise<Record<string, number>>,
  ): Promise<() => void> {
    const o = this.options;
    const reject = (error: unknown) => () => member.reject(error);
    // A trial stopped by the interrupt fails; one that had trained to its end before it keeps its result.
    if (reported.interrupted) return reject(new Error('interrupted'));
    if (reported.pruned) return reject(new TrialPruned(`pruned at step ${output.globalStep}`));
    const diverged = output.diverged;
    if (diverged) return reject(new Error(`training diverged at step ${diverged.step}: ${diverged.what} is ${diverged.value}`));
    let evaluation = reported.metrics;
    let objective = reported.objective;
    if (evaluation === undefined) {
      try {
        evaluation = await evaluate();
      } catch (error) {
        return reject(error);
      }
      objective = o.computeObjective(evaluation);
    }
    const metrics = { ...evaluation, train_loss: output.trainingLoss };
    const values = Array.isArray(objective) ? objective : [objective!];
    if (values.some((v) => !Number.isFinite(v))) return reject(new Error(`objective is ${values.join(', ')}`));
    return () => member.resolve({ metrics, objective: objective! });
  }
}
