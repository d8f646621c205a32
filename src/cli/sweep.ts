/**
 * `webtrainer sweep`: a hyperparameter search from a config file (JSON or YAML), or with none, a small default
 * sweep on the bundled SST-2 sample. Config files are snake_case throughout, as HF and W&B users write them:
 *   { data: {train, eval, text_column, label_column}, model: {hidden_size, num_layers, …},
 *     training_arguments: {HF TrainingArguments names}, sweep: <a W&B sweep config>
 *     or search: {backend: 'ray' | 'optuna', space, direction, metric, sampler, pruner},
 *     slots: trials fused per group, n_trials, seed }.
 * The old camelCase keys (trainingArguments, nTrials, textColumn, labelColumn, hiddenSize, …) still work, with a
 * one-line deprecation warning naming the new key. Everything is checked before the sweep starts; an error names
 * the file and the key.
 * For 'optuna' in a file, `space` maps names to {type: float|int|categorical, low, high, log, step, choices}.
 * The study is named after the config file (`sweep.yaml` → `sweep`; `webtrainer-default` for the built-in sweep)
 * unless --study-name says otherwise, and is loaded if it exists: the same command resumes it.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { defaultModelConfig, validateModelConfig, type ModelConfig } from '../nn/config.js';
import { SequenceClassifier } from '../nn/sequence-classifier.js';
import type { ParamValue } from '../search/distributions.js';
import type { FrozenTrial } from '../search/frozen-trial.js';
import { resolveSpace } from '../search/spaces/resolve-space.js';
import type { Study } from '../search/study.js';
import { trialHyperparameters, type HyperparameterSearchOptions } from '../train/hyperparameter-search.js';
import { MedianPruner } from '../search/pruners/median.js';
import { SuccessiveHalvingPruner } from '../search/pruners/successive-halving.js';
import type { Pruner } from '../search/pruners/pruner.js';
import { QMCSampler } from '../search/samplers/qmc.js';
import { RandomSampler } from '../search/samplers/random.js';
import type { Sampler } from '../search/samplers/sampler.js';
import { TPESampler } from '../search/samplers/tpe/sampler.js';
import { tune, type RayConfig } from '../search/spaces/ray.js';
import type { WandbSweepConfig } from '../search/spaces/wandb.js';
import type { Trial } from '../search/trial.js';
import { readDataset } from '../train/data/read-dataset.js';
import { classificationMetrics } from '../train/metrics.js';
import { parseModelSettings } from '../train/model-settings.js';
import { BertTokenizer } from '../train/tokenizer/bert-tokenizer.js';
import { Trainer } from '../train/trainer.js';
import { trainingArgumentsFrom, type TrainingArgumentsInput } from '../train/training-arguments.js';
import { parseOptions, UsageError } from './args.js';
import { bundled } from './package-files.js';
import { handleInterrupts, InterruptedError } from './interrupt.js';
import { SweepActivity } from './sweep-activity.js';
import { FROM_SCRATCH_DEFAULTS, namingPath, warn } from './train.js';
import { redactPostgresUrl } from '../search/storage/postgres-url.js';

export interface SweepConfig {
  data?: { train?: string; eval?: string; text_column?: string; label_column?: string };
  /** Model settings, parsed (ModelConfig fields) from the file's snake_case `model:` block. */
  model?: Partial<ModelConfig>;
  training_arguments?: Record<string, unknown>;
  sweep?: WandbSweepConfig;
  search?: { backend: 'ray' | 'optuna'; space: Record<string, unknown>; direction?: 'minimize' | 'maximize'; metric?: string; sampler?: string; pruner?: string };
  slots?: number;
  n_trials?: number;
  seed?: number;
}

/** The sweep that runs with no config: a small W&B-style Bayesian sweep, 4 trials fused per group. */
export const DEFAULT_SWEEP: SweepConfig = {
  training_arguments: { max_steps: 150, logging_steps: 25, eval_strategy: 'steps', eval_steps: 50 },
  sweep: {
    method: 'bayes',
    metric: { name: 'eval_accuracy', goal: 'maximize' },
    parameters: {
      learning_rate: { distribution: 'log_uniform_values', min: 1e-4, max: 3e-3 },
      weight_decay: { distribution: 'uniform', min: 0, max: 0.1 },
      warmup_ratio: { distribution: 'uniform', min: 0, max: 0.2 },
      hidden_dropout_prob: { distribution: 'uniform', min: 0, max: 0.3 },
    },
  },
  slots: 4,
  n_trials: 8,
  seed: 0,
};

