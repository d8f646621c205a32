/**
 * Grid search (Optuna's `optuna/samplers/_grid.py`): every point of the Cartesian product of the given
 * values is run once, in a seeded random order, and the study stops (gracefully) when every point has finished
 * (COMPLETE, PRUNED or FAIL: as Optuna's _get_unvisited_grid_ids, which counts every finished trial as visited, a
 * failed point is not run again). Several processes may run a point twice (as in Optuna).
 * Suggesting a parameter that is not in the grid, or a grid value outside the suggested distribution, is an error.
 * The choice among unvisited points reseeds per trial number in a resumed or concurrent study (TrialStream), so
 * two workers with one seed do not pick the same point in the same order.
 */
import type { Distribution, ParamValue } from '../distributions.js';
import { DistributionError } from '../errors.js';
import type { FrozenTrial, TrialState } from '../frozen-trial.js';
import type { Study } from '../study.js';
import type { Sampler, SearchSpace } from './sampler.js';
import { TrialStream } from './trial-stream.js';
import { FIXED_PARAMS_KEY } from '../trial.js';

const GRID_ID = 'grid_id';


const FINISHED: TrialState[] = ['COMPLETE', 'PRUNED', 'FAIL'];
export class GridSampler implements Sampler {
  readonly paramNames: string[];
  readonly grid: ParamValue[][];
  private readonly stream: TrialStream;

  private readonly fallback: Sampler | null;

  /**
   * `fallback`: a sampler for parameters outside the grid (Ray's grid_search mixed with sampled params);
   * without it such a parameter is an error.
   */
  constructor(readonly searchSpace: Record<string, readonly ParamValue[]>, opts: { seed?: number; fallback?: Sampler } = {}) {
    this.fallback = opts.fallback ?? null;
    this.paramNames = Object.keys(searchSpace).sort();
    for (const name of this.paramNames) {
      if (!Array.isArray(searchSpace[name]) || searchSpace[name].length === 0) throw new DistributionError(`${name}: grid values (${JSON.stringify(searchSpace[name])}) must be a non-empty array`);
    }
    this.grid = this.paramNames.reduce<ParamValue[][]>((acc, name) => acc.flatMap((row) => searchSpace[name].map((v) => [...row, v])), [[]]);
    this.stream = new TrialStream(opts.seed);
  }

  private gridIds(study: Study, states: TrialState[]): Set<number> {
    const ids = new Set<number>();
    for (const t of study.getTrials({ states })) if (typeof t.systemAttrs[GRID_ID] === 'number') ids.add(t.systemAttrs[GRID_ID] as number);
    return ids;
  }

  /**
   * Picks the grid point as Optuna's `sample_relative` does: `rng.choice(unvisited ids)`. The ids are listed in
   * ascending order, which is how CPython lists Optuna's set of small ints in the usual case (a set can list
   * them otherwise, so a long run may then diverge from Optuna). An enqueued trial (fixed params) gets no point.
   */
  beforeTrial(study: Study, trial: FrozenTrial): void {
    // Every started trial counts for the streams, enqueued ones too (TrialStream).
    this.stream.startTrial(trial.number);
    this.fallback?.beforeTrial?.(study, trial);
    if (GRID_ID in trial.systemAttrs || FIXED_PARAMS_KEY in trial.systemAttrs) return;
    const visited = this.gridIds(study, FINISHED);
    const running = this.gridIds(study, ['RUNNING']);
    const all = this.grid.map((_, i) => i);
    let candidates = all.filter((i) => !visited.has(i) && !running.has(i));
    if (candidates.length === 0) candidates = all.filter((i) => !visited.has(i));
    if (candidates.length === 0) candidates = all;
    const id = candidates[this.stream.rngFor(trial.number).choice(candidates.length)];
    study.storage.setTrialSystemAttr(trial.trialId, GRID_ID, id);
  }

  inferRelativeSearchSpace(): SearchSpace {
    return {};
  }

  sampleRelative(): Record<string, ParamValue> {
    return {};
  }

  sampleIndependent(study: Study, trial: FrozenTrial, name: string, dist: Distribution): ParamValue {
    const idx = this.paramNames.indexOf(name);
    if (idx < 0 && this.fallback) return this.fallback.sampleIndependent(study, trial, name, dist);
    if (idx < 0) throw new DistributionError(`${name}: not in the grid (grid parameters: ${this.paramNames.join(', ')})`);
    const id = trial.systemAttrs[GRID_ID];
    if (typeof id !== 'number') throw new DistributionError(`${name}: an enqueued trial must fix every grid parameter (${this.paramNames.join(', ')}) when GridSampler is used`);
    const value = this.grid[id][idx];
    if (!dist.contains(dist.toInternal(value, name))) throw new DistributionError(`${name}: grid value (${JSON.stringify(value)}) is outside the suggested distribution ${JSON.stringify(dist.toJSON().attributes)}`);
    return value;
  }

  afterTrial(study: Study, trial: FrozenTrial, state: TrialState): void {
    const visited = this.gridIds(study, FINISHED);
    if (FINISHED.includes(state) && typeof trial.systemAttrs[GRID_ID] === 'number') visited.add(trial.systemAttrs[GRID_ID] as number);
    if (visited.size >= this.grid.length) study.stop({ graceful: true });
  }
}
