/**
 * `trainer.hyperparameterSearch(...)` with Hugging Face's semantics (transformers `Trainer.hyperparameter_search`,
 * `_hp_search_setup`, `_report_to_hp_search`, `_get_output_dir`; `integrations/integration_utils.py`
 * `run_hp_search_optuna/ray/wandb`): requires `modelInit`, which sees the trial (HF's `model_init(trial)`); default
 * 20 trials; the default objective is eval_loss alone when it is the only metric, else the sum of the other
 * evaluation metrics; default spaces per backend as HF's. The space may be written in Optuna's define-by-run
 * style, as a Ray Tune config or as a W&B sweep config; `slots` trials are fused into one set of kernels at a time
 * (FusedRunner). The space is resolved by the study layer (search/spaces/resolve-space.ts); this file is the
 * Trainer's side of the integration, as HF keeps it beside the Trainer.
 * - A trial's values are applied as `_hp_search_setup` does: each is cast to the type of its TrainingArguments
 *   field (Python `int()` truncation for whole-number fields), model settings (`hidden_size`, `num_layers`, …,
 *   see model-settings.ts) go to `modelInit`, and any other key is a warning, not an error.
 * - Each evaluation during training is reported to the trial (pruning); the objective is the last one, and the
 *   trial is evaluated once after training only when it was never evaluated during it.
 * - Each trial writes under `output_dir/run-{trial number}` (HF's run name; `hpName` names it otherwise).
 * - `BestRun.hyperparameters` are the values the trial trained with, under the space's names (user attr
 *   `hyperparameters`), not the sampler's internal parameters.
 * Heartbeats (heartbeatInterval, gracePeriod, failedTrialCallback: see heartbeat.ts) go to the study: every trial,
 * also one waiting in the FusedRunner's queue for its group, beats from ask to tell, and a resumed or concurrent
 * search fails (and may retry) the trials of a killed process.
 */
import { join } from 'node:path';
import type { ModelConfig } from '../nn/config.js';
import type { FrozenTrial } from '../search/frozen-trial.js';
import type { HeartbeatOptions } from '../search/heartbeat.js';
import { defaultComputeObjective } from '../search/spaces/hf-defaults.js';
import type { SpaceValue } from '../search/spaces/param-spec.js';
import { resolveSpace, type SpaceOptions } from '../search/spaces/resolve-space.js';
import type { StudyStorage } from '../search/storage/storage.js';
import { createStudy, type Study } from '../search/study.js';
import type { Trial } from '../search/trial.js';
import type { Collective } from '../distributed/collective.js';
import type { EncodedExample } from './data/collator.js';
import { TPESampler } from '../search/samplers/tpe/sampler.js';
import { FusedRunner, keepsReachedVocabulary, withVocabulary } from './fused-runner.js';
import { ReachedVocabulary } from './data/reached-vocabulary.js';
import { followSearch, type FollowerMessage } from './search-follower.js';
import { chooseSlots, type SlotChoice } from './slot-probe.js';
import { INTEGER_MODEL_SETTINGS, MODEL_SETTING_NAME, modelSettingField, PER_SLOT_MODEL_SETTINGS, checkModelSetting } from './model-settings.js';
import { camelCase, defaultTrainingArguments, trainingArgumentsFrom, type TrainingArguments } from './training-arguments.js';
import type { ModelInit, Trainer } from './trainer.js';