/** The study name of the built-in sweep; a config file's study is named after the file. */
export const DEFAULT_STUDY_NAME = 'webtrainer-default';

/** `sweep.yaml` → `sweep`, `configs/my.sweep.json` → `my.sweep`. */
export function defaultStudyName(configPath: string | undefined): string {
  if (configPath === undefined) return DEFAULT_STUDY_NAME;
  const name = basename(configPath).replace(/\.(ya?ml|json)$/i, '');
  return name === '' ? DEFAULT_STUDY_NAME : name;
}

const CONFIG_KEYS = ['data', 'model', 'training_arguments', 'sweep', 'search', 'slots', 'n_trials', 'seed'];
const DATA_KEYS = ['train', 'eval', 'text_column', 'label_column'];
/** Old camelCase keys → the snake_case key that replaces them. */
const DEPRECATED_CONFIG_KEYS: Record<string, string> = { trainingArguments: 'training_arguments', nTrials: 'n_trials' };
const DEPRECATED_DATA_KEYS: Record<string, string> = { textColumn: 'text_column', labelColumn: 'label_column' };

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Renames deprecated keys of `block` in place (one warning each), refusing the old and new spelling together,
 * then refuses any key not in `known`. `where` names the block in messages ('' for the top level, 'data.').
 */
function checkKeys(path: string, where: string, block: Record<string, unknown>, known: string[], deprecated: Record<string, string>, onWarning: (m: string) => void): void {
  for (const [old, replacement] of Object.entries(deprecated)) {
    if (!(old in block)) continue;
    if (replacement in block) throw new Error(`${path}: give either '${where}${replacement}' or the deprecated '${where}${old}', not both`);
    onWarning(`${path}: '${where}${old}' is deprecated; write '${where}${replacement}'`);
    block[replacement] = block[old];
    delete block[old];
  }
  for (const key of Object.keys(block)) {
    if (!known.includes(key)) throw new Error(`${path}: ${where}${key}: unknown key (known: ${known.map((k) => where + k).join(', ')})`);
  }
}

function checkInteger(path: string, key: string, value: unknown, min: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new Error(`${path}: ${key} must be ${min === 1 ? 'a positive' : 'a non-negative'} integer, got ${JSON.stringify(value)}`);
  }
}

/**
 * Reads and checks a sweep config: every key known (an unknown one, such as a misspelt `data.labelColum`, is an
 * error naming it and the file), model settings and training arguments valid, n_trials/slots/seed integers, the
 * space well formed: everything a sweep would otherwise find out trial by trial.
 */
