/**
 * `webtrainer sweep`: a hyperparameter search from a config file (JSON or YAML), or with none, a small default
 * sweep on the bundled SST-2 sample. The config is
 *   { data: {train, eval, textColumn, labelColumn}, model: {...}, trainingArguments: {snake_case HF names},
 *     sweep: <a W&B sweep config> }  or  search: {backend: 'ray' | 'optuna', space, direction, metric, sampler, pruner},
 *     slots: trials fused per group, nTrials }.
 * For 'optuna' in a file, `space` maps names to {type: float|int|categorical, low, high, log, step, choices}.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { defaultModelConfig, type ModelConfig } from '../nn/config.js';
import { SequenceClassifier } from '../nn/sequence-classifier.js';
import type { ParamValue } from '../search/distributions.js';
import type { FrozenTrial } from '../search/frozen-trial.js';
import { resolveSpace } from '../search/spaces/resolve-space.js';
import type { HyperparameterSearchOptions } from '../train/hyperparameter-search.js';
import { MedianPruner } from '../search/pruners/median.js';
import { SuccessiveHalvingPruner } from '../search/pruners/successive-halving.js';
import type { Pruner } from '../search/pruners/pruner.js';
import { GridSampler } from '../search/samplers/grid.js';
import { QMCSampler } from '../search/samplers/qmc.js';
import { RandomSampler } from '../search/samplers/random.js';
import type { Sampler } from '../search/samplers/sampler.js';
import { TPESampler } from '../search/samplers/tpe/sampler.js';
import { tune, type RayConfig } from '../search/spaces/ray.js';
import type { WandbSweepConfig } from '../search/spaces/wandb.js';
import type { Trial } from '../search/trial.js';
import { readDataset } from '../train/data/read-dataset.js';
import { classificationMetrics } from '../train/metrics.js';
import { BertTokenizer } from '../train/tokenizer/bert-tokenizer.js';
import { Trainer } from '../train/trainer.js';
import { camelCase } from '../train/training-arguments.js';
import { parseOptions, UsageError } from './args.js';
import { bundled } from './package-files.js';
import { handleInterrupts, InterruptedError } from './interrupt.js';
import { SweepActivity } from './sweep-activity.js';
import { FROM_SCRATCH_DEFAULTS, namingPath, warn } from './train.js';

export interface SweepConfig {
  data?: { train?: string; eval?: string; textColumn?: string; labelColumn?: string };
  model?: Partial<ModelConfig> & Record<string, number>;
  trainingArguments?: Record<string, unknown>;
  sweep?: WandbSweepConfig;
  search?: { backend: 'ray' | 'optuna'; space: Record<string, unknown>; direction?: 'minimize' | 'maximize'; metric?: string; sampler?: string; pruner?: string };
  slots?: number;
  nTrials?: number;
  seed?: number;
}

/** The sweep that runs with no config: a small W&B-style Bayesian sweep, 4 trials fused per group. */
export const DEFAULT_SWEEP: SweepConfig = {
  trainingArguments: { max_steps: 150, logging_steps: 25, eval_strategy: 'steps', eval_steps: 50 },
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
  nTrials: 8,
  seed: 0,
};

