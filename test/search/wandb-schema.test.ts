/**
 * W&B sweep config features beyond plain distributions (wandb/sweeps `config/schema.json`, `params.py`,
 * `grid_search.py`): categorical_w_probabilities, nested parameters, beta's defaults, grids over int_uniform and
 * q_uniform, metric.target, run_cap, and Hugging Face's direction overriding metric.goal.
 * Expected values are worked by hand from those sources (or printed by NumPy where it says so).
 */
import { describe, expect, it } from 'vitest';
import { resolveSpace } from '../../src/search/spaces/resolve-space.js';
import { GridSampler } from '../../src/search/samplers/grid.js';
import { RandomSampler } from '../../src/search/samplers/random.js';
import type { SpaceValue } from '../../src/search/spaces/param-spec.js';
import { convertWandbParam, NESTING_DELIMITER, numpyArange, wandbGridValues, wandbSweep, type WandbSweepConfig } from '../../src/search/spaces/wandb.js';
import { createStudy } from '../../src/search/study.js';

const D = NESTING_DELIMITER;

function inverseCdf(spec: ReturnType<typeof convertWandbParam>): (u: number) => unknown {
  if (spec.kind !== 'quantile') throw new Error(`expected a quantile spec, got ${spec.kind}`);
  return spec.inverseCdf;
}

/** Runs a sweep's hpSpace for n trials (its own sampler unless given); returns what the objective got. */
async function run(config: WandbSweepConfig, n: number, objective: (p: Record<string, SpaceValue>, i: number) => number = () => 0) {
  const sweep = wandbSweep(config);
  const study = createStudy({ sampler: config.method === 'grid' ? sweep.sampler({ seed: 0 }) : new RandomSampler({ seed: 3 }), direction: sweep.direction });
  const seen: Array<Record<string, SpaceValue>> = [];
  await study.optimize(
    (t) => {
      const p = sweep.hpSpace(t);
      seen.push(p);
      return objective(p, seen.length - 1);
    },
    { nTrials: sweep.trialCount(n, 0), callbacks: sweep.callbacks },
  );
  return { seen, study, sweep };
}

describe('categorical_w_probabilities', () => {
  it("picks values[argmin(u >= cumsum(p))], W&B's inverse CDF", () => {
    // cumsum [0.2, 0.7, 1.0]: u < 0.2 → a; 0.2 <= u < 0.7 → b; u >= 0.7 → c.
    const f = inverseCdf(convertWandbParam('opt', { distribution: 'categorical_w_probabilities', values: ['a', 'b', 'c'], probabilities: [0.2, 0.5, 0.3] }));
    expect([0, 0.19, 0.2, 0.69, 0.7, 0.999].map(f)).toEqual(['a', 'a', 'b', 'b', 'c', 'c']);
    // Without `distribution`, values + probabilities is categorical_w_probabilities (the schema's default).
    const g = inverseCdf(convertWandbParam('opt', { values: [1, 2], probabilities: [0.9, 0.1] }));
    expect([g(0.89), g(0.9)]).toEqual([1, 2]);
  });

  it('samples with the given probabilities', async () => {
    const { seen } = await run({ method: 'random', parameters: { opt: { distribution: 'categorical_w_probabilities', values: ['sgd', 'adam', 'adamw'], probabilities: [0.1, 0.6, 0.3] } } }, 2000);
    const share = (v: string) => seen.filter((p) => p.opt === v).length / 2000;
    // Binomial sd at n = 2000 is at most 0.011: 0.03 is over 2.7 sd.
    expect(Math.abs(share('sgd') - 0.1)).toBeLessThan(0.03);
    expect(Math.abs(share('adam') - 0.6)).toBeLessThan(0.03);
    expect(Math.abs(share('adamw') - 0.3)).toBeLessThan(0.03);
  });

  it('validation names the parameter and the values (validate_categorical_prob)', () => {
    const p = (probabilities: number[], distribution?: string) => () => convertWandbParam('opt', { distribution, values: ['a', 'b'], probabilities });
    expect(p([0.5, 0.4])).toThrow('opt: probabilities [0.5,0.4] sum to 0.9, not 1');
    expect(p([1])).toThrow('opt: values ["a","b"] and probabilities [1] are not the same length');
    expect(p([1.5, -0.5])).toThrow('opt: probabilities ([1.5,-0.5]) must be a list of numbers >= 0');
    expect(p([0.5, 0.5], 'categorical')).toThrow('opt: distribution categorical takes no probabilities ([0.5,0.5]); use categorical_w_probabilities');
    // Grid search disallows probabilities (grid_search.py).
    expect(() => wandbSweep({ method: 'grid', parameters: { opt: { values: ['a', 'b'], probabilities: [0.5, 0.5] } } })).toThrow('opt: grid search needs value, values, int_uniform or q_uniform (got categorical_w_probabilities)');
  });
});

