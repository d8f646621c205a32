/**
 * Training arguments with Hugging Face's names, defaults and checks (transformers/training_args.py) where they
 * apply. camelCase in TypeScript; `trainingArgumentsFrom` also takes HF's snake_case (config files, CLI) and
 * refuses unknown keys and bad values with a message naming them.
 */
import type { SlotOptimizerSettings } from '../nn/optimizer.js';
import { SCHEDULE_NAMES, type ScheduleName } from '../nn/schedules.js';

export type IntervalStrategy = 'no' | 'steps' | 'epoch';

export interface TrainingArguments {
  outputDir: string;
  learningRate: number;
  perDeviceTrainBatchSize: number;
  perDeviceEvalBatchSize: number;
  numTrainEpochs: number;
  /** > 0 overrides numTrainEpochs (HF: max_steps = -1 means unset). */
  maxSteps: number;
  weightDecay: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEpsilon: number;
  warmupRatio: number;
  warmupSteps: number;
  lrSchedulerType: ScheduleName;
  maxGradNorm: number;
  seed: number;
  evalStrategy: IntervalStrategy;
  /** Defaults to loggingSteps, as HF. */
  evalSteps: number | null;
  loggingStrategy: IntervalStrategy;
  loggingSteps: number;
  saveStrategy: IntervalStrategy;
  saveSteps: number;
  saveTotalLimit: number | null;
  loadBestModelAtEnd: boolean;
  metricForBestModel: string | null;
  greaterIsBetter: boolean | null;
  /** Batch examples of similar length together (less padding), as HF's group_by_length. */
  groupByLength: boolean;
  /** Longest tokenized sequence (not an HF training argument: HF sets it on the tokenizer). */
  maxSeqLength: number;
}

export const defaultTrainingArguments: TrainingArguments = {
  outputDir: 'trainer_output',
  learningRate: 5e-5,
  perDeviceTrainBatchSize: 8,
  perDeviceEvalBatchSize: 8,
  numTrainEpochs: 3,
  maxSteps: -1,
  weightDecay: 0,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEpsilon: 1e-8,
  warmupRatio: 0,
  warmupSteps: 0,
  lrSchedulerType: 'linear',
  maxGradNorm: 1,
  seed: 42,
  evalStrategy: 'no',
  evalSteps: null,
  loggingStrategy: 'steps',
  loggingSteps: 500,
  saveStrategy: 'steps',
  saveSteps: 500,
  saveTotalLimit: null,
  loadBestModelAtEnd: false,
  metricForBestModel: null,
  greaterIsBetter: null,
  groupByLength: false,
  maxSeqLength: 64,
};

