/** PED-ANOVA importance (src/search/importance): synthetic studies whose answer is known. */
import { describe, expect, it } from 'vitest';
import { CategoricalDistribution, FloatDistribution, IntDistribution } from '../../src/search/distributions.js';
import { pedAnovaImportance, quantileFilter } from '../../src/search/importance/index.js';
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
