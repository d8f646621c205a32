/**
 * Tree-structured Parzen Estimator sampler following Optuna 4.9.0's `optuna/samplers/_tpe/sampler.py` (tag
 * v4.9.0; the Parzen estimator is in parzen-estimator.ts), single-objective. Defaults as Optuna's:
 * nStartupTrials 10 (RandomSampler with the same seed before), nEiCandidates 24, gamma(n) = min(ceil(0.1·n), 25),
 * weights = default_weights, priorWeight 1, magic clip on, endpoints off; univariate unless `multivariate`
 * (then the intersection search space of COMPLETE and PRUNED trials, sampled jointly; parameters outside it
 * fall back to univariate TPE).
 * Each sample: n = COMPLETE + PRUNED trials (FAIL trials are ignored; RUNNING ones, with `constantLiar`, do
 * not count); below/above split as `_split_trials`: COMPLETE trials sorted by value (stable) give the best
 * gamma(n) as "below"; if fewer, PRUNED trials fill "below" ranked by (latest step desc, its value; NaN last);
 * the rest, and RUNNING trials (constant liar), go "above". The split is made over all those trials and only
 * then restricted to the trials that have every parameter being sampled (4.x; 3.1 split only the trials that
 * had the parameter). l(x) and g(x) are built from "below" and "above", nEiCandidates samples are drawn from
 * l, and the first argmax of log l − log g is returned.
 * Random stream: one `RandomState(seed)` (Rng) for TPE's draws and another for the startup RandomSampler, as
 * Optuna's `LazyRandomState(seed)` and `RandomSampler(seed)`: a fresh seeded single-process study draws the
 * same trials as Optuna 4.9 up to float rounding (test/search/tpe-optuna.test.ts; an exact tie between two
 * candidates, e.g. categorical choices seen equally often, is broken by last-bit differences of log/exp between
 * V8 and NumPy and may go the other way). Resumed/concurrent studies reseed per trial
 * (TrialStream).
 * Papers: Bergstra et al. 2011 (NeurIPS), Falkner et al. 2018 (BOHB, multivariate bandwidth), Watanabe 2023
 * (arXiv:2304.11127).
 * Limits: single-objective only (multi-objective studies: use NSGAIISampler); no constraints_func, no `group`,
 * no categorical_distance_func (deprecated in 4.9).
 */
import type { Distribution, ParamValue } from '../../distributions.js';
import { StudyError } from '../../errors.js';
import { lastStep, type FrozenTrial } from '../../frozen-trial.js';
import type { Study } from '../../study.js';
import { intersectionSearchSpace } from '../intersection-search-space.js';
import { RandomSampler } from '../random.js';
import type { Sampler, SearchSpace } from '../sampler.js';
import { TrialStream } from '../trial-stream.js';
import { argmax } from './numpy-compat.js';
import { buildParzenEstimator, defaultGamma, defaultWeights, parzenLogPdf, sampleParzen, type ParzenEstimatorParameters } from './parzen-estimator.js';

export interface TPESamplerOptions {
  seed?: number;
  nStartupTrials?: number;
  nEiCandidates?: number;
  gamma?: (n: number) => number;
  weights?: (n: number) => number[];
  priorWeight?: number;
  considerMagicClip?: boolean;
  considerEndpoints?: boolean;
  multivariate?: boolean;
  constantLiar?: boolean;
}

/** Optuna's `_get_pruned_trial_score`: (−latest step, its value signed for minimisation; NaN → +∞), or (1, 0) without any. */
function prunedScore(t: FrozenTrial, sign: number): [number, number] {
  const step = lastStep(t);
  if (step === null) return [1, 0];
  const v = t.intermediateValues.get(step)!;
  return [-step, Number.isNaN(v) ? Infinity : sign * v];
}

