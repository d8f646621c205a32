/**
 * Seeded samplers in resumed and concurrent studies never repeat themselves (issue 13, item 4), while a fresh
 * single-process study keeps Optuna's draws (random-sampler.test.ts checks those against real Optuna).
 * Every expected number below was printed by real NumPy 1.24.2 (/usr/bin/python3), e.g.
 * `numpy.random.SeedSequence(0, spawn_key=(3,)).generate_state(4)` and
 * `numpy.random.RandomState(numpy.random.MT19937(numpy.random.SeedSequence(5, spawn_key=(2,)))).uniform(0, 1, 3)`.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/search/rng.js';
import { GridSampler } from '../../src/search/samplers/grid.js';
import { NSGAIISampler } from '../../src/search/samplers/nsga2.js';
import { QMCSampler } from '../../src/search/samplers/qmc.js';
import { RandomSampler } from '../../src/search/samplers/random.js';
import type { Sampler } from '../../src/search/samplers/sampler.js';
import { TPESampler } from '../../src/search/samplers/tpe/sampler.js';
import { TrialStream } from '../../src/search/samplers/trial-stream.js';
import { SeedSequence } from '../../src/search/seed-sequence.js';
import { createStudy, type Study } from '../../src/search/study.js';

const dir = mkdtempSync(join(tmpdir(), 'wt-streams-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let dbCount = 0;
const newPath = (): string => join(dir, `s${dbCount++}.db`);

describe('SeedSequence and Rng.forTrial against NumPy', () => {
  it('generate_state matches NumPy, with and without a spawn key', () => {
    expect([...new SeedSequence(12345).generateState(3)]).toEqual([2688385916, 3048105090, 4196366895]);
    expect([...new SeedSequence(0, [3]).generateState(4)]).toEqual([3685993406, 3082302701, 753534295, 4087185121]);
    expect([...new SeedSequence(4294967295, [123456]).generateState(4)]).toEqual([733520034, 3516331379, 3439929675, 2924354810]);
  });

  it('Rng.forTrial(seed, n) is RandomState(MT19937(SeedSequence(seed, spawn_key=(n,))))', () => {
    const draws = (seed: number, n: number): number[] => {
      const r = Rng.forTrial(seed, n);
      return [r.random(), r.random(), r.random()];
    };
    expect(draws(0, 3)).toEqual([0.8536898712261963, 0.8027928138825293, 0.7214976304713332]);
    expect(draws(7, 1)).toEqual([0.06711185451149182, 0.5134925147886097, 0.4495749770648476]);
    expect(draws(0, 0)).toEqual([0.1750181525710941, 0.7975497900326787, 0.03285147329858884]);
    expect(draws(4294967295, 123456)).toEqual([0.779556883306543, 0.6534843160358642, 0.6821629321798119]);
    // Raw words 0, 1, 624 and 625: NumPy starts at position 623, so the first refill comes after one word.
    const r = Rng.forTrial(0, 3);
    const words: number[] = [];
    for (let i = 0; i < 626; i++) words.push(r.uint32());
    expect([words[0], words[1], words[624], words[625]]).toEqual([3666570065, 4005454940, 2861629493, 3573458508]);
  });
});

describe('TrialStream', () => {
  const three = (r: Rng): number[] => [r.random(), r.random(), r.random()];

  it('trials 0, 1, 2, … in this process: one plain RandomState(seed) stream', () => {
    const s = new TrialStream(5);
    expect([0, 1, 2].map((n) => s.rngFor(n).random())).toEqual(three(new Rng(5)));
  });

  it('a jump in numbering reseeds from (seed, number), then the stream continues; a started trial never reseeds', () => {
    const s = new TrialStream(5);
    s.startTrial(2);
    s.startTrial(3);
    expect([s.rngFor(2).random(), s.rngFor(3).random(), s.rngFor(2).random()]).toEqual(three(Rng.forTrial(5, 2)));
    s.startTrial(9);
    expect(s.rngFor(9).random()).toBe(Rng.forTrial(5, 9).random());
  });
});

/** Runs `n` trials of `objective` on a SQLite study with a fresh sampler, as one process would. */
async function runProcess(path: string, sampler: Sampler, n: number, objective: (s: Study) => (t: import('../../src/search/trial.js').Trial) => number): Promise<void> {
  const study = createStudy({ storage: `sqlite:${path}`, studyName: 's', loadIfExists: true, sampler });
  await study.optimize(objective(study), { nTrials: n });
  study.storage.close();
}

function trialsOf(path: string): Array<Record<string, unknown>> {
  const s = createStudy({ storage: `sqlite:${path}`, studyName: 's', loadIfExists: true });
  const params = s.trials.map((t) => t.params);
  s.storage.close();
  return params;
}

const xy = () => (t: import('../../src/search/trial.js').Trial): number => t.suggestFloat('x', 0, 1) + t.suggestFloat('y', -1, 1) ** 2;

