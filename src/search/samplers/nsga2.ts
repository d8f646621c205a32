/**
 * NSGA-II (Deb et al. 2002, "A fast and elitist multiobjective genetic algorithm: NSGA-II"), in the
 * define-by-run setting of Optuna's `optuna/samplers/nsgaii/`.
 * Generation g of a trial is floor(number / populationSize). Generation 0 is random. The parents of
 * generation g are the best populationSize COMPLETE trials of earlier generations by (non-domination rank,
 * crowding distance) — elitist (μ+λ) selection. A child takes two parents by binary tournament on the
 * crowded-comparison operator, crosses them with probability crossoverProb (uniform crossover: each
 * parameter from either parent with swappingProb; or SBX, Deb & Agrawal 1995, on numerical parameters in the
 * transformed space), then each parameter mutates with probability mutationProb (default 1/#params) by
 * being resampled uniformly, as Optuna does.
 * Limits: the relative space is the intersection of finished trials' spaces; no constraints.
 */
import type { Distribution, ParamValue } from '../distributions.js';
import type { FrozenTrial } from '../frozen-trial.js';
import { crowdingDistance, nonDominatedSort, toLoss } from '../multi-objective.js';
import type { Rng } from '../rng.js';
import type { Study } from '../study.js';
import { intersectionSearchSpace } from './intersection-search-space.js';
import { RandomSampler } from './random.js';
import type { Sampler, SearchSpace } from './sampler.js';
import { numericBounds, untransformNumeric } from './search-space-transform.js';
import { TrialStream } from './trial-stream.js';

export interface NSGAIISamplerOptions {
  seed?: number;
  populationSize?: number;
  mutationProb?: number | null;
  crossover?: 'uniform' | 'sbx';
  crossoverProb?: number;
  swappingProb?: number;
  /** SBX distribution index η (larger = children closer to parents). */
  sbxEta?: number;
}

interface Ranked {
  trial: FrozenTrial;
  rank: number;
  crowding: number;
}

/** Elitist selection: fill by fronts, break the last front by crowding distance (descending). */
export function selectElite(trials: readonly FrozenTrial[], size: number, study: Study): Ranked[] {
  const losses = trials.map((t) => toLoss(t.values!, study.directions));
  const out: Ranked[] = [];
  nonDominatedSort(losses).forEach((front, rank) => {
    if (out.length >= size) return;
    const cd = crowdingDistance(front.map((i) => losses[i]));
    const members = front.map((i, k) => ({ trial: trials[i], rank, crowding: cd[k] }));
    members.sort((a, b) => b.crowding - a.crowding || a.trial.number - b.trial.number);
    out.push(...members.slice(0, size - out.length));
  });
  return out;
}

export class NSGAIISampler implements Sampler {
  readonly populationSize: number;
  private readonly stream: TrialStream;
  private readonly random: RandomSampler;

  constructor(private readonly opts: NSGAIISamplerOptions = {}) {
    this.populationSize = opts.populationSize ?? 50;
    if (!Number.isInteger(this.populationSize) || this.populationSize < 2) throw new RangeError(`populationSize (${this.populationSize}) must be an integer >= 2`);
    this.stream = new TrialStream(opts.seed);
    this.random = new RandomSampler({ seed: opts.seed }); // as Optuna: the same seed as the sampler's own rng
  }

  /** Both streams see every trial start, so each knows when the study's numbering jumped (TrialStream). */
  beforeTrial(study: Study, trial: FrozenTrial): void {
    this.stream.startTrial(trial.number);
    this.random.beforeTrial(study, trial);
  }

  inferRelativeSearchSpace(study: Study): SearchSpace {
    const space: SearchSpace = {};
    for (const [name, d] of Object.entries(intersectionSearchSpace(study))) if (!d.single()) space[name] = d;
    return space;
  }

  private tournament(rng: Rng, pop: Ranked[]): Ranked {
    const a = pop[Math.floor(rng.random() * pop.length)];
    const b = pop[Math.floor(rng.random() * pop.length)];
    if (a.rank !== b.rank) return a.rank < b.rank ? a : b;
    return a.crowding >= b.crowding ? a : b;
  }

  sampleRelative(study: Study, trial: FrozenTrial, space: SearchSpace): Record<string, ParamValue> {
    const names = Object.keys(space);
    if (names.length === 0) return {};
    const generation = Math.floor(trial.number / this.populationSize);
    if (generation === 0) return {};
    const done = study.getTrials({ states: ['COMPLETE'] }).filter((t) => t.number < generation * this.populationSize && names.every((n) => n in t.params));
    if (done.length < 2) return {};
    const parents = selectElite(done, this.populationSize, study);
    const rng = this.stream.rngFor(trial.number);
    const p1 = this.tournament(rng, parents).trial;
    const p2 = this.tournament(rng, parents).trial;
    const child: Record<string, ParamValue> = {};
    const cross = rng.random() < (this.opts.crossoverProb ?? 0.9);
    for (const name of names) {
      const d = space[name];
      if (!cross) child[name] = p1.params[name];
      else if ((this.opts.crossover ?? 'uniform') === 'sbx' && d.kind !== 'categorical') child[name] = this.sbx(rng, d, p1.params[name] as number, p2.params[name] as number);
      else child[name] = rng.random() < (this.opts.swappingProb ?? 0.5) ? p2.params[name] : p1.params[name];
    }
    const mutationProb = this.opts.mutationProb ?? 1 / names.length;
    for (const name of names) if (rng.random() < mutationProb) delete child[name]; // resampled independently
    return child;
  }

  /** Simulated binary crossover of two parent values (one child), in the transformed space. */
  private sbx(rng: Rng, d: Exclude<Distribution, { kind: 'categorical' }>, a: number, b: number): number {
    const eta = this.opts.sbxEta ?? 20;
    const [lo, hi] = numericBounds(d);
    const x1 = d.log ? Math.log(a) : a;
    const x2 = d.log ? Math.log(b) : b;
    const u = rng.random();
    const beta = u <= 0.5 ? (2 * u) ** (1 / (eta + 1)) : (1 / (2 * (1 - u))) ** (1 / (eta + 1));
    const c = rng.random() < 0.5 ? 0.5 * ((1 + beta) * x1 + (1 - beta) * x2) : 0.5 * ((1 - beta) * x1 + (1 + beta) * x2);
    return untransformNumeric(d, Math.min(Math.max(c, lo), hi));
  }

  sampleIndependent(study: Study, trial: FrozenTrial, name: string, dist: Distribution): ParamValue {
    return this.random.sampleIndependent(study, trial, name, dist);
  }
}