export interface HyperparameterSearchOptions extends HeartbeatOptions, SpaceOptions {
  nTrials?: number;
  /** Seconds after which no new trial starts. */
  timeout?: number;
  computeObjective?: (metrics: Record<string, number>) => number | number[];
  storage?: string | StudyStorage;
  studyName?: string;
  loadIfExists?: boolean;
  /**
   * Trials trained together in one fused group (one set of kernels), or 'auto': chosen from the device's limits
   * and a short throughput probe (slot-probe.ts; `onSlots` hears the choice). Default 1.
   */
  slots?: number | 'auto';
  onSlots?: (choice: SlotChoice) => void;
  /**
   * Default true: groups whose trials save no checkpoint train a model that keeps only the token embedding rows
   * the data reaches (fused-runner.ts, keepsReachedVocabulary): the same results, without the optimizer's pass over
   * every row of the vocabulary. False trains the whole table.
   */
  keepReachedVocabulary?: boolean;
  signal?: AbortSignal;
  /** HF's hp_name: the name of a trial's folder under output_dir (default `run-{trial number}`). */
  hpName?: (trial: Trial) => string;
  /** Where warnings go (a hyperparameter that is neither a training argument nor a model setting). Default: stderr. */
  onWarning?: (message: string) => void;
  /** Called once the study is created or loaded, before any trial. */
  onStudy?: (study: Study) => void;
  /** Called after each trial ends (any state). */
  onTrialEnd?: (study: Study, trial: FrozenTrial) => void;
  /** Called when a trial starts (it is RUNNING in the study from then on, also while it waits for its group). */
  onTrialStart?: (study: Study, trial: Trial) => void;
}

/** HF's BestRun: run_id, objective, hyperparameters, run_summary. */
export interface BestRun {
  runId: string;
  objective: number | number[];
  /** The values the trial trained with, under the names the space gave them (constants included). */
  hyperparameters: Record<string, SpaceValue>;
  runSummary?: Record<string, unknown>;
}

/** The trial user attr holding the values a trial trained with (BestRun.hyperparameters). */
export const HYPERPARAMETERS_ATTR = 'hyperparameters';

/** The values a finished trial trained with: its `hyperparameters` user attr, or its params for a trial without one. */
export function trialHyperparameters(trial: FrozenTrial): Record<string, SpaceValue> {
  const recorded = trial.userAttrs[HYPERPARAMETERS_ATTR];
  return recorded && typeof recorded === 'object' ? (recorded as Record<string, SpaceValue>) : trial.params;
}

/** TrainingArguments fields that are whole numbers (Python `int` in HF's TrainingArguments, or here). */
const INTEGER_ARGUMENTS: ReadonlySet<string> = new Set([
  'perDeviceTrainBatchSize', 'perDeviceEvalBatchSize', 'maxSteps', 'warmupSteps', 'loggingSteps', 'saveSteps', 'seed',
  'maxSeqLength', 'evalSteps', 'saveTotalLimit',
]);
const ARGUMENT_ALIASES: Record<string, keyof TrainingArguments> = { evaluationStrategy: 'evalStrategy' };

/** What a trial trains with: its arguments, per-slot dropout, the model settings that set shapes, and the values. */
export interface TrialConfiguration {
  args: TrainingArguments;
  hiddenDropout?: number;
  attentionDropout?: number;
  /** Model settings that set shapes (hidden size, layers, heads, …): trials differing here train in separate groups. */
  model: Partial<ModelConfig>;
  /** The space's values as applied (cast), under the space's names; keys that were not applied are kept as given. */
  hyperparameters: Record<string, SpaceValue>;
  /** Keys that are neither training arguments nor model settings (ignored, with a warning). */
  ignored: string[];
}

/** Python's int(x): truncation toward zero; a string must be an integer literal. */
export function pythonInt(key: string, value: unknown): number {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`hyperparameter '${key}': cannot convert ${value} to an integer`);
    return Math.trunc(value) + 0; // + 0: no -0
  }
  if (typeof value === 'string' && /^\s*[-+]?\d+\s*$/.test(value)) return Number(value.trim());
  throw new Error(`hyperparameter '${key}': invalid literal for int(): ${JSON.stringify(value)}`);
}

/** Python's float(x). */
function pythonFloat(key: string, value: unknown): number {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value))) return Number(value);
  throw new Error(`hyperparameter '${key}': could not convert ${JSON.stringify(value)} to float`);
}

/** bool: true/false, 'true'/'false', or a number's truth (Python's bool('false') would be True; that is not kept). */
function pythonBool(key: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new Error(`hyperparameter '${key}': expected true or false, got ${JSON.stringify(value)}`);
}