export function camelCase(key: string): string {
  return key.replace(/[_-]([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** HF's older name for eval_strategy is still accepted. */
const ALIASES: Record<string, keyof TrainingArguments> = { evaluationStrategy: 'evalStrategy' };

/** A training argument that is unknown or has a bad value; the message names it and the value. */
export class TrainingArgumentsError extends Error {
  override name = 'TrainingArgumentsError';
}

/** `fooBarBaz` → `foo_bar_baz`, as a type: Hugging Face's names for this project's camelCase fields. */
type SnakeCase<S extends string> = S extends `${infer Head}${infer Tail}`
  ? `${Head extends Lowercase<Head> ? Head : `_${Lowercase<Head>}`}${SnakeCase<Tail>}`
  : S;

/**
 * Training arguments as a user writes them, with Hugging Face's snake_case names (`learning_rate`,
 * `per_device_train_batch_size`, …), each optional and typed: a misspelt name does not type-check.
 */
export type TrainingArgumentsInput = { [K in keyof TrainingArguments as SnakeCase<K & string>]?: TrainingArguments[K] };

export function trainingArgumentsFrom(values: Record<string, unknown> = {}): TrainingArguments {
  const args: TrainingArguments = { ...defaultTrainingArguments };
  for (const [rawKey, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const key = (ALIASES[camelCase(rawKey)] ?? camelCase(rawKey)) as keyof TrainingArguments;
    if (!(key in defaultTrainingArguments)) throw new TrainingArgumentsError(`training arguments: unknown argument '${rawKey}'`);
    (args as unknown as Record<string, unknown>)[key] = coerce(rawKey, value, defaultTrainingArguments[key]);
  }
  return validateTrainingArguments(args);
}

function coerce(key: string, value: unknown, example: unknown): unknown {
  if (value === null) return null;
  if (typeof example === 'number' || example === null) {
    const numeric = typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value));
    const number = numeric ? Number(value) : value;
    // Infinity passes a plain "is it a number" test, and an infinite learning rate trains NaN weights.
    if (typeof number === 'number' && !Number.isFinite(number)) {
      throw new TrainingArgumentsError(`training arguments: ${key} must be a finite number, got ${formatValue(value)}`);
    }
    if (typeof number === 'number' || example === null) return number;
    throw new TrainingArgumentsError(`training arguments: ${key} must be a number, got ${formatValue(value)}`);
  }
  if (typeof example === 'boolean') {
    if (value === 'true' || value === true) return true;
    if (value === 'false' || value === false) return false;
    throw new TrainingArgumentsError(`training arguments: ${key} must be true or false, got ${formatValue(value)}`);
  }
  return String(value);
}

export function validateTrainingArguments(args: TrainingArguments): TrainingArguments {
  const fail = (key: string, value: unknown, rule: string) => {
    throw new TrainingArgumentsError(`training arguments: ${key} (${formatValue(value)}) ${rule}`);
  };
  // Checked first, for arguments set in code too: every rule below would let Infinity through somewhere.
  for (const [key, value] of Object.entries(args)) {
    if (typeof value === 'number' && !Number.isFinite(value)) fail(key, value, 'must be a finite number');
  }
  const positive = ['learningRate', 'perDeviceTrainBatchSize', 'perDeviceEvalBatchSize', 'loggingSteps', 'saveSteps', 'maxSeqLength'] as const;
  for (const key of positive) if (!(args[key] > 0)) fail(key, args[key], 'must be > 0');
  const integers = ['perDeviceTrainBatchSize', 'perDeviceEvalBatchSize', 'maxSteps', 'warmupSteps', 'loggingSteps', 'saveSteps', 'seed', 'maxSeqLength'] as const;
  for (const key of integers) if (!Number.isInteger(args[key])) fail(key, args[key], 'must be an integer');
  if (!(args.numTrainEpochs > 0) && !(args.maxSteps > 0)) fail('numTrainEpochs', args.numTrainEpochs, 'must be > 0 (or set maxSteps)');
  if (!(args.weightDecay >= 0)) fail('weightDecay', args.weightDecay, 'must be >= 0');
  for (const key of ['adamBeta1', 'adamBeta2'] as const) if (!(args[key] >= 0 && args[key] < 1)) fail(key, args[key], 'must be in [0, 1)');
  if (!(args.adamEpsilon > 0)) fail('adamEpsilon', args.adamEpsilon, 'must be > 0');
  if (!(args.warmupRatio >= 0 && args.warmupRatio <= 1)) fail('warmupRatio', args.warmupRatio, 'must be in [0, 1]');
  if (!(args.warmupSteps >= 0)) fail('warmupSteps', args.warmupSteps, 'must be >= 0');
  if (!(args.maxGradNorm >= 0)) fail('maxGradNorm', args.maxGradNorm, 'must be >= 0 (0 turns clipping off)');
  if (!SCHEDULE_NAMES.includes(args.lrSchedulerType)) fail('lrSchedulerType', args.lrSchedulerType, `must be one of ${SCHEDULE_NAMES.join(', ')}`);
  for (const key of ['evalStrategy', 'loggingStrategy', 'saveStrategy'] as const) {
    if (!['no', 'steps', 'epoch'].includes(args[key])) fail(key, args[key], "must be 'no', 'steps' or 'epoch'");
  }
  if (args.evalSteps !== null && !(Number.isInteger(args.evalSteps) && args.evalSteps > 0)) fail('evalSteps', args.evalSteps, 'must be a positive integer');
  if (args.saveTotalLimit !== null && !(Number.isInteger(args.saveTotalLimit) && args.saveTotalLimit > 0)) {
    fail('saveTotalLimit', args.saveTotalLimit, 'must be a positive integer');
  }
  if (args.loadBestModelAtEnd) {
    // As HF: the best model can only be reloaded if a checkpoint exists at each evaluation.
    if (args.evalStrategy === 'no') fail('loadBestModelAtEnd', true, 'needs evalStrategy other than no');
    if (args.saveStrategy !== args.evalStrategy) {
      fail('loadBestModelAtEnd', true, `needs saveStrategy (${args.saveStrategy}) to match evalStrategy (${args.evalStrategy})`);
    }
    if (args.evalStrategy === 'steps' && args.saveSteps % (args.evalSteps ?? args.loggingSteps) !== 0) {
      fail('saveSteps', args.saveSteps, `must be a multiple of evalSteps (${args.evalSteps ?? args.loggingSteps})`);
    }
  }
  return args;
}

/** JSON for strings and objects; numbers as JavaScript writes them (JSON would write Infinity and NaN as null). */
function formatValue(value: unknown): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

/** The AdamW settings of one slot, from HF's argument names. */
export function optimizerSettings(a: TrainingArguments): SlotOptimizerSettings {
  return { learningRate: a.learningRate, beta1: a.adamBeta1, beta2: a.adamBeta2, epsilon: a.adamEpsilon, weightDecay: a.weightDecay, maxGradNorm: a.maxGradNorm };
}

/** HF: metric_for_best_model defaults to "loss" when loading the best model; greater_is_better follows the name. */
export function bestModelMetric(args: TrainingArguments): { metric: string; greaterIsBetter: boolean } {
  const name = args.metricForBestModel ?? 'loss';
  const metric = name.startsWith('eval_') ? name : `eval_${name}`;
  const greaterIsBetter = args.greaterIsBetter ?? !(name === 'loss' || name === 'eval_loss');
  return { metric, greaterIsBetter };
}
