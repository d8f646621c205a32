/**
 * The live trial handed to an objective (Optuna's `optuna/trial/_trial.py`): define-by-run suggestions,
 * intermediate reports for pruning, user attributes. Every call goes straight to storage, so another
 * process sees it and a crash loses nothing already reported.
 */
import {
  CategoricalDistribution,
  distributionsEqual,
  FloatDistribution,
  IntDistribution,
  type CategoricalChoice,
  type Distribution,
  type FloatOptions,
  type IntOptions,
  type ParamValue,
} from './distributions.js';
import { DistributionError, StudyError } from './errors.js';
import type { FrozenTrial } from './frozen-trial.js';
import type { SearchSpace } from './samplers/sampler.js';
import type { Study } from './study.js';

export const FIXED_PARAMS_KEY = 'fixed_params';

export class Trial {
  readonly trialId: number;
  readonly number: number;
  /** Aborted when the optimize loop is interrupted: long objectives should listen to it. */
  readonly signal: AbortSignal;
  private readonly cachedParams = new Map<string, { value: ParamValue; distribution: Distribution }>();
  private readonly fixedParams: Record<string, ParamValue>;
  private readonly relativeSearchSpace: SearchSpace;
  private readonly relativeParams: Record<string, ParamValue>;

  constructor(readonly study: Study, trialId: number, signal?: AbortSignal) {
    this.trialId = trialId;
    this.signal = signal ?? new AbortController().signal;
    const frozen = study.storage.getTrial(trialId);
    this.number = frozen.number;
    for (const [name, value] of Object.entries(frozen.params)) {
      this.cachedParams.set(name, { value, distribution: frozen.distributions[name] });
    }
    this.fixedParams = (frozen.systemAttrs[FIXED_PARAMS_KEY] as Record<string, ParamValue> | undefined) ?? {};
    this.relativeSearchSpace = study.sampler.inferRelativeSearchSpace(study, frozen);
    this.relativeParams = Object.keys(this.relativeSearchSpace).length > 0 ? study.sampler.sampleRelative(study, frozen, this.relativeSearchSpace) : {};
  }

  suggestFloat(name: string, low: number, high: number, opts: FloatOptions = {}): number {
    return this.suggest(name, new FloatDistribution(low, high, opts, name)) as number;
  }

  suggestInt(name: string, low: number, high: number, opts: IntOptions = {}): number {
    return this.suggest(name, new IntDistribution(low, high, opts, name)) as number;
  }

  suggestCategorical<T extends CategoricalChoice>(name: string, choices: readonly T[]): T {
    return this.suggest(name, new CategoricalDistribution(choices, name)) as T;
  }

  /** Suggests a value of `distribution` for `name`; the same name twice in a trial returns the same value. */
  suggest(name: string, distribution: Distribution): ParamValue {
    const cached = this.cachedParams.get(name);
    if (cached) {
      if (!distributionsEqual(cached.distribution, distribution)) {
        throw new DistributionError(`${name}: suggested again in trial ${this.number} with a different distribution (${JSON.stringify(distribution.toJSON())}, was ${JSON.stringify(cached.distribution.toJSON())})`);
      }
      return cached.value;
    }
    let value: ParamValue;
    if (name in this.fixedParams) {
      value = this.fixedParams[name];
      const internal = distribution.toInternal(value, name);
      if (!distribution.contains(internal)) {
        throw new DistributionError(`${name}: enqueued value (${JSON.stringify(value)}) is outside ${JSON.stringify(distribution.toJSON().attributes)}`);
      }
    } else if (distribution.single()) {
      value = distribution.kind === 'categorical' ? distribution.choices[0] : distribution.low;
    } else if (this.isRelative(name, distribution)) {
      value = this.relativeParams[name];
    } else {
      const frozen = this.study.storage.getTrial(this.trialId);
      value = this.study.sampler.sampleIndependent(this.study, frozen, name, distribution);
    }
    this.study.storage.setTrialParam(this.trialId, name, distribution.toInternal(value, name), distribution);
    this.cachedParams.set(name, { value, distribution });
    return value;
  }

  private isRelative(name: string, distribution: Distribution): boolean {
    if (!(name in this.relativeParams)) return false;
    const rel = this.relativeSearchSpace[name];
    if (!rel || rel.kind !== distribution.kind) return false;
    return distribution.contains(distribution.toInternal(this.relativeParams[name], name));
  }

  /** Reports an intermediate objective value at `step` (an integer ≥ 0); a step reported twice keeps the first. */
  report(value: number, step: number): void {
    if (this.study.directions.length > 1) throw new StudyError(`trial ${this.number}: report is not supported for multi-objective studies`);
    if (!Number.isInteger(step) || step < 0) throw new StudyError(`trial ${this.number}: step (${step}) must be an integer >= 0`);
    if (typeof value !== 'number') throw new StudyError(`trial ${this.number}: reported value (${String(value)}) at step ${step} is not a number`);
    const frozen = this.study.storage.getTrial(this.trialId);
    if (frozen.intermediateValues.has(step)) {
      process.emitWarning(`trial ${this.number}: step ${step} was already reported; the new value ${value} is ignored`);
      return;
    }
    this.study.storage.setTrialIntermediateValue(this.trialId, step, value);
    this.study.storage.recordHeartbeat(this.trialId);
  }

  /** Asks the study's pruner whether to stop this trial now (throw `TrialPruned` if so). */
  shouldPrune(): boolean {
    if (this.study.directions.length > 1) throw new StudyError(`trial ${this.number}: pruning is not supported for multi-objective studies`);
    return this.study.pruner.prune(this.study, this.study.storage.getTrial(this.trialId));
  }

  setUserAttr(key: string, value: unknown): void {
    this.study.storage.setTrialUserAttr(this.trialId, key, value);
  }

  get params(): Record<string, ParamValue> {
    return Object.fromEntries([...this.cachedParams].map(([k, v]) => [k, v.value]));
  }

  get distributions(): Record<string, Distribution> {
    return Object.fromEntries([...this.cachedParams].map(([k, v]) => [k, v.distribution]));
  }

  get userAttrs(): Record<string, unknown> {
    return this.study.storage.getTrial(this.trialId).userAttrs;
  }

  frozen(): FrozenTrial {
    return this.study.storage.getTrial(this.trialId);
  }
}
