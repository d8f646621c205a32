/**
 * Tree-structured Parzen Estimator sampler with Optuna's defaults (`optuna/samplers/_tpe/sampler.py`):
 * nStartupTrials 10 (random before), nEiCandidates 24, gamma(n) = min(ceil(0.1·n), 25), priorWeight 1,
 * magic clip on, endpoints off, default_weights; univariate unless `multivariate`.
 * Split (Optuna's `_split_trials`): COMPLETE trials sorted by value give the best gamma(n) as "below";
 * if fewer, PRUNED trials fill "below" ordered by (latest step desc, value at it); RUNNING trials (only
 * with `constantLiar`) always go "above" — the constant liar of Ginsbourger 2010 with the worst value.
 * Candidates are drawn from l(x) ("below") and the one maximising log l(x) − log g(x) is returned.
 * Papers: Bergstra et al. 2011 (NeurIPS), Watanabe 2023 (arXiv:2304.11127).
 * Limits: single-objective only (multi-objective studies: use NSGAIISampler); no constraints, no `group`.
 */
import type { Distribution, ParamValue } from '../../distributions.js';
import { StudyError } from '../../errors.js';
import { lastStep, type FrozenTrial } from '../../frozen-trial.js';
import type { Study } from '../../study.js';
import { intersectionSearchSpace } from '../intersection-search-space.js';
import { RandomSampler } from '../random.js';
import type { Sampler, SearchSpace } from '../sampler.js';
import { TrialStream } from '../trial-stream.js';
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

/** Below/above split of finished (and, with constant liar, running) trials, as Optuna's `_split_trials`. */
export function splitTrials(trials: readonly FrozenTrial[], nBelow: number, direction: 'minimize' | 'maximize'): { below: FrozenTrial[]; above: FrozenTrial[] } {
  const sign = direction === 'maximize' ? -1 : 1;
  const complete = trials.filter((t) => t.state === 'COMPLETE').sort((a, b) => sign * (a.values![0] - b.values![0]));
  const pruned = trials.filter((t) => t.state === 'PRUNED');
  const running = trials.filter((t) => t.state === 'RUNNING');
  const nComplete = Math.min(nBelow, complete.length);
  const below = complete.slice(0, nComplete);
  const above = complete.slice(nComplete);
  const pScore = (t: FrozenTrial): [number, number] => {
    const step = lastStep(t);
    if (step === null) return [1, 0];
    const v = t.intermediateValues.get(step)!;
    return [-step, Number.isNaN(v) ? Infinity : sign * v];
  };
  const prunedSorted = pruned.sort((a, b) => {
    const [sa, va] = pScore(a);
    const [sb, vb] = pScore(b);
    return sa !== sb ? sa - sb : va - vb;
  });
  const nPruned = Math.min(Math.max(0, nBelow - nComplete), prunedSorted.length);
  below.push(...prunedSorted.slice(0, nPruned));
  above.push(...prunedSorted.slice(nPruned), ...running);
  below.sort((a, b) => a.number - b.number);
  above.sort((a, b) => a.number - b.number);
  return { below, above };
}

/** Internal-representation observations of the trials that have every parameter of the space. */
export function observationsOf(trials: readonly FrozenTrial[], space: SearchSpace): Record<string, number[]> {
  const obs: Record<string, number[]> = Object.fromEntries(Object.keys(space).map((k) => [k, []]));
  for (const t of trials) {
    if (!Object.keys(space).every((k) => k in t.params)) continue;
    for (const k of Object.keys(space)) obs[k].push(t.distributions[k].toInternal(t.params[k], k));
  }
  return obs;
}

export class TPESampler implements Sampler {
  readonly nStartupTrials: number;
  readonly nEiCandidates: number;
  readonly gamma: (n: number) => number;
  readonly multivariate: boolean;
  readonly constantLiar: boolean;
  readonly parameters: ParzenEstimatorParameters;
  private readonly stream: TrialStream;
  private readonly random: RandomSampler;

  constructor(opts: TPESamplerOptions = {}) {
    this.nStartupTrials = opts.nStartupTrials ?? 10;
    this.nEiCandidates = opts.nEiCandidates ?? 24;
    this.gamma = opts.gamma ?? defaultGamma;
    this.multivariate = opts.multivariate ?? false;
    this.constantLiar = opts.constantLiar ?? false;
    const priorWeight = opts.priorWeight ?? 1;
    if (!(priorWeight > 0)) throw new RangeError(`priorWeight (${priorWeight}) must be > 0`);
    if (!Number.isInteger(this.nEiCandidates) || this.nEiCandidates < 1) throw new RangeError(`nEiCandidates (${this.nEiCandidates}) must be an integer >= 1`);
    this.parameters = {
      considerPrior: true,
      priorWeight,
      considerMagicClip: opts.considerMagicClip ?? true,
      considerEndpoints: opts.considerEndpoints ?? false,
      weights: opts.weights ?? defaultWeights,
      multivariate: this.multivariate,
    };
    this.stream = new TrialStream(opts.seed);
    this.random = new RandomSampler({ seed: opts.seed }); // Optuna seeds its startup RandomSampler with the same seed
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
    return this.sample(study, trial, space);
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
    const lower = buildParzenEstimator(observationsOf(below, space), space, this.parameters);
    const upper = buildParzenEstimator(observationsOf(above, space), space, this.parameters);
    const candidates = sampleParzen(lower, this.stream.rngFor(trial.number), this.nEiCandidates);
    const ll = parzenLogPdf(lower, candidates);
    const lg = parzenLogPdf(upper, candidates);
    let best = 0;
    for (let i = 1; i < ll.length; i++) if (ll[i] - lg[i] > ll[best] - lg[best]) best = i;
    const out: Record<string, ParamValue> = {};
    for (const [name, dist] of Object.entries(space)) out[name] = dist.toExternal(candidates[name][best]);
    return out;
  }
}