export async function loadSweepConfig(path: string, onWarning: (message: string) => void = warn): Promise<SweepConfig> {
  const text = await namingPath(path, () => readFile(path, 'utf8'));
  let parsed: unknown;
  try {
    parsed = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'}: ${(error as Error).message}`);
  }
  if (!isObject(parsed)) throw new Error(`${path}: the config must be an object`);
  const raw = { ...parsed };
  checkKeys(path, '', raw, CONFIG_KEYS, DEPRECATED_CONFIG_KEYS, onWarning);
  const config: SweepConfig = {};
  if (raw.data !== undefined) {
    if (!isObject(raw.data)) throw new Error(`${path}: data must be a mapping (train, eval, text_column, label_column)`);
    const data = { ...raw.data };
    checkKeys(path, 'data.', data, DATA_KEYS, DEPRECATED_DATA_KEYS, onWarning);
    for (const [key, value] of Object.entries(data)) {
      if (typeof value !== 'string') throw new Error(`${path}: data.${key} must be a string, got ${JSON.stringify(value)}`);
    }
    config.data = data as SweepConfig['data'];
  }
  if (raw.model !== undefined) {
    if (!isObject(raw.model)) throw new Error(`${path}: model must be a mapping of model settings (hidden_size, num_layers, …)`);
    config.model = parseModelSettings(raw.model, { label: (key) => `${path}: model.${key}`, onWarning });
  }
  if (raw.training_arguments !== undefined) {
    if (!isObject(raw.training_arguments)) throw new Error(`${path}: training_arguments must be a mapping of HF TrainingArguments`);
    config.training_arguments = raw.training_arguments;
    try {
      trainingArgumentsFrom({ ...FROM_SCRATCH_DEFAULTS, ...raw.training_arguments });
    } catch (error) {
      throw new Error(`${path}: ${(error as Error).message.replace(/^training arguments: /, 'training_arguments: ')}`, { cause: error });
    }
  }
  checkInteger(path, 'n_trials', raw.n_trials, 1);
  checkInteger(path, 'slots', raw.slots, 1);
  checkInteger(path, 'seed', raw.seed, 0);
  config.n_trials = raw.n_trials as number | undefined;
  config.slots = raw.slots as number | undefined;
  config.seed = raw.seed as number | undefined;
  if (raw.sweep !== undefined && raw.search !== undefined) throw new Error(`${path}: give either 'sweep' (W&B) or 'search', not both`);
  if (raw.sweep !== undefined) {
    if (!isObject(raw.sweep)) throw new Error(`${path}: sweep must be a W&B sweep config (method, metric, parameters)`);
    config.sweep = raw.sweep as unknown as WandbSweepConfig;
  }
  if (raw.search !== undefined) {
    if (!isObject(raw.search)) throw new Error(`${path}: search must be a mapping (backend, space, direction, metric, sampler, pruner)`);
    if (raw.search.backend !== 'ray' && raw.search.backend !== 'optuna') throw new Error(`${path}: search.backend must be ray or optuna, got ${JSON.stringify(raw.search.backend)}`);
    if (!isObject(raw.search.space)) throw new Error(`${path}: search.space must be a mapping of parameter names to their domains`);
    config.search = raw.search as unknown as SweepConfig['search'];
  }
  // The space is converted now (W&B's min < max, Ray domains, sampler and pruner names), not at the first trial.
  try {
    resolveSpace(searchOptionsFrom(config));
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`, { cause: error });
  }
  return config;
}

/** An Optuna space written as data: {name: {type, low, high, log, step, choices}}. */
function optunaSpaceFromData(space: Record<string, unknown>) {
  // Checked now, so that a malformed entry stops the sweep before it starts rather than failing every trial.
  for (const [name, raw] of Object.entries(space)) {
    const type = isObject(raw) ? raw.type : undefined;
    if (type !== 'float' && type !== 'int' && type !== 'categorical') {
      throw new Error(`search.space.${name}: type ${JSON.stringify(type)} must be float, int or categorical`);
    }
  }
  return (trial: Trial): Record<string, ParamValue> => {
    const out: Record<string, ParamValue> = {};
    for (const [name, raw] of Object.entries(space)) {
      const spec = raw as { type: string; low: number; high: number; log?: boolean; step?: number; choices?: ParamValue[] };
      if (spec.type === 'float') out[name] = trial.suggestFloat(name, spec.low, spec.high, { log: spec.log, step: spec.step });
      else if (spec.type === 'int') out[name] = trial.suggestInt(name, spec.low, spec.high, { log: spec.log, step: spec.step });
      else if (spec.type === 'categorical') out[name] = trial.suggestCategorical(name, spec.choices ?? []);
      else throw new Error(`search.space.${name}: type '${spec.type}' must be float, int or categorical`);
    }
    return out;
  };
}

/** A Ray config written as data: {name: {uniform: [a, b]} | {loguniform: [a, b]} | {choice: [...]} | {grid_search: [...]} …}. */
function rayConfigFromData(space: Record<string, unknown>): RayConfig {
  const out: RayConfig = {};
  for (const [name, raw] of Object.entries(space)) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      out[name] = raw as ParamValue;
      continue;
    }
    const [kind, args] = Object.entries(raw as Record<string, unknown>)[0] ?? [];
    const make = (tune as unknown as Record<string, (...a: unknown[]) => unknown>)[kind ?? ''];
    if (!make) throw new Error(`search.space.${name}: unknown Ray domain '${kind}' (known: ${Object.keys(tune).join(', ')})`);
    out[name] = (kind === 'choice' || kind === 'grid_search' ? make(args) : make(...(args as unknown[]))) as RayConfig[string];
  }
  return out;
}

function namedSampler(name: string | undefined, seed: number | undefined): Sampler | undefined {
  switch (name) {
    case undefined:
      return undefined;
    case 'tpe':
      return new TPESampler({ seed });
    case 'random':
      return new RandomSampler({ seed });
    case 'qmc':
      return new QMCSampler({ seed });
    default:
      throw new Error(`search.sampler '${name}' must be tpe, random or qmc`);
  }
}

function namedPruner(name: string | undefined): Pruner | undefined {
  switch (name) {
    case undefined:
      return undefined;
    case 'median':
      return new MedianPruner();
    case 'asha':
      return new SuccessiveHalvingPruner();
    default:
      throw new Error(`search.pruner '${name}' must be median or asha`);
  }
}

export function searchOptionsFrom(config: SweepConfig): HyperparameterSearchOptions & { metric: string | null } {
  if (config.search) {
    const s = config.search;
    const seed = config.seed;
    return {
      backend: s.backend,
      hpSpace: s.backend === 'ray' ? rayConfigFromData(s.space) : optunaSpaceFromData(s.space),
      direction: s.direction,
      sampler: namedSampler(s.sampler, seed),
      pruner: namedPruner(s.pruner),
      seed,
      metric: s.metric ?? null,
    };
  }
  const sweep = config.sweep ?? DEFAULT_SWEEP.sweep!;
  // HF passes `direction` over the sweep's metric goal; a config file states its goal there, so pass it on.
  return { backend: 'wandb', hpSpace: sweep, seed: config.seed, metric: sweep.metric?.name ?? null, direction: sweep.metric?.goal };
}

/**
 * Seconds between a running trial's heartbeats (`--heartbeat-interval`); a trial silent for twice this is failed by
 * the next sweep on the study (Optuna's heartbeat_interval and grace_period).
 */
export const SWEEP_HEARTBEAT_SECONDS = 10;

export async function runSweep(argv: string[]): Promise<number> {
  const { flags, values } = parseOptions(argv, ['json']);
  for (const key of values.keys()) {
    if (!['config', 'storage', 'study-name', 'n-trials', 'slots', 'heartbeat-interval'].includes(key)) throw new UsageError(`unknown option --${key}`);
  }
  const json = flags.has('json');
  // Checked before any file is read: a bad number on the command line is a usage error (exit 2).
  const nTrialsOption = values.has('n-trials') ? positiveInteger('n-trials', values.get('n-trials')!) : undefined;
  const slotsOption = values.has('slots') ? positiveInteger('slots', values.get('slots')!) : undefined;
  const heartbeatSeconds = values.has('heartbeat-interval') ? positiveInteger('heartbeat-interval', values.get('heartbeat-interval')!) : SWEEP_HEARTBEAT_SECONDS;
  const configPath = values.get('config');
  const config = configPath !== undefined ? await loadSweepConfig(configPath) : DEFAULT_SWEEP;
  const where = configPath ?? 'the built-in sweep';
  const storage = values.get('storage');
  // A stable name, loaded if it exists: running the same command again resumes the study.
  const studyName = values.get('study-name') ?? defaultStudyName(configPath);
  const resume = resumeCommand(values, flags, studyName);
  const say = (text: string) => (json ? process.stderr : process.stdout).write(text);
  const data = config.data ?? {};
  const columns = { textColumn: data.text_column, labelColumn: data.label_column, labels: 'auto' as const, onWarning: warn };
  const train = await readDataset(data.train ?? bundled.sst2Train(), columns);
  const evalSet = await readDataset(data.eval ?? (data.train ? failNoEval() : bundled.sst2Dev()), { ...columns, labels: train.labelMap });
  const tokenizer = await BertTokenizer.fromVocabFile(bundled.vocab());
  const trainingArguments: Record<string, unknown> = { ...FROM_SCRATCH_DEFAULTS, save_strategy: 'no', ...(config.training_arguments ?? {}) };
  let model: ModelConfig;
  try {
    // As `train`: positions for the longest sequence the arguments allow, unless the config sets them.
    const positions = Math.max(defaultModelConfig.maxPositionEmbeddings, trainingArgumentsFrom(trainingArguments).maxSeqLength);
    model = validateModelConfig({ ...defaultModelConfig, vocabSize: tokenizer.vocab.size, numLabels: train.labelMap.size, maxPositionEmbeddings: positions, ...config.model });
  } catch (error) {
    throw new Error(`${where}: ${(error as Error).message}`, { cause: error });
  }
  const activity = new SweepActivity(storage);
  const trainer = new Trainer({
    // A trial's model settings (hidden_size, num_layers, … in the space) come in `context.model`.
    modelInit: (device, seeds, context) => new SequenceClassifier(device, validateModelConfig({ ...model, ...context?.model }), seeds),
    callbacks: [{ onStepEnd: ({ globalStep }) => activity.stepEnded(globalStep) }],
    args: trainingArguments as TrainingArgumentsInput, // checked by loadSweepConfig, and by the Trainer
    trainDataset: train,
    evalDataset: evalSet,
    tokenizer,
    computeMetrics: ({ predictions, labelIds, numLabels }) => classificationMetrics(predictions, labelIds, numLabels),
  });
  const { metric, ...search } = searchOptionsFrom(config);
  const space = resolveSpace(search);
  const nTrials = nTrialsOption ?? config.n_trials ?? 20;
  const slots = slotsOption ?? config.slots ?? 1;
  say(`sweep: ${nTrials} trials on ${train.path} (${train.examples.length} examples), ${slots} fused per group, ` +
    `${space.direction} ${metric ?? 'the default objective'}\n`);
  const started = performance.now();
  const table = new TrialTable(say);
  let study: Study | null = null;
  // Ctrl-C, SIGTERM or SIGHUP: running trials are marked FAIL ('interrupted'), the study stays consistent and
  // resumable, the trials so far are summarised, and the exit code is 130.
  const controller = new AbortController();
  const interrupt = handleInterrupts((signal) => {
    say(`\n${signal}: stopping the running trials; ${storage ? `resume the study with:\n  ${resume}` : 'the study is in memory and will be lost (give --storage sqlite:FILE to keep one)'}\n(${signal} again to exit now)\n`);
    controller.abort();
  });
  const searching = trainer.hyperparameterSearch({
    signal: controller.signal,
    ...search,
    direction: space.direction,
    nTrials,
    slots,
    storage,
    studyName,
    loadIfExists: true,
    // A worker killed outright (SIGKILL, a lost machine) leaves its trials RUNNING; their heartbeat stops, and the
    // next sweep on the study fails them after the grace period (Optuna's heartbeat_interval / grace_period).
    heartbeatInterval: heartbeatSeconds,
    gracePeriod: 2 * heartbeatSeconds,
    computeObjective: metric ? (m) => objectiveMetric(m, metric) : undefined,
    onWarning: warn,
    onStudy: (s) => {
      study = s;
      const earlier = s.trials.length;
      if (earlier > 0) say(`study '${s.studyName}': resuming after ${earlier} trial${earlier === 1 ? '' : 's'}\n`);
    },
    onTrialStart: (s, trial) => activity.trialStarted(s.studyName, trial.number),
    onTrialEnd: (_study, trial) => {
      activity.trialEnded(trial.number);
      table.row(trial);
    },
  });
  let failure: unknown = null;
  try {
    await searching;
  } catch (error) {
    failure = error;
  } finally {
    interrupt.dispose();
    trainer.release();
  }
  const thisRun = new Set(table.trials.map((t) => t.number));
  const allTrials = (study as Study | null)?.trials ?? table.trials;
  const best = bestTrial(allTrials, space.direction);
  const summary = {
    ...(interrupt.signal ? { interrupted: interrupt.signal } : {}),
    study_name: studyName,
    best_run: best ? { run_id: String(best.number), objective: best.values![0], hyperparameters: trialHyperparameters(best), from_this_run: thisRun.has(best.number) } : null,
    trials: allTrials.map((t) => ({
      number: t.number,
      state: t.state,
      params: trialHyperparameters(t),
      value: t.values?.[0] ?? null,
      fail_reason: typeof t.userAttrs.fail_reason === 'string' ? t.userAttrs.fail_reason : null,
      this_run: thisRun.has(t.number),
    })),
    runtime_seconds: Math.round((performance.now() - started) / 100) / 10,
  };
  const completedNow = table.trials.filter((t) => t.state === 'COMPLETE');
  // Failed before any trial ended (a bad space, an unreadable study): its own error says why.
  if (failure && !interrupt.signal && table.trials.length === 0) throw failure;
  if (json) process.stdout.write(JSON.stringify(summary) + '\n');
  else if (best) {
    const origin = thisRun.has(best.number) ? '' : ` (from an earlier run; this run's best: ${describeBest(bestTrial(completedNow, space.direction))})`;
    say(`best run in study '${studyName}' (${allTrials.length} trials): trial ${best.number}, objective ${best.values![0]}${origin}\n  ${JSON.stringify(trialHyperparameters(best))}\n`);
  }
  if (interrupt.signal) {
    const message = failure instanceof Error ? failure.message : 'stopped';
    throw new InterruptedError(`interrupted by ${interrupt.signal}: ${message}${storage ? `; resume with: ${resume}` : ''}`, { cause: failure });
  }
  if (completedNow.length === 0) {
    // Every new trial failed (or none ran): an old best run is no result of this run, and the exit code says so.
    const reasons = [...new Set(table.trials.map((t) => String(t.userAttrs.fail_reason ?? t.state)))].slice(0, 3);
    const ended = table.trials.length === 0 ? 'none ran' : `${table.trials.length} ended: ${reasons.join('; ')}`;
    throw new Error(`no trial completed in this run (${ended}); study '${studyName}' holds ${allTrials.length} trials`, { cause: failure ?? undefined });
  }
  if (failure) throw failure;
  return 0;
}

/** The best COMPLETE trial (single objective), or null. */
function bestTrial(trials: readonly FrozenTrial[], direction: 'minimize' | 'maximize'): FrozenTrial | null {
  const sign = direction === 'maximize' ? -1 : 1;
  const complete = trials.filter((t) => t.state === 'COMPLETE' && Array.isArray(t.values) && t.values.length > 0);
  return complete.sort((a, b) => sign * (a.values![0] - b.values![0]) || a.number - b.number)[0] ?? null;
}

function describeBest(trial: FrozenTrial | null): string {
  return trial ? `trial ${trial.number}, objective ${trial.values![0]}` : 'none completed';
}

/** A word as a POSIX shell reads it back: quoted when it has anything but safe characters. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

/** The command that resumes this sweep: the same options, with --storage and --study-name spelled out. */
export function resumeCommand(values: ReadonlyMap<string, string>, flags: ReadonlySet<string>, studyName: string): string {
  const words = ['webtrainer', 'sweep'];
  // A PostgreSQL URL's password is not printed: the user supplies it again.
  for (const key of ['config', 'storage', 'n-trials', 'slots', 'heartbeat-interval']) if (values.has(key)) words.push(`--${key}`, key === 'storage' ? redactPostgresUrl(values.get(key)!) : values.get(key)!);
  words.push('--study-name', studyName);
  if (flags.has('json')) words.push('--json');
  return words.map(shellWord).join(' ');
}

function positiveInteger(option: string, value: string): number {
  const number = Number(value);
  if (value.trim() === '' || !Number.isInteger(number) || number < 1) throw new UsageError(`--${option} must be a positive integer, got '${value}'`);
  return number;
}

function failNoEval(): never {
  throw new Error('data.eval: a sweep needs an evaluation file (the objective comes from evaluation)');
}

function objectiveMetric(metrics: Record<string, number>, name: string): number {
  const value = metrics[name] ?? metrics[`eval_${name}`];
  if (value === undefined) throw new Error(`metric '${name}' is not among ${Object.keys(metrics).join(', ')}`);
  return value;
}

/** Prints a row per finished trial: number, state, value, step, the values it trained with; why it failed, below. */
class TrialTable {
  readonly trials: FrozenTrial[] = [];
  private headerShown = false;
  constructor(private readonly say: (text: string) => void) {}
  row(trial: FrozenTrial): void {
    this.trials.push(trial);
    if (!this.headerShown) {
      this.say(`${'trial'.padStart(5)}  ${'state'.padEnd(8)}  ${'value'.padStart(10)}  ${'step'.padStart(5)}  params\n`);
      this.headerShown = true;
    }
    const value = trial.values?.[0];
    const params = Object.entries(trialHyperparameters(trial))
      .map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toPrecision(3)) : typeof v === 'object' && v !== null ? JSON.stringify(v) : v}`)
      .join(' ');
    const steps = [...trial.intermediateValues.keys()];
    const step = steps.length ? String(Math.max(...steps)) : '—';
    this.say(`${String(trial.number).padStart(5)}  ${trial.state.padEnd(8)}  ${value === undefined ? '—'.padStart(10) : value.toFixed(4).padStart(10)}  ${step.padStart(5)}  ${params}\n`);
    const reason = trial.userAttrs.fail_reason;
    if (trial.state !== 'COMPLETE' && typeof reason === 'string') this.say(`${''.padStart(7)}reason: ${reason}\n`);
  }
}
