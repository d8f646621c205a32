/**
 * PED-ANOVA importance (src/search/importance): synthetic studies whose answer is known, one objective or several
 * (one ranking per objective, in the report's data too).
 */
import { describe, expect, it } from 'vitest';
import { CategoricalDistribution, FloatDistribution, IntDistribution } from '../../src/search/distributions.js';
import { importancePerObjective, pedAnovaImportance, quantileFilter } from '../../src/search/importance/index.js';
import { reportData } from '../../src/search/report/data.js';
import { RandomSampler } from '../../src/search/samplers/random.js';
import { createStudy, type Study } from '../../src/search/study.js';

function randomStudy(n: number, objective: (p: { x: number; y: number; z: number; c: string }) => number, direction: 'minimize' | 'maximize' = 'minimize'): Study {
  const study = createStudy({ direction, sampler: new RandomSampler({ seed: 1 }) });
  for (let i = 0; i < n; i++) {
    const t = study.ask();
    const x = t.suggestFloat('x', -10, 10);
    const y = t.suggestFloat('y', 1e-3, 10, { log: true });
    const z = t.suggestInt('z', 0, 20);
    const c = t.suggest('c', new CategoricalDistribution(['a', 'b', 'c'])) as string;
    study.tell(t, objective({ x, y, z, c }));
  }
  return study;
}

describe('pedAnovaImportance', () => {
  it('gives the only parameter the objective depends on an importance >= 0.9', () => {
    const study = randomStudy(200, ({ x }) => x * x);
    const imp = pedAnovaImportance(study.trials);
    expect(Object.keys(imp)[0]).toBe('x');
    expect(imp.x).toBeGreaterThanOrEqual(0.9);
    expect(Object.values(imp).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 9);
  });

  it('finds a categorical parameter and respects maximisation', () => {
    const study = randomStudy(200, ({ c }) => (c === 'b' ? 1 : 0), 'maximize');
    const imp = pedAnovaImportance(study.trials, { direction: 'maximize' });
    // A third of the trials tie at the best value, so the top set is large and the others' noise is not tiny.
    expect(Object.keys(imp)[0]).toBe('c');
    expect(imp.c).toBeGreaterThan(0.5);
  });

  it('orders two parameters weighted 3:1', () => {
    const study = randomStudy(300, ({ x, z }) => 3 * Math.abs(x) / 10 + Math.abs(z - 10) / 10);
    const imp = pedAnovaImportance(study.trials);
    expect(Object.keys(imp).slice(0, 2)).toEqual(['x', 'z']);
    expect(imp.x).toBeGreaterThan(imp.z);
    expect(imp.z).toBeGreaterThan(imp.y);
    expect(imp.z).toBeGreaterThan(imp.c);
  });

  it('splits evenly with too few trials and gives single-valued parameters 0', () => {
    const study = createStudy();
    const x = new FloatDistribution(0, 1);
    const k = new IntDistribution(3, 3);
    study.addTrial({ params: { x: 0.2, k: 3 }, distributions: { x, k }, values: [1] });
    study.addTrial({ params: { x: 0.7, k: 3 }, distributions: { x, k }, values: [2] });
    expect(pedAnovaImportance(study.trials)).toEqual({ x: 1, k: 0 });
  });

  it('keeps the top quantile, and at least two trials', () => {
    expect(quantileFilter([5, 1, 4, 2, 3, 6, 7, 8, 9, 10], 0.1, 2)).toEqual([1, 3]);
    expect(quantileFilter([5, 1, 4, 2, 3, 6, 7, 8, 9, 10], 0.3, 2)).toEqual([1, 3, 4]);
  });
});

describe('importance per objective', () => {
  /** Objective 0 (minimised) depends on x only, objective 1 (maximised) on y only; z and c are noise. */
  function twoObjectiveStudy(): Study {
    const study = createStudy({ directions: ['minimize', 'maximize'], sampler: new RandomSampler({ seed: 2 }) });
    for (let i = 0; i < 200; i++) {
      const t = study.ask();
      const x = t.suggestFloat('x', -10, 10);
      const y = t.suggestFloat('y', 1e-3, 10, { log: true });
      t.suggestInt('z', 0, 20);
      t.suggest('c', new CategoricalDistribution(['a', 'b', 'c']));
      study.tell(t, [x * x, -((Math.log10(y) - 0.5) ** 2)]);
    }
    return study;
  }

  it('ranks x first for objective 0 and y first for objective 1', () => {
    const study = twoObjectiveStudy();
    const [first, second] = importancePerObjective(study.trials, study.directions);
    expect(Object.keys(first)[0]).toBe('x');
    expect(first.x).toBeGreaterThanOrEqual(0.9);
    expect(Object.keys(second)[0]).toBe('y');
    expect(second.y).toBeGreaterThanOrEqual(0.9);
    // As Optuna's get_param_importances(study, target=lambda t: t.values[0]) and, the second objective being
    // maximised, target=lambda t: -t.values[1] (Optuna's PED-ANOVA takes a target as lower-is-better).
    expect(first).toEqual(pedAnovaImportance(study.trials, { target: (t) => t.values![0] }));
    expect(second).toEqual(pedAnovaImportance(study.trials, { target: (t) => -t.values![1] }));
    expect(() => pedAnovaImportance(study.trials)).toThrow(/give a target for a multi-objective study/);
  });

  it('gives the report one ranking per objective', () => {
    const study = twoObjectiveStudy();
    const data = reportData('two', 'memory', study.directions, study.trials);
    expect(data.importance.map((e) => e.objective)).toEqual([0, 1]);
    expect(data.importance.map((e) => e.ranking?.[0][0])).toEqual(['x', 'y']);
    expect(data.importance[1].note).toMatch(/top 10% of value 1 \(maximize\)/);
    const empty = reportData('none', 'memory', ['minimize'], []);
    expect(empty.importance).toEqual([{ objective: 0, ranking: null, note: 'no COMPLETE trial yet: nothing to rank' }]);
  });
});
