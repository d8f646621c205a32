/**
 * Parameter distributions, as Optuna's `optuna/distributions.py`: FloatDistribution, IntDistribution
 * and CategoricalDistribution. A distribution describes where a parameter lives; samplers work on the
 * "internal representation" (a number: the value itself, or the index of a categorical choice).
 * Validation errors name the parameter and the offending value.
 * Limits: as in Optuna, `log` and `step` cannot be combined (except Int step 1), and a `high` that is not
 * low + k·step is lowered to the last grid point (with a process warning, like Optuna's UserWarning).
 */
import { DistributionError } from './errors.js';

export type CategoricalChoice = null | boolean | number | string;
export type ParamValue = number | CategoricalChoice;

function label(name: string | undefined): string {
  return name ?? '(unnamed parameter)';
}

/** Lower `high` to low + floor((high-low)/step)·step, tolerant to float error (Optuna's `_adjust_discrete_uniform_high`). */
function adjustHigh(name: string | undefined, low: number, high: number, step: number): number {
  const k = (high - low) / step;
  const kr = Math.round(k);
  if (Math.abs(k - kr) < 1e-9 * Math.max(1, Math.abs(k))) return high;
  // toPrecision(15) drops float noise such as 0.8999999999999999 (Optuna uses Decimal for this).
  const adjusted = Number((low + Math.floor(k) * step).toPrecision(15));
  process.emitWarning(
    `${label(name)}: the range [${low}, ${high}] is not divisible by step ${step}; high is replaced by ${adjusted}`,
  );
  return adjusted;
}

function checkFinite(name: string | undefined, what: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new DistributionError(`${label(name)}: ${what} (${v}) must be a finite number`);
}

export interface FloatOptions {
  log?: boolean;
  step?: number | null;
}

export class FloatDistribution {
  readonly kind = 'float' as const;
  readonly low: number;
  readonly high: number;
  readonly log: boolean;
  readonly step: number | null;

  constructor(low: number, high: number, opts: FloatOptions = {}, name?: string) {
    const log = opts.log ?? false;
    const step = opts.step ?? null;
    checkFinite(name, 'low', low);
    checkFinite(name, 'high', high);
    if (log && step !== null) throw new DistributionError(`${label(name)}: step (${step}) is not supported with a log scale`);
    if (low > high) throw new DistributionError(`${label(name)}: low (${low}) must be <= high (${high})`);
    if (log && low <= 0) throw new DistributionError(`${label(name)}: low (${low}) must be > 0 for a log scale`);
    if (step !== null) {
      checkFinite(name, 'step', step);
      if (step <= 0) throw new DistributionError(`${label(name)}: step (${step}) must be > 0`);
      high = adjustHigh(name, low, high, step);
    }
    this.low = low;
    this.high = high;
    this.log = log;
    this.step = step;
  }

  single(): boolean {
    if (this.step === null) return this.low === this.high;
    return this.low === this.high || this.high - this.low < this.step;
  }

  contains(internal: number): boolean {
    if (!Number.isFinite(internal) || internal < this.low || internal > this.high) return false;
    if (this.step === null) return true;
    const k = (internal - this.low) / this.step;
    return Math.abs(k - Math.round(k)) < 1e-8;
  }

  toInternal(value: ParamValue, name?: string): number {
    if (typeof value !== 'number' || Number.isNaN(value)) throw new DistributionError(`${label(name)}: value (${String(value)}) is not a float`);
    return value;
  }

  toExternal(internal: number): number {
    return internal;
  }

  toJSON(): DistributionJSON {
    return { name: 'FloatDistribution', attributes: { low: this.low, high: this.high, log: this.log, step: this.step } };
  }
}

export interface IntOptions {
  log?: boolean;
  step?: number;
}

export class IntDistribution {
  readonly kind = 'int' as const;
  readonly low: number;
  readonly high: number;
  readonly log: boolean;
  readonly step: number;

  constructor(low: number, high: number, opts: IntOptions = {}, name?: string) {
    const log = opts.log ?? false;
    const step = opts.step ?? 1;
    if (!Number.isInteger(low)) throw new DistributionError(`${label(name)}: low (${low}) must be an integer`);
    if (!Number.isInteger(high)) throw new DistributionError(`${label(name)}: high (${high}) must be an integer`);
    if (!Number.isInteger(step)) throw new DistributionError(`${label(name)}: step (${step}) must be an integer`);
    if (log && step !== 1) throw new DistributionError(`${label(name)}: step (${step}) must be 1 for a log scale`);
    if (low > high) throw new DistributionError(`${label(name)}: low (${low}) must be <= high (${high})`);
    if (log && low < 1) throw new DistributionError(`${label(name)}: low (${low}) must be >= 1 for a log scale`);
    if (step <= 0) throw new DistributionError(`${label(name)}: step (${step}) must be > 0`);
    this.low = low;
    this.high = step === 1 ? high : adjustHigh(name, low, high, step);
    this.log = log;
    this.step = step;
  }