/**
 * Applies a trial's values the way HF's `_hp_search_setup` does: a key naming a TrainingArguments field is cast to
 * that field's type (`type(old_attr)(value)`: int() truncation for whole-number fields; a field whose current
 * value is null takes the value as given), a model setting goes to the model (dropout per slot, the others as shape
 * settings), and any other key is ignored with a warning (HF logs "Trying to set … but there is no corresponding
 * field in `TrainingArguments`"). The arguments are then validated as a Trainer's are.
 */
export function trialConfiguration(
  base: TrainingArguments,
  params: Record<string, SpaceValue>,
  onWarning: (message: string) => void = defaultWarning,
): TrialConfiguration {
  const overrides: Record<string, unknown> = {};
  const model: Partial<ModelConfig> = {};
  const dropout: { hiddenDropout?: number; attentionDropout?: number } = {};
  const hyperparameters: Record<string, SpaceValue> = {};
  const ignored: string[] = [];
  for (const [key, value] of Object.entries(params)) {
    const field = (ARGUMENT_ALIASES[camelCase(key)] ?? camelCase(key)) as keyof TrainingArguments;
    const setting = modelSettingField(key);
    if (field in defaultTrainingArguments && value !== null && typeof value === 'object') {
      throw new Error(`hyperparameter '${key}': a training argument cannot take a nested value (${JSON.stringify(value)})`);
    }
    if (field in defaultTrainingArguments) {
      const old = base[field];
      let cast: unknown = value;
      if (typeof old === 'number') {
        cast = INTEGER_ARGUMENTS.has(field) ? pythonInt(key, value) : pythonFloat(key, value);
      } else if (typeof old === 'boolean') {
        cast = pythonBool(key, value);
      } else if (typeof old === 'string') {
        cast = String(value);
      }
      overrides[field] = cast;
      hyperparameters[key] = cast as SpaceValue;
    } else if (setting && (value === null || typeof value !== 'object')) {
      const { field: name } = setting;
      const cast = INTEGER_MODEL_SETTINGS.has(name) ? pythonInt(key, value) : pythonFloat(key, value);
      checkModelSetting(name, cast, () => `hyperparameter '${key}': model setting ${MODEL_SETTING_NAME[name]} must be ${INTEGER_MODEL_SETTINGS.has(name) ? 'a positive integer' : PER_SLOT_MODEL_SETTINGS.has(name) ? 'in [0, 1)' : '> 0'}, got ${cast}`);
      if (name === 'hiddenDropoutProb') dropout.hiddenDropout = cast;
      else if (name === 'attentionDropoutProb') dropout.attentionDropout = cast;
      else model[name] = cast;
      hyperparameters[key] = cast;
    } else {
      ignored.push(key);
      hyperparameters[key] = value;
      onWarning(`hyperparameter '${key}' is neither a training argument nor a model setting; it is not applied ` +
        "(as Hugging Face's _hp_search_setup: \"no corresponding field in `TrainingArguments`\")");
    }
  }
  const args = trainingArgumentsFrom({ ...base, ...overrides });
  return { args, ...dropout, model, hyperparameters, ignored };
}

function defaultWarning(message: string): void {
  process.stderr.write(`webtrainer: warning: ${message}\n`);
}

export async function hyperparameterSearch(trainer: Trainer, options: HyperparameterSearchOptions = {}): Promise<BestRun | BestRun[]> {
  const modelInit = requireModelInit(trainer);
  const { train, eval: evalSet } = trainer.encodedDatasets();
  if (!train) throw new Error('hyperparameterSearch: the Trainer has no trainDataset');
  if (!evalSet) throw new Error('hyperparameterSearch: the Trainer has no evalDataset (the objective comes from evaluation)');
  const collective = await trainer.getCollective();
  const datasets = (maxSeqLength: number) => {
    const encoded = trainer.encodedDatasets(maxSeqLength);
    return { train: encoded.train!, eval: encoded.eval! };
  };
  // Data parallelism: rank 0 owns the study and announces each group; the other ranks train it with rank 0.
  if (collective && collective.rank !== 0) {
    return (await followSearch({
      device: await trainer.getDevice(),
      collective,
      modelInit,
      datasets,
      padId: trainer.options.tokenizer?.padId ?? 0,
      computeMetrics: trainer.options.computeMetrics,
      callbacks: trainer.options.callbacks,
      dataCollator: trainer.options.dataCollator,
    })) as BestRun | BestRun[];
  }
  try {
    const best = await leadSearch(trainer, modelInit, datasets, options, collective);
    await collective?.broadcastObject<FollowerMessage>({ type: 'done', result: best, error: null }, 0);
    return best;
  } catch (error) {
    // The other ranks end with rank 0's error instead of waiting for a group that never comes.
    await collective?.broadcastObject<FollowerMessage>({ type: 'done', result: null, error: (error as Error).message ?? String(error) }, 0).catch(() => undefined);
    throw error;
  }
}

