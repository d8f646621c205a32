/**
 * Optuna's defaults (optuna 3.1 `create_study`: `sampler or TPESampler()`, `pruner or MedianPruner()`, and
 * `NSGAIISampler()` when there are several directions), in createStudy/loadStudy and in the optuna backend of
 * hyperparameterSearch; and a two-objective study with the default sampler returning its Pareto front.
 */
import { describe, expect, it } from 'vitest';
import type { Direction } from '../../src/search/frozen-trial.js';
import { resolveSpace } from '../../src/search/spaces/resolve-space.js';
import { MedianPruner } from '../../src/search/pruners/median.js';
import { NopPruner } from '../../src/search/pruners/nop.js';
import { RayGridSampler } from '../../src/search/spaces/ray-grid-sampler.js';
import { NSGAIISampler } from '../../src/search/samplers/nsga2.js';
import { RandomSampler } from '../../src/search/samplers/random.js';
import { TPESampler } from '../../src/search/samplers/tpe/sampler.js';
import { tune } from '../../src/search/spaces/ray.js';
import { InMemoryStorage } from '../../src/search/storage/index.js';
import { createStudy, loadStudy } from '../../src/search/study.js';

describe('default sampler and pruner', () => {
  it('createStudy/loadStudy: TPE + MedianPruner for one objective, NSGA-II for several', () => {
    const one = createStudy();
    expect(one.sampler).toBeInstanceOf(TPESampler);
    expect(one.pruner).toBeInstanceOf(MedianPruner);
    const storage = new InMemoryStorage();
    const two = createStudy({ storage, studyName: 'mo', directions: ['minimize', 'maximize'] });
    expect(two.sampler).toBeInstanceOf(NSGAIISampler);
    expect(two.pruner).toBeInstanceOf(MedianPruner);
    expect(loadStudy({ storage, studyName: 'mo' }).sampler).toBeInstanceOf(NSGAIISampler);
  });

  it("hyperparameterSearch's optuna backend: MedianPruner and TPE, NSGA-II with several directions; explicit options win", () => {
    const single = resolveSpace({});
    expect(single.pruner).toBeInstanceOf(MedianPruner);
    expect(single.sampler).toBeInstanceOf(TPESampler);
    expect(resolveSpace({ directions: ['minimize', 'minimize'] }).sampler).toBeInstanceOf(NSGAIISampler);
    const explicit = resolveSpace({ pruner: new NopPruner(), sampler: new RandomSampler() });
    expect(explicit.pruner).toBeInstanceOf(NopPruner);
    expect(explicit.sampler).toBeInstanceOf(RandomSampler);
    // Ray's scheduler default is FIFO (no early stopping), so the ray backend keeps no pruning.
    expect(resolveSpace({ backend: 'ray' }).pruner).toBeInstanceOf(NopPruner);
    // Several directions: ray's sampled parameters (grid aside) and a bayes sweep cannot use the single-objective TPE.
    expect(resolveSpace({ backend: 'ray', directions: ['minimize', 'minimize'] }).sampler).toBeInstanceOf(NSGAIISampler);
    expect(resolveSpace({ backend: 'ray', directions: ['minimize', 'minimize'], hpSpace: { x: tune.grid_search([1, 2]) } }).sampler).toBeInstanceOf(RayGridSampler);
    const bayes = { method: 'bayes' as const, metric: { name: 'objective', goal: 'minimize' as const }, parameters: { learning_rate: { min: 1e-4, max: 1e-2 } } };
    expect(resolveSpace({ backend: 'wandb', hpSpace: bayes }).sampler).toBeInstanceOf(TPESampler);
    expect(resolveSpace({ backend: 'wandb', hpSpace: bayes, directions: ['minimize', 'minimize'] }).sampler).toBeInstanceOf(NSGAIISampler);
    // HF's default W&B space is a random sweep: RandomSampler handles several objectives as it is.
    expect(resolveSpace({ backend: 'wandb', directions: ['minimize', 'minimize'] }).sampler).toBeInstanceOf(RandomSampler);
  });

  it('the default MedianPruner prunes in a default study (hand case)', () => {
    const study = createStudy();
    // Five completed curves report 1..5 at step 0: the median is 3 (MedianPruner needs 5 startup trials).
    for (const v of [1, 2, 3, 4, 5]) study.addTrial({ params: {}, distributions: {}, values: [v], intermediateValues: new Map([[0, v]]) });
    const bad = study.ask();
    bad.report(4, 0); // 4 > 3 → pruned
    expect(bad.shouldPrune()).toBe(true);
    const good = study.ask();
    good.report(2, 0); // 2 <= 3 → kept
    expect(good.shouldPrune()).toBe(false);
  });
});

describe('multi-objective with the default sampler', () => {
  it('a two-objective study runs past NSGA-II’s first generation and bestTrials is the Pareto front', async () => {
    const directions: Direction[] = ['minimize', 'minimize'];
    const study = createStudy({ directions });
    expect(study.sampler).toBeInstanceOf(NSGAIISampler);
    // Schaffer's problem N.1 on a 2-d input: f1 = x² + y², f2 = (x − 2)² + y².
    await study.optimize((t) => {
      const x = t.suggestFloat('x', -4, 4);
      const y = t.suggestFloat('y', -4, 4);
      return [x * x + y * y, (x - 2) ** 2 + y * y];
    }, { nTrials: 70 }); // default population 50: trials 50..69 are bred from the first generation
    const done = study.trials.filter((t) => t.state === 'COMPLETE');
    expect(done).toHaveLength(70);
    // The front, by the definition: trials that no other trial dominates (no worse in both, better in one).
    const dominated = (a: number[], b: number[]): boolean => b[0] <= a[0] && b[1] <= a[1] && (b[0] < a[0] || b[1] < a[1]);
    const front = done.filter((a) => !done.some((b) => dominated(a.values!, b.values!))).map((t) => t.number);
    expect(study.bestTrials.map((t) => t.number)).toEqual(front);
    expect(front.length).toBeGreaterThan(0);
  });

  it('hand case: values told to a default two-objective study', () => {
    const study = createStudy({ directions: ['minimize', 'minimize'] });
    // (1,4) (2,2) (4,1) trade off; (3,3) is dominated by (2,2); (2,5) by (1,4) and (2,2).
    for (const v of [[1, 4], [3, 3], [2, 2], [2, 5], [4, 1]]) study.tell(study.ask(), v);
    expect(study.bestTrials.map((t) => t.number)).toEqual([0, 2, 4]);
  });
});
