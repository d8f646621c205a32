/**
 * Model settings as users write them, in one place: `train --model-hidden-size 32`, a sweep config's `model:`
 * block and a trial's hyperparameters (`hidden_size` in a search space) all go through `parseModelSettings`.
 * Keys are snake_case, as Hugging Face's BERT config writes them (`hidden_size`, `num_hidden_layers`,
 * `num_attention_heads`, `attention_probs_dropout_prob`, …) or as this project's `ModelConfig` fields read in
 * snake_case (`num_layers`, `num_heads`, `attention_dropout_prob`); camelCase keys still work with a deprecation
 * warning naming the snake_case key. Values are checked here, each error naming the key as the user wrote it.
 */
import { defaultModelConfig, type ModelConfig } from '../nn/config.js';

/** snake_case name → ModelConfig field. */
export const MODEL_SETTING_NAMES: Readonly<Record<string, keyof ModelConfig>> = {
  vocab_size: 'vocabSize',
  hidden_size: 'hiddenSize',
  num_layers: 'numLayers',
  num_hidden_layers: 'numLayers',
  num_heads: 'numHeads',
  num_attention_heads: 'numHeads',
  intermediate_size: 'intermediateSize',
  max_position_embeddings: 'maxPositionEmbeddings',
  num_labels: 'numLabels',
  hidden_dropout_prob: 'hiddenDropoutProb',
  attention_dropout_prob: 'attentionDropoutProb',
  attention_probs_dropout_prob: 'attentionDropoutProb',
  layer_norm_eps: 'layerNormEps',
};

/** The snake_case name users write for each field (the first in MODEL_SETTING_NAMES). */
export const MODEL_SETTING_NAME: Readonly<Record<keyof ModelConfig, string>> = Object.fromEntries(
  Object.keys(defaultModelConfig).map((field) => [field, Object.keys(MODEL_SETTING_NAMES).find((name) => MODEL_SETTING_NAMES[name] === field)!]),
) as Record<keyof ModelConfig, string>;

/** Fields that are whole numbers (Python `int()` truncation when a search samples them as floats). */
export const INTEGER_MODEL_SETTINGS: ReadonlySet<keyof ModelConfig> = new Set([
  'vocabSize', 'hiddenSize', 'numLayers', 'numHeads', 'intermediateSize', 'maxPositionEmbeddings', 'numLabels',
]);

/** Settings trained per slot (each fused trial its own rate): they do not set a shape, so they do not split groups. */
export const PER_SLOT_MODEL_SETTINGS: ReadonlySet<keyof ModelConfig> = new Set(['hiddenDropoutProb', 'attentionDropoutProb']);

/** A model setting that is unknown or has a bad value; the message names it as the user wrote it. */
export class ModelSettingsError extends Error {
  override name = 'ModelSettingsError';
}

/** `hiddenSize` → `hidden_size`; `hidden-size` → `hidden_size`. */
function snakeCase(key: string): string {
  return key.replace(/-/g, '_').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * The ModelConfig field a snake_case key names, or null. `camelCase` keys (the old spelling) are found too, with
 * `deprecated` set to the snake_case key to write instead.
 */
export function modelSettingField(key: string): { field: keyof ModelConfig; deprecated: string | null } | null {
  const direct = MODEL_SETTING_NAMES[key];
  if (direct) return { field: direct, deprecated: null };
  const snake = snakeCase(key);
  const field = MODEL_SETTING_NAMES[snake];
  return field ? { field, deprecated: key.includes('-') ? null : snake } : null;
}

export interface ParseModelSettingsOptions {
  /** How an error or warning names a key: `model.hidden_size`, `--model-hidden-size`. */
  label?: (key: string) => string;
  /** Where a deprecation warning goes (the run goes on). */
  onWarning?: (message: string) => void;
}

function formatValue(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : typeof value === 'number' ? String(value) : JSON.stringify(value);
}

/**
 * Parses `{key: value}` model settings into ModelConfig fields. A value is a number or a numeric string; whole
 * numbers where the field is one (sizes, counts), in [0, 1) for dropout, > 0 for layer_norm_eps. Unknown keys and
 * bad values throw a ModelSettingsError naming the key (and the known keys).
 */
export function parseModelSettings(values: Record<string, unknown>, options: ParseModelSettingsOptions = {}): Partial<ModelConfig> {
  const label = options.label ?? ((key: string) => key);
  const out: Partial<ModelConfig> = {};
  for (const [key, raw] of Object.entries(values)) {
    const found = modelSettingField(key);
    if (!found) {
      throw new ModelSettingsError(`${label(key)}: unknown model setting '${snakeCase(key)}' (known: ${Object.keys(MODEL_SETTING_NAMES).join(', ')})`);
    }
    if (found.deprecated) options.onWarning?.(`${label(key)}: '${key}' is deprecated; write '${found.deprecated}'`);
    const number = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
    if (typeof raw !== 'number' && !(typeof raw === 'string' && !Number.isNaN(number))) {
      throw new ModelSettingsError(`${label(key)}: expected a number, got ${formatValue(raw)}`);
    }
    if (!Number.isFinite(number)) throw new ModelSettingsError(`${label(key)}: expected a finite number, got ${formatValue(raw)}`);
    checkModelSetting(found.field, number, () => `${label(key)}: expected ${describeRule(found.field)}, got ${formatValue(raw)}`);
    out[found.field] = number;
  }
  return out;
}

function describeRule(field: keyof ModelConfig): string {
  if (INTEGER_MODEL_SETTINGS.has(field)) return 'a positive integer';
  if (PER_SLOT_MODEL_SETTINGS.has(field)) return 'a number in [0, 1)';
  return 'a number > 0';
}

/** Throws `message()` unless `value` is valid for `field` on its own (cross-field rules are validateModelConfig's). */
export function checkModelSetting(field: keyof ModelConfig, value: number, message: () => string): void {
  const ok = INTEGER_MODEL_SETTINGS.has(field)
    ? Number.isInteger(value) && value >= 1
    : PER_SLOT_MODEL_SETTINGS.has(field)
      ? value >= 0 && value < 1
      : value > 0;
  if (!ok) throw new ModelSettingsError(message());
}
