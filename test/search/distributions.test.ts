import { describe, expect, it } from 'vitest';
import {
  CategoricalDistribution,
  checkDistributionCompatibility,
  distributionFromJSON,
  distributionToJSON,
  FloatDistribution,
  IntDistribution,
} from '../../src/search/distributions.js';

describe('distribution validation names the parameter and the value', () => {
  it.each([
    [() => new FloatDistribution(0, 1, { log: true }, 'learning_rate'), 'learning_rate: low (0) must be > 0 for a log scale'],
    [() => new FloatDistribution(2, 1, {}, 'x'), 'x: low (2) must be <= high (1)'],
    [() => new FloatDistribution(1, 2, { log: true, step: 0.1 }, 'x'), 'x: step (0.1) is not supported with a log scale'],
    [() => new FloatDistribution(0, 1, { step: -1 }, 'x'), 'x: step (-1) must be > 0'],
    [() => new FloatDistribution(0, NaN, {}, 'x'), 'x: high (NaN) must be a finite number'],
    [() => new IntDistribution(0, 10, { log: true }, 'units'), 'units: low (0) must be >= 1 for a log scale'],
    [() => new IntDistribution(1, 10, { log: true, step: 2 }, 'units'), 'units: step (2) must be 1 for a log scale'],
    [() => new IntDistribution(1.5, 10, {}, 'units'), 'units: low (1.5) must be an integer'],
    [() => new CategoricalDistribution([], 'opt'), 'opt: choices ([]) must be a non-empty array'],
  ])('%#', (make, message) => {
    expect(make).toThrow(message);
  });

  it('lowers a high that is off the step grid to the last grid point (Optuna behaviour)', () => {
    const d = new FloatDistribution(0, 1, { step: 0.3 }, 'x');
    expect(d.high).toBeCloseTo(0.9, 12);
    expect(new IntDistribution(0, 10, { step: 3 }).high).toBe(9);
  });
});

describe('contains', () => {
  it('checks bounds, steps, integrality and categorical indices', () => {
    const f = new FloatDistribution(0, 1, { step: 0.25 });
    expect([0, 0.25, 1].map((v) => f.contains(v))).toEqual([true, true, true]);
    expect([0.1, -0.25, 1.25].map((v) => f.contains(v))).toEqual([false, false, false]);
    const i = new IntDistribution(2, 10, { step: 2 });
    expect([2, 4, 10, 3, 12, 4.5].map((v) => i.contains(v))).toEqual([true, true, true, false, false, false]);
    const c = new CategoricalDistribution(['a', 'b']);
    expect([0, 1, 2, 0.5, -1].map((v) => c.contains(v))).toEqual([true, true, false, false, false]);
  });

  it('single() as Optuna: a one-point range', () => {
    expect(new FloatDistribution(1, 1).single()).toBe(true);
    expect(new FloatDistribution(0, 0.05, { step: 0.1 }).single()).toBe(true);
    expect(new IntDistribution(3, 4, { step: 2 }).single()).toBe(true);
    expect(new IntDistribution(3, 5, { step: 2 }).single()).toBe(false);
    expect(new CategoricalDistribution(['x']).single()).toBe(true);
  });
});

describe('JSON round trip in Optuna layout', () => {
  it('writes Optuna distribution_to_json', () => {
    expect(JSON.parse(distributionToJSON(new FloatDistribution(1e-6, 1e-4, { log: true })))).toEqual({
      name: 'FloatDistribution',
      attributes: { low: 1e-6, high: 1e-4, log: true, step: null },
    });
    expect(JSON.parse(distributionToJSON(new CategoricalDistribution([4, 'x', null, true])))).toEqual({
      name: 'CategoricalDistribution',
      attributes: { choices: [4, 'x', null, true] },
    });
  });

  it.each([new FloatDistribution(0, 1), new FloatDistribution(0, 1, { step: 0.1 }), new IntDistribution(1, 64, { log: true }), new IntDistribution(0, 9, { step: 3 }), new CategoricalDistribution([1, 'a', false, null])])(
    'round trips %#',
    (d) => {
      expect(distributionToJSON(distributionFromJSON(distributionToJSON(d)))).toBe(distributionToJSON(d));
    },
  );

  it('parses a JSON written by Optuna', () => {
    const d = distributionFromJSON('{"name": "IntDistribution", "attributes": {"log": false, "step": 1, "low": 1, "high": 5}}');
    expect(d).toBeInstanceOf(IntDistribution);
    expect([d.contains(1), d.contains(6)]).toEqual([true, false]);
  });
});

describe('compatibility of a parameter across trials', () => {
  it('allows a changed range but not a changed kind, log or choices', () => {
    expect(() => checkDistributionCompatibility('x', new FloatDistribution(0, 1), new FloatDistribution(0, 2))).not.toThrow();
    expect(() => checkDistributionCompatibility('x', new FloatDistribution(0, 1), new IntDistribution(0, 1))).toThrow('x: cannot change the distribution kind from float to int');
    expect(() => checkDistributionCompatibility('lr', new FloatDistribution(1, 2), new FloatDistribution(1, 2, { log: true }))).toThrow('lr: cannot change log from false to true');
    expect(() => checkDistributionCompatibility('opt', new CategoricalDistribution(['a']), new CategoricalDistribution(['a', 'b']))).toThrow('opt: categorical choices cannot change');
  });
});

describe('internal representation', () => {
  it('categorical ↔ index, and unknown choices are errors naming the parameter', () => {
    const c = new CategoricalDistribution([4, 8, 16]);
    expect(c.toInternal(8)).toBe(1);
    expect(c.toExternal(2)).toBe(16);
    expect(() => c.toInternal(3, 'batch')).toThrow('batch: value (3) is not one of the choices [4,8,16]');
  });
});