  single(): boolean {
    if (this.log) return this.low === this.high;
    return this.high - this.low < this.step;
  }

  contains(internal: number): boolean {
    if (!Number.isFinite(internal) || internal < this.low || internal > this.high) return false;
    const k = (internal - this.low) / this.step;
    return Number.isInteger(internal) && Math.abs(k - Math.round(k)) < 1e-8;
  }

  toInternal(value: ParamValue, name?: string): number {
    if (typeof value !== 'number' || !Number.isInteger(value)) throw new DistributionError(`${label(name)}: value (${String(value)}) is not an integer`);
    return value;
  }

  toExternal(internal: number): number {
    return Math.round(internal);
  }

  toJSON(): DistributionJSON {
    return { name: 'IntDistribution', attributes: { low: this.low, high: this.high, log: this.log, step: this.step } };
  }
}

export class CategoricalDistribution {
  readonly kind = 'categorical' as const;
  readonly choices: readonly CategoricalChoice[];

  constructor(choices: readonly CategoricalChoice[], name?: string) {
    if (!Array.isArray(choices) || choices.length === 0) throw new DistributionError(`${label(name)}: choices (${JSON.stringify(choices)}) must be a non-empty array`);
    for (const c of choices) {
      const t = typeof c;
      if (!(c === null || t === 'boolean' || t === 'number' || t === 'string')) {
        throw new DistributionError(`${label(name)}: choice (${String(c)}) must be null, a boolean, a number or a string`);
      }
    }
    this.choices = [...choices];
  }

  single(): boolean {
    return this.choices.length === 1;
  }

  contains(internal: number): boolean {
    return Number.isInteger(internal) && internal >= 0 && internal < this.choices.length;
  }

  /** Index of the choice; NaN matches NaN as in Optuna. */
  toInternal(value: ParamValue, name?: string): number {
    const i = this.choices.findIndex((c) => c === value || (typeof c === 'number' && typeof value === 'number' && Number.isNaN(c) && Number.isNaN(value)));
    if (i < 0) throw new DistributionError(`${label(name)}: value (${JSON.stringify(value)}) is not one of the choices ${JSON.stringify(this.choices)}`);
    return i;
  }

  toExternal(internal: number): CategoricalChoice {
    const i = Math.round(internal);
    if (i < 0 || i >= this.choices.length) throw new DistributionError(`categorical index (${internal}) is out of range 0..${this.choices.length - 1}`);
    return this.choices[i];
  }

  toJSON(): DistributionJSON {
    return { name: 'CategoricalDistribution', attributes: { choices: [...this.choices] } };
  }
}

export type Distribution = FloatDistribution | IntDistribution | CategoricalDistribution;

/** Optuna's `distribution_to_json` layout: `{"name": "...Distribution", "attributes": {...}}`. */
export interface DistributionJSON {
  name: 'FloatDistribution' | 'IntDistribution' | 'CategoricalDistribution';
  attributes: Record<string, unknown>;
}

export function distributionToJSON(d: Distribution): string {
  return JSON.stringify(d.toJSON());
}

export function distributionFromJSON(json: string | DistributionJSON, name?: string): Distribution {
  const o = (typeof json === 'string' ? JSON.parse(json) : json) as DistributionJSON;
  const a = o.attributes ?? {};
  switch (o.name) {
    case 'FloatDistribution':
      return new FloatDistribution(a.low as number, a.high as number, { log: a.log as boolean, step: (a.step as number | null) ?? null }, name);
    case 'IntDistribution':
      return new IntDistribution(a.low as number, a.high as number, { log: a.log as boolean, step: (a.step as number) ?? 1 }, name);
    case 'CategoricalDistribution':
      return new CategoricalDistribution(a.choices as CategoricalChoice[], name);
    default:
      throw new DistributionError(`${label(name)}: unknown distribution name (${JSON.stringify((o as { name?: unknown }).name)})`);
  }
}

export function distributionsEqual(a: Distribution, b: Distribution): boolean {
  return distributionToJSON(a) === distributionToJSON(b);
}

/**
 * A parameter suggested again in a later trial may change its range (dynamic search spaces), but not its
 * kind, its log scale, or its categorical choices (Optuna's `check_distribution_compatibility`).
 */
export function checkDistributionCompatibility(name: string, old: Distribution, next: Distribution): void {
  if (old.kind !== next.kind) {
    throw new DistributionError(`${name}: cannot change the distribution kind from ${old.kind} to ${next.kind}`);
  }
  if (old.kind !== 'categorical' && next.kind !== 'categorical' && old.log !== next.log) {
    throw new DistributionError(`${name}: cannot change log from ${old.log} to ${next.log}`);
  }
  if (old.kind === 'categorical' && next.kind === 'categorical') {
    if (JSON.stringify(old.choices) !== JSON.stringify(next.choices)) {
      throw new DistributionError(`${name}: categorical choices cannot change (were ${JSON.stringify(old.choices)}, now ${JSON.stringify(next.choices)})`);
    }
  }
}