/** Below/above split of finished (and, with constant liar, running) trials, as Optuna 4.9's `_split_trials`. */
export function splitTrials(trials: readonly FrozenTrial[], nBelow: number, direction: 'minimize' | 'maximize'): { below: FrozenTrial[]; above: FrozenTrial[] } {
  const sign = direction === 'maximize' ? -1 : 1;
  // Python's sorted() is stable, and so is Array.prototype.sort: ties keep trial order.
  const complete = trials.filter((t) => t.state === 'COMPLETE').sort((a, b) => {
    const va = sign * a.values![0];
    const vb = sign * b.values![0];
    return va < vb ? -1 : va > vb ? 1 : 0;
  });
  const running = trials.filter((t) => t.state === 'RUNNING');
  const nComplete = Math.max(0, Math.min(nBelow, complete.length));
  const below = complete.slice(0, nComplete);
  const above = complete.slice(nComplete);
  const pruned = trials
    .filter((t) => t.state === 'PRUNED')
    .map((t) => ({ t, score: prunedScore(t, sign) }))
    .sort((a, b) => (a.score[0] !== b.score[0] ? a.score[0] - b.score[0] : a.score[1] < b.score[1] ? -1 : a.score[1] > b.score[1] ? 1 : 0))
    .map((x) => x.t);
  const nPruned = Math.min(Math.max(0, nBelow - nComplete), pruned.length);
  below.push(...pruned.slice(0, nPruned));
  above.push(...pruned.slice(nPruned), ...running);
  below.sort((a, b) => a.number - b.number);
  above.sort((a, b) => a.number - b.number);
  return { below, above };
}

/**
 * Internal-representation observations of the trials that have every parameter of the space, through the space's
 * own distributions (Optuna's `_get_internal_repr`; a categorical value not among the current choices throws, as
 * Optuna's ValueError). `paramsOf` gives a trial's parameters (relative ones of running trials included).
 */
export function observationsOf(trials: readonly FrozenTrial[], space: SearchSpace, paramsOf: (t: FrozenTrial) => Record<string, ParamValue> = (t) => t.params): Record<string, number[]> {
  const names = Object.keys(space);
  const obs: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
  for (const t of trials) {
    const params = paramsOf(t);
    if (!names.every((k) => k in params)) continue;
    for (const k of names) obs[k].push(space[k].toInternal(params[k], k));
  }
  return obs;
}

/** Optuna's `_RELATIVE_PARAMS_KEY` and chunk size: a running trial's relative parameters, shared for the constant liar. */
const RELATIVE_PARAMS_KEY = 'tpe:relative_params';
const SYSTEM_ATTR_MAX_LENGTH = 2045;

export class TPESampler implements Sampler {
  readonly nStartupTrials: number;
  readonly nEiCandidates: number;
  readonly gamma: (n: number) => number;
  readonly multivariate: boolean;
  readonly constantLiar: boolean;
  readonly parameters: ParzenEstimatorParameters;
  private readonly stream: TrialStream;
  private readonly random: RandomSampler;

  constructor(private readonly opts: TPESamplerOptions = {}) {
    this.nStartupTrials = opts.nStartupTrials ?? 10;
    this.nEiCandidates = opts.nEiCandidates ?? 24;
    this.gamma = opts.gamma ?? defaultGamma;
    this.multivariate = opts.multivariate ?? false;
    this.constantLiar = opts.constantLiar ?? false;
    const priorWeight = opts.priorWeight ?? 1;
    if (!(priorWeight >= 0)) throw new RangeError(`priorWeight (${priorWeight}) must be >= 0`);
    if (!Number.isInteger(this.nEiCandidates) || this.nEiCandidates < 1) throw new RangeError(`nEiCandidates (${this.nEiCandidates}) must be an integer >= 1`);
    this.parameters = {
      priorWeight,
      considerMagicClip: opts.considerMagicClip ?? true,
      considerEndpoints: opts.considerEndpoints ?? false,
      weights: opts.weights ?? defaultWeights,
      multivariate: this.multivariate,
    };
    this.stream = new TrialStream(opts.seed);
    this.random = new RandomSampler({ seed: opts.seed }); // Optuna seeds its startup RandomSampler with the same seed
  }

  /**
   * The same sampler (options and seed), with Optuna's constant liar: running trials count as the worst, so trials
   * asked while others run (a fused group's refilled slots) spread out instead of repeating each other.
   */
  withConstantLiar(): TPESampler {
    return new TPESampler({ ...this.opts, constantLiar: true });
  }

