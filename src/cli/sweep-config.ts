/**
 * A sweep's config file (JSON or YAML), read and checked before anything runs. Config files are snake_case
 * throughout, as HF and W&B users write them:
 *   { data: {train, eval, text_column, label_column}, model: {hidden_size, num_layers, …},
 *     training_arguments: {HF TrainingArguments names}, sweep: <a W&B sweep config>
 *     or search: {backend: 'ray' | 'optuna', space, direction, metric, sampler, pruner},
 *     slots: trials fused per group, n_trials, seed }.
 * The old camelCase keys (trainingArguments, nTrials, textColumn, labelColumn, hiddenSize, …) still work, with a
 * one-line deprecation warning naming the new key. An error names the file and the key.
 * For 'optuna' in a file, `space` maps names to {type: float|int|categorical, low, high, log, step, choices}.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ModelConfig } from '../nn/config.js';
import type { ParamValue } from '../search/distributions.js';
import { resolveSpace } from '../search/spaces/resolve-space.js';
import type { HyperparameterSearchOptions } from '../train/hyperparameter-search.js';
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
import { parseModelSettings } from '../train/model-settings.js';
import { trainingArgumentsFrom } from '../train/training-arguments.js';
import { FROM_SCRATCH_DEFAULTS, namingPath, warn } from './train.js';

export interface SweepConfig {
  data?: { train?: string; eval?: string; text_column?: string; label_column?: string };
  /** Model settings, parsed (ModelConfig fields) from the file's snake_case `model:` block. */
  model?: Partial<ModelConfig>;
  training_arguments?: Record<string, unknown>;
  sweep?: WandbSweepConfig;
  search?: { backend: 'ray' | 'optuna'; space: Record<string, unknown>; direction?: 'minimize' | 'maximize'; metric?: string; sampler?: string; pruner?: string };
  /** Trials fused per group, or 'auto' (the default): chosen from the device's limits and a throughput probe. */
  slots?: number | 'auto';
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
  slots: 'auto',
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

function checkInteger(path: string, key: string, value: unknown, min: number, orElse = ''): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new Error(`${path}: ${key} must be ${min === 1 ? 'a positive' : 'a non-negative'} integer${orElse}, got ${JSON.stringify(value)}`);
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
  if (raw.slots !== 'auto') checkInteger(path, 'slots', raw.slots, 1, " or 'auto'");
  checkInteger(path, 'seed', raw.seed, 0);
  config.n_trials = raw.n_trials as number | undefined;
  config.slots = raw.slots as number | 'auto' | undefined;
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