/** The Trainer's modelInit; a search needs one (as in Hugging Face) so that each trial starts fresh. */
function requireModelInit(trainer: Trainer): ModelInit {
  const modelInit = trainer.options.modelInit;
  if (!modelInit) throw new Error('hyperparameterSearch: the Trainer needs a modelInit (as in Hugging Face) so each trial starts fresh');
  return modelInit;
}

/**
 * `slots: 'auto'` for a search on `trainer` (slot-probe.ts): the probe times the model the search's groups train
 * (probedModelInit) on sequences of its training examples' lengths, with at most `maxSlots` slots.
 */
export async function chooseSearchSlots(
  trainer: Trainer,
  options: Pick<HyperparameterSearchOptions, 'keepReachedVocabulary'>,
  collective: Collective | null,
  maxSlots: number,
): Promise<SlotChoice> {
  const probed = probedModelInit(trainer, options, collective);
  const lengths = trainer.encodedDatasets().train?.map((example) => example.inputIds.length);
  return chooseSlots({ device: await trainer.getDevice(), modelInit: (d, seeds) => probed(d, seeds), args: trainer.args, maxSlots, ...(lengths ? { lengths } : {}) });
}

/**
 * The model a search's groups train, for the slot probe (slot-probe.ts) to time: modelInit's, on the vocabulary the
 * data reaches where the groups keep it (fused-runner.ts, keepsReachedVocabulary).
 */
function probedModelInit(trainer: Trainer, options: Pick<HyperparameterSearchOptions, 'keepReachedVocabulary'>, collective: Collective | null): ModelInit {
  const modelInit = requireModelInit(trainer);
  const keeps = keepsReachedVocabulary({ dataCollator: trainer.options.dataCollator, keepReachedVocabulary: options.keepReachedVocabulary, ...(collective ? { collective } : {}) }, trainer.args);
  if (!keeps) return modelInit;
  const { train, eval: evaluation } = trainer.encodedDatasets();
  if (!train || !evaluation) return modelInit;
  return withVocabulary(modelInit, new ReachedVocabulary([train, evaluation], [trainer.options.tokenizer?.padId ?? 0]));
}