export async function loadSweepConfig(path: string): Promise<SweepConfig> {
  const text = await namingPath(path, () => readFile(path, 'utf8'));
  let parsed: unknown;
  try {
    parsed = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'}: ${(error as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${path}: the config must be an object`);
  const config = parsed as SweepConfig;
  const known = ['data', 'model', 'trainingArguments', 'training_arguments', 'sweep', 'search', 'slots', 'nTrials', 'n_trials', 'seed'];
  for (const key of Object.keys(config)) if (!known.includes(key)) throw new Error(`${path}: unknown key '${key}' (known: ${known.join(', ')})`);
  const raw = config as Record<string, unknown>;
  config.trainingArguments ??= raw.training_arguments as Record<string, unknown> | undefined;
  config.nTrials ??= raw.n_trials as number | undefined;
  if (config.sweep && config.search) throw new Error(`${path}: give either 'sweep' (W&B) or 'search', not both`);
  return config;
}

/** An Optuna space written as data: {name: {type, low, high, log, step, choices}}. */
function optunaSpaceFromData(space: Record<string, unknown>) {
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

/** Seconds between a running trial's heartbeats; a trial silent for twice this is failed by the next sweep. */
export const SWEEP_HEARTBEAT_SECONDS = 10;

export async function runSweep(argv: string[]): Promise<number> {
  const { flags, values } = parseOptions(argv, ['json']);
  for (const key of values.keys()) {
    if (!['config', 'storage', 'study-name', 'n-trials', 'slots'].includes(key)) throw new UsageError(`unknown option --${key}`);
  }
  const json = flags.has('json');
  // Checked before any file is read: a bad number on the command line is a usage error (exit 2).
  const nTrialsOption = values.has('n-trials') ? positiveInteger('n-trials', values.get('n-trials')!) : undefined;
  const slotsOption = values.has('slots') ? positiveInteger('slots', values.get('slots')!) : undefined;
  const config = values.has('config') ? await loadSweepConfig(values.get('config')!) : DEFAULT_SWEEP;
  const say = (text: string) => (json ? process.stderr : process.stdout).write(text);
  const data = config.data ?? {};
  const columns = { textColumn: data.textColumn, labelColumn: data.labelColumn, labels: 'auto' as const, onWarning: warn };
  const train = await readDataset(data.train ?? bundled.sst2Train(), columns);
  const evalSet = await readDataset(data.eval ?? (data.train ? failNoEval() : bundled.sst2Dev()), { ...columns, labels: train.labelMap });
  const tokenizer = await BertTokenizer.fromVocabFile(bundled.vocab());
  const model: ModelConfig = { ...defaultModelConfig, vocabSize: tokenizer.vocab.size, numLabels: train.labelMap.size };
  for (const [key, value] of Object.entries(config.model ?? {})) {
    const name = camelCase(key) as keyof ModelConfig;
    if (!(name in defaultModelConfig)) throw new Error(`model.${key}: unknown model setting`);
    (model as unknown as Record<string, number>)[name] = Number(value);
  }
  const activity = new SweepActivity(values.get('storage'));
  const trainer = new Trainer({
    modelInit: (device, seeds) => new SequenceClassifier(device, model, seeds),
    callbacks: [{ onStepEnd: ({ globalStep }) => activity.stepEnded(globalStep) }],
    args: { ...FROM_SCRATCH_DEFAULTS, save_strategy: 'no', ...(config.trainingArguments ?? {}) },
    trainDataset: train,
    evalDataset: evalSet,
    tokenizer,
    computeMetrics: ({ predictions, labelIds, numLabels }) => classificationMetrics(predictions, labelIds, numLabels),
  });
  const { metric, ...search } = searchOptionsFrom(config);
  const space = resolveSpace(search);
  const nTrials = nTrialsOption ?? config.nTrials ?? 20;
  if (!Number.isInteger(nTrials) || nTrials < 1) throw new Error(`nTrials in the config must be a positive integer, got ${JSON.stringify(nTrials)}`);
  const slots = slotsOption ?? config.slots ?? 1;
  say(`sweep: ${nTrials} trials on ${train.path} (${train.examples.length} examples), ${slots} fused per group, ` +
    `${space.direction} ${metric ?? 'the default objective'}\n`);
  const started = performance.now();
  const table = new TrialTable(say);
  // Ctrl-C, SIGTERM or SIGHUP: running trials are marked FAIL ('interrupted'), the study stays consistent and
  // resumable, the trials so far are summarised, and the exit code is 130.
  const controller = new AbortController();
  const interrupt = handleInterrupts((signal) => {
    say(`\n${signal}: stopping the running trials; the study can be resumed with --study-name (again to exit now)\n`);
    controller.abort();
  });
  const searching = trainer.hyperparameterSearch({
    signal: controller.signal,
    ...search,
    direction: space.direction,
    nTrials,
    slots,
    storage: values.get('storage'),
    studyName: values.get('study-name'),
    loadIfExists: values.has('study-name'),
    // A worker killed outright (SIGKILL, a lost machine) leaves its trials RUNNING; their heartbeat stops, and the
    // next sweep on the study fails them after the grace period (Optuna's heartbeat_interval / grace_period).
    heartbeatInterval: SWEEP_HEARTBEAT_SECONDS,
    gracePeriod: 2 * SWEEP_HEARTBEAT_SECONDS,
    computeObjective: metric ? (m) => objectiveMetric(m, metric) : undefined,
    onTrialStart: (study, trial) => activity.trialStarted(study.studyName, trial.number),
    onTrialEnd: (_study, trial) => {
      activity.trialEnded(trial.number);
      table.row(trial);
    },
  });
  let best: Awaited<typeof searching>;
  try {
    best = await searching;
  } catch (error) {
    if (!interrupt.signal) throw error;
    // Interrupted: the trials that ended in this run, and the best of them, are still worth showing.
    const finished = table.trials.filter((t) => t.state === 'COMPLETE' && t.values !== undefined && t.values !== null);
    const sign = space.direction === 'maximize' ? -1 : 1;
    const top = finished.sort((a, b) => sign * (a.values![0] - b.values![0]))[0];
    const summary = {
      interrupted: interrupt.signal,
      best_run: top ? { run_id: String(top.number), objective: top.values![0], hyperparameters: top.params } : null,
      trials: table.trials.map((t) => ({ number: t.number, state: t.state, params: t.params, value: t.values?.[0] ?? null })),
      runtime_seconds: Math.round((performance.now() - started) / 100) / 10,
    };
    if (json) process.stdout.write(JSON.stringify(summary) + '\n');
    else say(top ? `best completed trial of this run: ${top.number}, objective ${top.values![0]}\n  ${JSON.stringify(top.params)}\n` : 'no trial completed in this run\n');
    throw new InterruptedError(`interrupted by ${interrupt.signal}: ${(error as Error).message}`, { cause: error });
  } finally {
    interrupt.dispose();
    trainer.release();
  }
  const bestRun = Array.isArray(best) ? best[0] : best;
  const summary = {
    best_run: { run_id: bestRun.runId, objective: bestRun.objective, hyperparameters: bestRun.hyperparameters },
    trials: table.trials.map((t) => ({ number: t.number, state: t.state, params: t.params, value: t.values?.[0] ?? null })),
    runtime_seconds: Math.round((performance.now() - started) / 100) / 10,
  };
  if (json) process.stdout.write(JSON.stringify(summary) + '\n');
  else say(`best run: trial ${bestRun.runId}, objective ${String(bestRun.objective)}\n  ${JSON.stringify(bestRun.hyperparameters)}\n`);
  return 0;
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

/** Prints a row per finished trial: number, state, value, parameters. */
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
    const params = Object.entries(trial.params).map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toPrecision(3)) : v}`).join(' ');
    const steps = [...trial.intermediateValues.keys()];
    const step = steps.length ? String(Math.max(...steps)) : '—';
    this.say(`${String(trial.number).padStart(5)}  ${trial.state.padEnd(8)}  ${value === undefined ? '—'.padStart(10) : value.toFixed(4).padStart(10)}  ${step.padStart(5)}  ${params}\n`);
  }
}