  /** Both streams see every trial start, so each knows when the study's numbering jumped (TrialStream). */
  beforeTrial(study: Study, trial: FrozenTrial): void {
    this.stream.startTrial(trial.number);
    this.random.beforeTrial(study, trial);
  }

  private checkSingleObjective(study: Study): void {
    if (study.isMultiObjective) throw new StudyError('TPESampler here supports single-objective studies only; use NSGAIISampler for several objectives');
  }

  private nFinished(study: Study): number {
    return study.getTrials({ states: ['COMPLETE', 'PRUNED'] }).length;
  }

  inferRelativeSearchSpace(study: Study): SearchSpace {
    if (!this.multivariate) return {};
    const space: SearchSpace = {};
    for (const [name, d] of Object.entries(intersectionSearchSpace(study, { includePruned: true }))) if (!d.single()) space[name] = d;
    return space;
  }

  sampleRelative(study: Study, trial: FrozenTrial, space: SearchSpace): Record<string, ParamValue> {
    this.checkSingleObjective(study);
    if (Object.keys(space).length === 0 || this.nFinished(study) < this.nStartupTrials) return {};
    const params = this.sample(study, trial, space);
    if (this.constantLiar && Object.keys(params).length > 0) {
      // Share them with other workers at once (Optuna 4.9: JSON in system attrs, 2045-character chunks).
      const json = JSON.stringify(params);
      for (let i = 0; i < json.length; i += SYSTEM_ATTR_MAX_LENGTH) {
        study.storage.setTrialSystemAttr(trial.trialId, `${RELATIVE_PARAMS_KEY}:${i / SYSTEM_ATTR_MAX_LENGTH}`, json.slice(i, i + SYSTEM_ATTR_MAX_LENGTH));
      }
    }
    return params;
  }

  /** Optuna's `_get_params`: a running trial's relative parameters count as its parameters (multivariate). */
  private paramsOf(t: FrozenTrial): Record<string, ParamValue> {
    if (t.state !== 'RUNNING' || !this.multivariate) return t.params;
    const chunks: string[] = [];
    for (let i = 0; typeof t.systemAttrs[`${RELATIVE_PARAMS_KEY}:${i}`] === 'string' && t.systemAttrs[`${RELATIVE_PARAMS_KEY}:${i}`] !== ''; i++) chunks.push(t.systemAttrs[`${RELATIVE_PARAMS_KEY}:${i}`] as string);
    if (chunks.length === 0) return t.params;
    try {
      return { ...(JSON.parse(chunks.join('')) as Record<string, ParamValue>), ...t.params };
    } catch {
      return t.params; // a chunk still being written by another worker
    }
  }

  sampleIndependent(study: Study, trial: FrozenTrial, name: string, dist: Distribution): ParamValue {
    this.checkSingleObjective(study);
    if (this.nFinished(study) < this.nStartupTrials) return this.random.sampleIndependent(study, trial, name, dist);
    return this.sample(study, trial, { [name]: dist })[name];
  }

  private sample(study: Study, trial: FrozenTrial, space: SearchSpace): Record<string, ParamValue> {
    const states = this.constantLiar ? (['COMPLETE', 'PRUNED', 'RUNNING'] as const) : (['COMPLETE', 'PRUNED'] as const);
    const trials = study.getTrials({ states }).filter((t) => t.number !== trial.number);
    const n = trials.filter((t) => t.state !== 'RUNNING').length;
    const { below, above } = splitTrials(trials, this.gamma(n), study.direction);
    const paramsOf = (t: FrozenTrial): Record<string, ParamValue> => this.paramsOf(t);
    const lower = buildParzenEstimator(observationsOf(below, space, paramsOf), space, this.parameters);
    const upper = buildParzenEstimator(observationsOf(above, space, paramsOf), space, this.parameters);
    const candidates = sampleParzen(lower, this.stream.rngFor(trial.number), this.nEiCandidates);
    const ll = parzenLogPdf(lower, candidates);
    const lg = parzenLogPdf(upper, candidates);
    const best = argmax(ll.map((l, i) => l - lg[i]));
    const out: Record<string, ParamValue> = {};
    for (const [name, dist] of Object.entries(space)) out[name] = dist.toExternal(candidates[name][best]);
    return out;
  }
}