describe('nested parameters', () => {
  const parameters = {
    epochs: { value: 3 },
    optimizer: { parameters: { momentum: { min: 0.5, max: 0.9 }, name: { values: ['sgd'] }, schedule: { parameters: { warmup: { distribution: 'int_uniform', min: 0, max: 2 } } } } },
  };

  it('the objective gets a nested dict; the sampler sees W&B\'s flat names', async () => {
    const { seen, study } = await run({ method: 'random', parameters }, 20);
    for (const p of seen) {
      expect(Object.keys(p)).toEqual(['epochs', 'optimizer']);
      const opt = p.optimizer as Record<string, SpaceValue>;
      expect(p.epochs).toBe(3);
      expect(opt.name).toBe('sgd');
      expect(opt.momentum as number).toBeGreaterThanOrEqual(0.5);
      expect(opt.momentum as number).toBeLessThanOrEqual(0.9);
      expect([0, 1, 2]).toContain((opt.schedule as Record<string, SpaceValue>).warmup);
    }
    // HyperParameterSet.from_config: prefix + key + ".wbnest[599c28ca25da]." at each level; constants are not sampled.
    expect(Object.keys(study.trials[0].params).sort()).toEqual([`optimizer${D}momentum`, `optimizer${D}name`, `optimizer${D}schedule${D}warmup`]);
  });

  it('a grid crosses nested axes like top-level ones', async () => {
    const { seen } = await run({ method: 'grid', parameters: { a: { parameters: { x: { values: [1, 2] } } }, b: { values: ['p', 'q'] } } }, 10);
    expect(seen.map((p) => `${(p.a as Record<string, SpaceValue>).x}${p.b}`).sort()).toEqual(['1p', '1q', '2p', '2q']);
  });

  it('errors name the flat parameter', () => {
    expect(() => wandbSweep({ method: 'random', parameters: { opt: { parameters: { lr: { min: 1, max: 1 } } } } })).toThrow(`opt${D}lr: min (1) must be less than max (1)`);
    expect(() => wandbSweep({ method: 'random', parameters: { opt: { parameters: { lr: { value: 1 } }, value: 2 } } })).toThrow('opt: a nested parameter holds only "parameters" (also got value)');
    expect(() => wandbSweep({ method: 'random', parameters: { opt: { parameters: {} } } })).toThrow('opt: parameters ({}) must be a non-empty dict of parameters');
    expect(() => wandbSweep({ method: 'random', parameters: { '1st': { value: 1 } } })).toThrow('1st: a W&B parameter name must match');
  });
});

describe('beta, grids, min < max', () => {
  it('beta and q_beta default to a = 1, b = 1: the uniform distribution on [0, 1]', () => {
    // Beta(1, 1) has CDF x, so its inverse CDF is u.
    const beta = inverseCdf(convertWandbParam('b', { distribution: 'beta' }));
    for (const u of [0.1, 0.25, 0.8]) expect(beta(u) as number).toBeCloseTo(u, 10);
    // q_beta, q 0.5: round(0.3 / 0.5) · 0.5 = round(0.6) · 0.5 = 0.5; round(0.2 / 0.5) · 0.5 = 0.
    const qbeta = inverseCdf(convertWandbParam('b', { distribution: 'q_beta', q: 0.5 }));
    expect([qbeta(0.3), qbeta(0.2)]).toEqual([0.5, 0]);
  });

  it('grid over int_uniform (min … max) and q_uniform (np.arange(min, max, q): max excluded)', () => {
    expect(wandbGridValues('n', { distribution: 'int_uniform', min: 2, max: 5 })).toEqual([2, 3, 4, 5]);
    expect(wandbGridValues('n', { min: -1, max: 1 })).toEqual([-1, 0, 1]); // inferred int_uniform
    expect(wandbGridValues('x', { distribution: 'q_uniform', min: 0, max: 1, q: 0.25 })).toEqual([0, 0.25, 0.5, 0.75]);
    expect(wandbGridValues('x', { distribution: 'q_uniform', min: 1, max: 10, q: 3 })).toEqual([1, 4, 7]);
    // NumPy prints np.arange(0, 1, 0.2).tolist() = [0.0, 0.2, 0.4, 0.6000000000000001, 0.8]: W&B keeps these floats.
    expect(wandbGridValues('x', { distribution: 'q_uniform', min: 0, max: 1, q: 0.2 })).toEqual([0, 0.2, 0.4, 0.6000000000000001, 0.8]);
    // NumPy: np.arange(0.05, 1, 0.1).tolist() and np.arange(-1, 1, 0.3).tolist().
    expect(numpyArange(0.05, 1, 0.1)).toEqual([0.05, 0.15000000000000002, 0.25000000000000006, 0.35000000000000003, 0.45000000000000007, 0.5500000000000002, 0.6500000000000001, 0.7500000000000002, 0.8500000000000002, 0.9500000000000002]);
    expect(numpyArange(-1, 1, 0.3)).toEqual([-1, -0.7, -0.3999999999999999, -0.09999999999999987, 0.20000000000000018, 0.5000000000000002, 0.8000000000000003]);
  });

  it('a grid sweep enumerates the product of those values once', async () => {
    const { seen, sweep } = await run({ method: 'grid', parameters: { n: { distribution: 'int_uniform', min: 1, max: 2 }, x: { distribution: 'q_uniform', min: 0, max: 1, q: 0.5 } } }, 50);
    expect(sweep.sampler()).toBeInstanceOf(GridSampler);
    expect(seen.map((p) => `${p.n}/${p.x}`).sort()).toEqual(['1/0', '1/0.5', '2/0', '2/0.5']);
  });

  it('min must be less than max (validate_min_max)', () => {
    expect(() => convertWandbParam('lr', { distribution: 'uniform', min: 0.1, max: 0.01 })).toThrow('lr: min (0.1) must be less than max (0.01)');
  });
});

