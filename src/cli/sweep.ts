/**
 * `webtrainer sweep`: a hyperparameter search from a config file (sweep-config.ts), or with none, a small default
 * sweep on the bundled SST-2 sample, printed as a trial table (or one JSON summary with --json).
 * The study is named after the config file (`sweep.yaml` → `sweep`; `webtrainer-default` for the built-in sweep)
 * unless --study-name says otherwise, and is loaded if it exists: the same command resumes it.
 */
import { defaultModelConfig, validateModelConfig, type ModelConfig } from '../nn/config.js';
import { SequenceClassifier } from '../nn/sequence-classifier.js';
import type { FrozenTrial } from '../search/frozen-trial.js';
import { resolveSpace } from '../search/spaces/resolve-space.js';
import type { Study } from '../search/study.js';
import { chooseSearchSlots, trialHyperparameters } from '../train/hyperparameter-search.js';
import { readDataset } from '../train/data/read-dataset.js';
import { classificationMetrics } from '../train/metrics.js';
import { BertTokenizer } from '../train/tokenizer/bert-tokenizer.js';
import { launchedCollective } from '../train/launched-collective.js';
import { LeaderFailed } from '../train/search-follower.js';
import { Trainer } from '../train/trainer.js';
import { trainingArgumentsFrom, type TrainingArgumentsInput } from '../train/training-arguments.js';
import { parseOptions, UsageError } from './args.js';
import { bundled } from './package-files.js';
import { handleInterrupts, InterruptedError } from './interrupt.js';
import { SweepActivity } from './sweep-activity.js';
import { SweepProgress } from './sweep-progress.js';
import { FROM_SCRATCH_DEFAULTS, warn } from './train.js';
import { redactPostgresUrl } from '../search/storage/postgres-url.js';
import { DEFAULT_SWEEP, defaultStudyName, loadSweepConfig, searchOptionsFrom } from './sweep-config.js';

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
  const slotsOption = values.get('slots') === 'auto' ? 'auto' as const : values.has('slots') ? positiveInteger('slots', values.get('slots')!, " or 'auto'") : undefined;
  const heartbeatSeconds = values.has('heartbeat-interval') ? positiveInteger('heartbeat-interval', values.get('heartbeat-interval')!) : SWEEP_HEARTBEAT_SECONDS;
  const configPath = values.get('config');
  const config = configPath !== undefined ? await loadSweepConfig(configPath) : DEFAULT_SWEEP;
  const where = configPath ?? 'the built-in sweep';
  const storage = values.get('storage');
  // A stable name, loaded if it exists: running the same command again resumes the study.
  const studyName = values.get('study-name') ?? defaultStudyName(configPath);
  const resume = resumeCommand(values, flags, studyName);
  const sayStream = json ? process.stderr : process.stdout; // --json: stdout holds only the JSON
  const say = (text: string) => sayStream.write(text);
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
  let progress: SweepProgress | null = null; // made once the number of trials is known
  const trainer = new Trainer({
    // A trial's model settings (hidden_size, num_layers, … in the space) come in `context.model`.
    modelInit: (device, seeds, context) => new SequenceClassifier(device, validateModelConfig({ ...model, ...context?.model }), seeds, { keptVocabulary: context?.vocabulary }),
    callbacks: [{
      onStepEnd: ({ trialNumber, globalStep, maxSteps }) => {
        if (trialNumber === undefined) return;
        activity.stepEnded(trialNumber, globalStep);
        progress?.stepEnded(trialNumber, globalStep, maxSteps);
      },
      onLog: ({ trialNumber }, logs) => {
        if (trialNumber !== undefined && logs.loss !== undefined) progress?.logged(trialNumber, logs.loss);
      },
      onEvaluate: ({ trialNumber }, metrics) => {
        // The objective's metric (as objectiveMetric finds it), else eval_loss.
        const name = metric ? (metrics[metric] !== undefined ? metric : `eval_${metric}`) : 'eval_loss';
        if (trialNumber !== undefined && metrics[name] !== undefined) progress?.evaluated(trialNumber, name, metrics[name]);
      },
    }],
    args: trainingArguments as TrainingArgumentsInput, // checked by loadSweepConfig, and by the Trainer
    trainDataset: train,
    evalDataset: evalSet,
    tokenizer,
    computeMetrics: ({ predictions, labelIds, numLabels }) => classificationMetrics(predictions, labelIds, numLabels),
  });
  const { metric, ...search } = searchOptionsFrom(config);
  // Under `webtrainer launch`, rank 0 owns the study and speaks; the other ranks train its trials with it.
  const collective = await launchedCollective();
  if (collective && collective.rank !== 0) return followSweep(trainer);
  const worldSize = collective?.worldSize ?? 1;
  const space = resolveSpace(search);
  const nTrials = nTrialsOption ?? config.n_trials ?? 20;
  const slotsSetting = slotsOption ?? config.slots ?? 'auto';
  let slots: number;
  let slotsText: string;
  if (slotsSetting === 'auto') {
    const choice = await chooseSearchSlots(trainer, search, collective, nTrials);
    slots = choice.slots;
    slotsText = choice.summary;
  } else {
    slots = slotsSetting;
    slotsText = `${slots} fused per group`;
  }
  say(`sweep: ${nTrials} trials on ${train.path} (${train.examples.length} examples), ${slotsText}, ` +
    `${space.direction} ${metric ?? 'the default objective'}\n`);
  const started = performance.now();
  const table = new TrialTable(say);
  const live = new SweepProgress(nTrials, space.direction, sayStream);
  progress = live;
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
    onTrialStart: (s, trial) => {
      activity.trialStarted(s.studyName, trial.number);
      live.trialStarted(trial.number);
    },
    onTrialEnd: (_study, trial) => {
      activity.trialEnded(trial.number);
      live.trialEnded(trial);
      live.above(() => table.row(trial));
    },
  });
  let failure: unknown = null;
  try {
    await searching;
  } catch (error) {
    failure = error;
  } finally {
    live.finish();
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
    ...(worldSize > 1 ? { world_size: worldSize } : {}),
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

/**
 * A rank other than 0 of a launched sweep: trains the groups rank 0 announces until it announces the end, silently
 * (rank 0 prints, writes the study and sets the exit code; an interrupt is rank 0's to act on).
 */
async function followSweep(trainer: Trainer): Promise<number> {
  const ignore = () => {};
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, ignore);
  try {
    await trainer.hyperparameterSearch();
    return 0;
  } catch (error) {
    if (error instanceof LeaderFailed) return 0; // rank 0 reports it, with its own exit code
    throw error;
  } finally {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, ignore);
  }
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

function positiveInteger(option: string, value: string, orElse = ''): number {
  const number = Number(value);
  if (value.trim() === '' || !Number.isInteger(number) || number < 1) throw new UsageError(`--${option} must be a positive integer${orElse}, got '${value}'`);
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