describe('a resumed study does not repeat its configurations', () => {
  it('RandomSampler(seed 5): trials 2..4 after a resume are the (5, 2) stream, not a replay of trials 0..1', async () => {
    const path = newPath();
    const x = () => (t: import('../../src/search/trial.js').Trial): number => t.suggestFloat('x', 0, 1);
    await runProcess(path, new RandomSampler({ seed: 5 }), 2, x);
    await runProcess(path, new RandomSampler({ seed: 5 }), 3, x);
    // NumPy: RandomState(5).uniform(0, 1, 2), then RandomState(MT19937(SeedSequence(5, spawn_key=(2,)))).uniform(0, 1, 3).
    expect(trialsOf(path).map((p) => p.x)).toEqual([0.22199317108973948, 0.8707323061773764, 0.42689755046770417, 0.5534986342907152, 0.1309235416803537]);
  });

  const samplers: Array<[string, () => Sampler]> = [
    ['RandomSampler', () => new RandomSampler({ seed: 0 })],
    ['TPESampler (startup)', () => new TPESampler({ seed: 0 })],
    ['TPESampler (after 2 startup trials)', () => new TPESampler({ seed: 0, nStartupTrials: 2 })],
    ['QMCSampler', () => new QMCSampler({ seed: 0 })],
  ];
  for (const [name, make] of samplers) {
    it(`${name}: a new sampler instance with the same seed continues with new configurations, reproducibly`, async () => {
      const path = newPath();
      await runProcess(path, make(), 3, xy);
      const copy = newPath();
      copyFileSync(path, copy);
      await runProcess(path, make(), 3, xy);
      const all = trialsOf(path).map((p) => JSON.stringify(p));
      expect(all).toHaveLength(6);
      expect(new Set(all).size).toBe(6);
      // Same seed, same study state → the same resumed trials.
      await runProcess(copy, make(), 3, xy);
      expect(trialsOf(copy)).toEqual(trialsOf(path));
    });
  }

  it('NSGAIISampler (two objectives, first generation): resumed trials are new', async () => {
    const path = newPath();
    const obj = (study: Study) => (t: import('../../src/search/trial.js').Trial) => {
      void study;
      const x = t.suggestFloat('x', 0, 1);
      return [x, 1 - x] as unknown as number;
    };
    for (const n of [2, 3]) {
      const study = createStudy({ storage: `sqlite:${path}`, studyName: 's', loadIfExists: true, directions: ['minimize', 'minimize'], sampler: new NSGAIISampler({ seed: 0, populationSize: 10 }) });
      await study.optimize(obj(study), { nTrials: n });
      study.storage.close();
    }
    const s = createStudy({ storage: `sqlite:${path}`, studyName: 's', loadIfExists: true, directions: ['minimize', 'minimize'] });
    expect(new Set(s.trials.map((t) => t.params.x)).size).toBe(5);
  });

  it('GridSampler: the order of the remaining points after a resume depends on (seed, trial number)', async () => {
    // Visited points are never run again (as Optuna); the pick among the rest is reseeded, not replayed.
    const path = newPath();
    const g = () => new GridSampler({ x: [0, 1, 2, 3, 4, 5, 6, 7] }, { seed: 0 });
    const obj = () => (t: import('../../src/search/trial.js').Trial): number => t.suggestInt('x', 0, 7);
    await runProcess(path, g(), 2, obj);
    await runProcess(path, g(), 6, obj);
    const xs = trialsOf(path).map((p) => p.x as number);
    // Hand-worked: the resumed process starts at trial 2, so it picks with RandomState(MT19937(SeedSequence(0,
    // spawn_key=(2,)))): choice(len(unvisited)) over the unvisited ids in ascending order, trial after trial.
    const rng = Rng.forTrial(0, 2);
    const unvisited = [0, 1, 2, 3, 4, 5, 6, 7].filter((v) => !xs.slice(0, 2).includes(v));
    const expected: number[] = [];
    while (unvisited.length > 0) expected.push(unvisited.splice(rng.choice(unvisited.length), 1)[0]);
    expect(xs.slice(2)).toEqual(expected);
  });
});

describe('two workers with one seed on one study', () => {
  it('two Study objects on one SQLite file, turns interleaved: all configurations distinct', async () => {
    const path = newPath();
    const open = (): Study => createStudy({ storage: `sqlite:${path}`, studyName: 's', loadIfExists: true, sampler: new RandomSampler({ seed: 0 }) });
    const a = open();
    const b = open();
    for (let i = 0; i < 10; i++) {
      for (const s of [a, b]) {
        const t = s.ask();
        s.tell(t, t.suggestFloat('x', 0, 1) + t.suggestInt('k', 0, 1000));
      }
    }
    const configs = a.trials.map((t) => JSON.stringify(t.params));
    expect(configs).toHaveLength(20);
    expect(new Set(configs).size).toBe(20);
    // Worker a had trial 0 as a fresh study: that one is Optuna's first draw of RandomState(0).
    expect(a.trials[0].params.x).toBe(new Rng(0).random());
  });

  it('overlapping trials (both RUNNING at once) and TPE past its startup trials: all distinct', async () => {
    const path = newPath();
    const open = (): Study => createStudy({ storage: `sqlite:${path}`, studyName: 's', loadIfExists: true, sampler: new TPESampler({ seed: 3, nStartupTrials: 4 }) });
    const a = open();
    const b = open();
    for (let i = 0; i < 8; i++) {
      const ta = a.ask();
      const tb = b.ask();
      const va = ta.suggestFloat('x', -2, 2) ** 2;
      const vb = tb.suggestFloat('x', -2, 2) ** 2;
      a.tell(ta, va);
      b.tell(tb, vb);
    }
    const xs = a.trials.map((t) => t.params.x);
    expect(xs).toHaveLength(16);
    expect(new Set(xs).size).toBe(16);
  });
});
