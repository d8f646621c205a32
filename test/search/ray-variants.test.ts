/**
 * Ray Tune's variant generation (ray/tune/search/variant_generator.py, basic_variant.py) on hand-worked cases:
 * grid_search repeated once per sample (HF passes n_trials as num_samples), in Ray's order; sample_from resolved
 * against the config; nested dicts in the param space.
 */
import { describe, expect, it } from 'vitest';
import { resolveSpace } from '../../src/search/spaces/resolve-space.js';
import { RandomSampler } from '../../src/search/samplers/random.js';
import type { SpaceValue } from '../../src/search/spaces/param-spec.js';
import { RayGridSampler } from '../../src/search/spaces/ray-grid-sampler.js';
import { raySpace, tune, type RayConfig } from '../../src/search/spaces/ray.js';
import { createStudy } from '../../src/search/study.js';

/** Runs a Ray space as hyperparameterSearch does: numSamples · (grid size) trials, one at a time. */
async function run(config: RayConfig, numSamples: number, seed = 5) {
  const space = raySpace(config);
  const study = createStudy({ sampler: space.sampler({ seed, fallback: new RandomSampler({ seed }) }) });
  const seen: Array<Record<string, SpaceValue>> = [];
  await study.optimize((t) => {
    seen.push(space.hpSpace(t));
    return 0;
  }, { nTrials: space.trialCount(numSamples) });
  return { seen, study, space };
}

describe('grid_search with num_samples', () => {
  it('grid [1, 2, 3] with num_samples 2 → 6 trials: 1, 2, 3, 1, 2, 3', async () => {
    // _TrialIterator: each of the num_samples samples runs generate_variants once, which yields the whole grid in order.
    const { seen, space } = await run({ x: tune.grid_search([1, 2, 3]) }, 2);
    expect(space.trialCount(2)).toBe(6);
    expect(seen.map((p) => p.x)).toEqual([1, 2, 3, 1, 2, 3]);
  });

  it("two axes: sorted by path, the first varying fastest (_grid_search_generator's increment(0))", async () => {
    // grid_vars sorted: ('a',) < ('b',). Indices [0,0] → [1,0] → [0,1] → [1,1], then again for sample 2.
    const { seen } = await run({ b: tune.grid_search(['x', 'y']), a: tune.grid_search([1, 2]) }, 2);
    expect(seen.map((p) => `${p.a}${p.b}`)).toEqual(['1x', '2x', '1y', '2y', '1x', '2x', '1y', '2y']);
  });

  it('sampled params are drawn afresh for every grid point', async () => {
    const { seen } = await run({ g: tune.grid_search([1, 2]), u: tune.uniform(0, 1) }, 3);
    expect(seen.map((p) => p.g)).toEqual([1, 2, 1, 2, 1, 2]);
    expect(new Set(seen.map((p) => p.u)).size).toBe(6);
  });

  it("Ray's plain-data form {grid_search: [...]} is a grid axis too", async () => {
    const { seen } = await run({ x: { grid_search: ['p', 'q'] } }, 1);
    expect(seen.map((p) => p.x)).toEqual(['p', 'q']);
  });

  it('without a grid, num_samples trials; hyperparameterSearch gets the count through resolveSpace', () => {
    expect(raySpace({ u: tune.uniform(0, 1) }).trialCount(7)).toBe(7);
    const space = resolveSpace({ backend: 'ray', hpSpace: { lr: tune.grid_search([1e-3, 1e-4, 1e-5]), wd: tune.uniform(0, 0.1) } });
    expect(space.sampler).toBeInstanceOf(RayGridSampler);
    expect(space.trialCount?.(20, 0)).toBe(60); // HF's default n_trials 20 · 3 grid points
  });
});

describe('nested dicts', () => {
  it('leaves are named by path (Ray\'s evaluated_params keys) and come back nested', async () => {
    const config: RayConfig = { seed: 1, model: { hidden: tune.choice([32, 64]), layers: 2, opt: { lr: tune.grid_search([0.1, 0.01]) }, extra: {} } };
    const { seen, study } = await run(config, 1);
    expect(seen.map((p) => ((p.model as Record<string, SpaceValue>).opt as Record<string, SpaceValue>).lr)).toEqual([0.1, 0.01]);
    for (const p of seen) {
      const model = p.model as Record<string, SpaceValue>;
      expect(p.seed).toBe(1);
      expect(model.layers).toBe(2);
      expect([32, 64]).toContain(model.hidden);
      expect(model.extra).toEqual({});
    }
    expect(Object.keys(study.trials[0].params).sort()).toEqual(['model/hidden', 'model/opt/lr']);
  });

  it('grid axes sort by full path: (a,) before (model, lr)', async () => {
    const { seen } = await run({ model: { lr: tune.grid_search([1, 2]) }, a: tune.grid_search(['x', 'y']) }, 1);
    // a varies fastest: (x,1) (y,1) (x,2) (y,2).
    expect(seen.map((p) => `${p.a}${(p.model as Record<string, SpaceValue>).lr}`)).toEqual(['x1', 'y1', 'x2', 'y2']);
  });

  it('a dict whose type is not a domain type is a nested config, not a domain', async () => {
    const { seen } = await run({ opt: { type: 'adam', beta: tune.choice([0.9]) } }, 1);
    expect(seen[0]).toEqual({ opt: { type: 'adam', beta: 0.9 } });
  });
});

describe('sample_from', () => {
  it('gets spec.config with the values resolved for this trial', async () => {
    const { seen, study } = await run({ a: tune.uniform(0, 1), b: tune.sample_from((spec) => (spec.config.a as number) * 2) }, 5);
    for (const p of seen) expect(p.b).toBe((p.a as number) * 2);
    // What the objective got is recorded on the trial, as for other derived values.
    expect(study.trials[0].userAttrs.param_b).toBe(seen[0].b);
  });

  it('functions may depend on each other in any order (resolution passes)', async () => {
    // Pass 1: c reads d (unresolved) → retried; d = a · 10 = 10. Pass 2: c = d + 1 = 11.
    const { seen } = await run({
      c: tune.sample_from((spec) => (spec.config.d as number) + 1),
      d: tune.sample_from((spec) => (spec.config.a as number) * 10),
      a: tune.choice([1]),
    }, 1);
    expect(seen[0]).toEqual({ c: 11, d: 10, a: 1 });
  });

  it('reads nested values and grid values; may itself sit in a nested dict', async () => {
    const { seen } = await run({
      model: { hidden: tune.grid_search([16, 32]), heads: tune.sample_from((spec) => ((spec.config.model as Record<string, SpaceValue>).hidden as number) / 8) },
    }, 1);
    expect(seen).toEqual([{ model: { hidden: 16, heads: 2 } }, { model: { hidden: 32, heads: 4 } }]);
  });

  it('errors name the key: a circular dependency, a failing function, a read-only spec', async () => {
    const circular = raySpace({ x: tune.sample_from((s) => s.config.y), y: tune.sample_from((s) => s.config.x) });
    const study = createStudy({ sampler: new RandomSampler({ seed: 0 }) });
    expect(() => circular.hpSpace(study.ask())).toThrow('x, y: sample_from could not be resolved in 20 passes');
    const failing = raySpace({ f: tune.sample_from(() => { throw new Error('boom'); }) });
    expect(() => failing.hpSpace(study.ask())).toThrow('f: sample_from function failed: boom');
    const writing = raySpace({ w: tune.sample_from((s) => { (s.config as Record<string, SpaceValue>).z = 1; return 0; }) });
    expect(() => writing.hpSpace(study.ask())).toThrow('w: sample_from function failed');
  });
});