/** The search itself: in one process, or on rank 0 of a data-parallel group. */
async function leadSearch(
  trainer: Trainer,
  modelInit: ModelInit,
  datasets: (maxSeqLength: number) => { train: EncodedExample[]; eval: EncodedExample[] },
  options: HyperparameterSearchOptions,
  collective: Collective | null,
): Promise<BestRun | BestRun[]> {
  const space = resolveSpace(options);
  const directions = options.directions ?? [space.direction];
  // Trials are asked while others run (slots > 1): a TPE sampler the space chose lies about them (Optuna's
  // constant_liar); one the user passed is kept as given.
  const fused = options.slots === 'auto' || (options.slots ?? 1) > 1;
  if (fused && !options.sampler && space.sampler instanceof TPESampler && !space.sampler.constantLiar) space.sampler = space.sampler.withConstantLiar();
  const study = createStudy({
    storage: options.storage,
    sampler: space.sampler,
    pruner: space.pruner,
    directions,
    studyName: options.studyName,
    loadIfExists: options.loadIfExists,
    heartbeatInterval: options.heartbeatInterval,
    gracePeriod: options.gracePeriod,
    failedTrialCallback: options.failedTrialCallback,
  });
  options.onStudy?.(study);
  const computeObjective = options.computeObjective ?? ((m: Record<string, number>) => defaultComputeObjective(m));
  let slots = options.slots ?? 1;
  if (slots !== 'auto' && (!Number.isInteger(slots) || slots < 1)) throw new Error(`hyperparameterSearch: slots (${slots}) must be a positive integer or 'auto'`);
  const nTrials = space.trialCount ? space.trialCount(options.nTrials ?? 20, study.trials.length) : (options.nTrials ?? 20);
  if (slots === 'auto') {
    const choice = await chooseSearchSlots(trainer, options, collective, Math.max(1, nTrials));
    options.onSlots?.(choice);
    slots = choice.slots;
  }
  const started = Date.now();
  let trialsAsked = 0;
  const runner = new FusedRunner({
    device: await trainer.getDevice(),
    modelInit,
    datasets,
    ...(collective ? { collective } : {}),
    padId: trainer.options.tokenizer?.padId ?? 0,
    slots,
    computeMetrics: trainer.options.computeMetrics,
    computeObjective,
    callbacks: trainer.options.callbacks, // HF keeps the Trainer's callbacks during a search
    dataCollator: trainer.options.dataCollator, // and its data collator
    keepReachedVocabulary: options.keepReachedVocabulary,
    signal: options.signal,
    // study.optimize asks for the next trial as soon as one ends, until nTrials have started or the timeout passed.
    moreTrials: () => trialsAsked < nTrials && !options.signal?.aborted && (options.timeout === undefined || (Date.now() - started) / 1000 < options.timeout),
  });
  // HF logs the warning on every trial; once per key is enough to read.
  const warned = new Set<string>();
  const onWarning = options.onWarning ?? defaultWarning;
  await study.optimize(
    async (trial) => {
      trialsAsked++;
      options.onTrialStart?.(study, trial);
      const params = space.hpSpace(trial);
      let configuration: TrialConfiguration;
      try {
        configuration = trialConfiguration(trainer.args, params, (message) => {
          if (!warned.has(message)) (warned.add(message), onWarning(message));
        });
      } catch (error) {
        trial.setUserAttr(HYPERPARAMETERS_ATTR, params); // what the space gave, though it could not be applied
        throw error;
      }
      trial.setUserAttr(HYPERPARAMETERS_ATTR, configuration.hyperparameters);
      // HF's _get_output_dir: output_dir/run-{trial.number} (or hp_name(trial)), so trials never share checkpoints.
      const runName = options.hpName ? options.hpName(trial) : `run-${trial.number}`;
      const args = { ...configuration.args, outputDir: join(configuration.args.outputDir, runName) };
      const { hiddenDropout, attentionDropout, model } = configuration;
      const result = await runner.run({ trial, args, hiddenDropout, attentionDropout, model });
      trial.setUserAttr('metrics', result.metrics);
      return result.objective;
    },
    {
      nTrials,
      timeout: options.timeout,
      concurrency: slots,
      signal: options.signal,
      callbacks: [...(space.callbacks ?? []), ...(options.onTrialEnd ? [options.onTrialEnd] : [])],
    },
  );
  // A trial settles as soon as its run ends; the group it ran in gives its buffers back just after.
  await runner.idle();
  const toBestRun = (t: FrozenTrial): BestRun => ({
    runId: String(t.number),
    objective: directions.length === 1 ? t.values![0] : t.values!,
    hyperparameters: trialHyperparameters(t),
    runSummary: t.userAttrs,
  });
  if (options.signal?.aborted) throw new Error(`hyperparameterSearch: interrupted; study '${study.studyName}' keeps ${study.trials.length} trials and can be resumed`);
  if (!study.trials.some((t) => t.state === 'COMPLETE')) {
    const reasons = [...new Set(study.trials.map((t) => String(t.userAttrs.fail_reason ?? t.state)))].slice(0, 3);
    throw new Error(`hyperparameterSearch: no trial completed (${study.trials.length} ran: ${reasons.join('; ')})`);
  }
  return directions.length === 1 ? toBestRun(study.bestTrial) : study.bestTrials.map(toBestRun);
}