describe('metric.target, run_cap and direction', () => {
  it('metric.target: the sweep starts no trial after one reaches it (minimize: value <= target)', async () => {
    // Objectives 0.9, 0.8, 0.45, 0.3, …: the third (0.45 <= 0.5) reaches the target, so 3 trials of 10 run.
    const values = [0.9, 0.8, 0.45, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1];
    const { study } = await run({ method: 'random', metric: { name: 'loss', target: 0.5 }, parameters: { x: { min: 0, max: 1 } } }, 10, (_, i) => values[i]);
    expect(study.trials.map((t) => t.value)).toEqual([0.9, 0.8, 0.45]);
  });

  it('metric.target with maximize: value >= target; the value is exactly the target counts', async () => {
    const values = [0.5, 0.9, 0.95, 0.99];
    const { study } = await run({ method: 'random', metric: { name: 'acc', goal: 'maximize', target: 0.9 }, parameters: { x: { min: 0, max: 1 } } }, 4, (_, i) => values[i]);
    expect(study.trials.map((t) => t.value)).toEqual([0.5, 0.9]);
  });

  it('run_cap: the study holds at most run_cap trials', async () => {
    const sweep = wandbSweep({ method: 'random', run_cap: 5, parameters: { x: { min: 0, max: 1 } } });
    // min(requested, run_cap − trials already in the study).
    expect([sweep.trialCount(20, 0), sweep.trialCount(20, 3), sweep.trialCount(20, 7), sweep.trialCount(3, 0)]).toEqual([5, 2, 0, 3]);
    expect(wandbSweep({ method: 'random', parameters: { x: { value: 1 } } }).trialCount(20, 100)).toBe(20);
    const { study } = await run({ method: 'random', run_cap: 2, parameters: { x: { min: 0, max: 1 } } }, 10);
    expect(study.trials.length).toBe(2);
    expect(() => wandbSweep({ method: 'random', run_cap: 0, parameters: { x: { value: 1 } } })).toThrow('run_cap (0) must be an integer > 0');
    expect(() => wandbSweep({ method: 'random', metric: { name: 'loss', target: Number.NaN }, parameters: { x: { value: 1 } } })).toThrow('metric.target (NaN) must be a finite number');
  });

  it("HF's direction overrides metric.goal (run_hp_search_wandb sets sweep_config['metric']['goal'] = direction)", () => {
    const config: WandbSweepConfig = { method: 'random', metric: { name: 'acc', goal: 'maximize' }, parameters: { x: { min: 0, max: 1 } } };
    expect(wandbSweep(config).direction).toBe('maximize');
    expect(wandbSweep(config, { direction: 'minimize' }).direction).toBe('minimize');
    // hyperparameterSearch's direction defaults to 'minimize', as HF's does, and wins over the sweep's goal.
    expect(resolveSpace({ backend: 'wandb', hpSpace: config }).direction).toBe('minimize');
    expect(resolveSpace({ backend: 'wandb', hpSpace: { ...config, metric: { name: 'acc', goal: 'minimize' } }, direction: 'maximize' }).direction).toBe('maximize');
  });

  it('resolveSpace hands run_cap and the target callback on', () => {
    const space = resolveSpace({ backend: 'wandb', direction: 'maximize', hpSpace: { method: 'random', run_cap: 4, metric: { name: 'acc', target: 0.8 }, parameters: { x: { min: 0, max: 1 } } } });
    expect(space.trialCount?.(20, 1)).toBe(3);
    expect(space.callbacks?.length).toBe(1);
  });
});
