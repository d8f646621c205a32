import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FloatDistribution, IntDistribution } from '../../src/search/distributions.js';
import { TrialPruned } from '../../src/search/errors.js';
import { NopPruner } from '../../src/search/pruners/nop.js';
import { RandomSampler } from '../../src/search/samplers/random.js';
import { createStudy, loadStudy } from '../../src/search/study.js';

const dir = mkdtempSync(join(tmpdir(), 'wt-study-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('optimize', () => {
  it('runs nTrials, records COMPLETE values and finds the best', async () => {
    const study = createStudy({ sampler: new RandomSampler({ seed: 1 }) });
    await study.optimize((t) => (t.suggestFloat('x', -10, 10) - 2) ** 2, { nTrials: 30 });
    expect(study.trials).toHaveLength(30);
    expect(study.trials.every((t) => t.state === 'COMPLETE')).toBe(true);
    const brute = Math.min(...study.trials.map((t) => t.values![0]));
    expect(study.bestValue).toBe(brute);
    expect(study.bestParams.x).toBe(study.trials.find((t) => t.values![0] === brute)!.params.x);
  });

  it('maximize picks the largest', async () => {
    const study = createStudy({ direction: 'maximize', sampler: new RandomSampler({ seed: 2 }) });
    await study.optimize((t) => t.suggestInt('k', 0, 100), { nTrials: 10 });
    expect(study.bestValue).toBe(Math.max(...study.trials.map((t) => t.values![0])));
  });

  it('failure is data: throw, NaN, Infinity and wrong arity record FAIL with a reason and the loop goes on', async () => {
    const study = createStudy({ sampler: new RandomSampler({ seed: 3 }) });
    const outcomes = [() => { throw new Error('boom'); }, () => NaN, () => -Infinity, () => [1, 2], () => 1];
    let i = 0;
    await study.optimize(() => outcomes[i++](), { nTrials: 5 });
    expect(study.trials.map((t) => t.state)).toEqual(['FAIL', 'FAIL', 'FAIL', 'FAIL', 'COMPLETE']);
    expect(study.trials.slice(0, 4).map((t) => t.userAttrs.fail_reason)).toEqual([
      'Error: boom',
      'objective returned NaN',
      'objective returned -Infinity',
      'objective returned 2 values; the study has 1 directions',
    ]);
    expect(study.trials[0].values).toBeNull();
  });

  it('catch: a list rethrows other errors after recording FAIL', async () => {
    class Expected extends Error {}
    const study = createStudy({ sampler: new RandomSampler({ seed: 3 }) });
    let i = 0;
    const run = study.optimize(() => {
      i++;
      if (i === 1) throw new Expected('fine');
      throw new TypeError('fatal');
    }, { nTrials: 5, catch: [Expected] });
    await expect(run).rejects.toThrow('fatal');
    expect(study.trials.map((t) => t.state)).toEqual(['FAIL', 'FAIL']);
  });

  it('TrialPruned records PRUNED with the last reported value', async () => {
    const study = createStudy({ sampler: new RandomSampler({ seed: 4 }), pruner: new NopPruner() });
    await study.optimize((t) => {
      t.report(0.7, 0);
      t.report(0.5, 1);
      throw new TrialPruned();
    }, { nTrials: 1 });
    const [t] = study.trials;
    expect(t.state).toBe('PRUNED');
    expect(t.values).toEqual([0.5]);
    expect([...t.intermediateValues]).toEqual([[0, 0.7], [1, 0.5]]);
  });

  it('timeout stops starting trials', async () => {
    const study = createStudy({ sampler: new RandomSampler({ seed: 5 }) });
    await study.optimize(async () => {
      await new Promise((r) => setTimeout(r, 20));
      return 1;
    }, { timeout: 0.1 });
    expect(study.trials.length).toBeGreaterThan(1);
    expect(study.trials.length).toBeLessThan(10);
  });

  it('callbacks see each finished trial', async () => {
    const seen: number[] = [];
    const study = createStudy({ sampler: new RandomSampler({ seed: 6 }) });
    await study.optimize(() => 1, { nTrials: 3, callbacks: [(_s, t) => void seen.push(t.number)] });
    expect(seen).toEqual([0, 1, 2]);
  });

  it('keeps `concurrency` trials in flight', async () => {
    const study = createStudy({ sampler: new RandomSampler({ seed: 7 }) });
    let inFlight = 0;
    let peak = 0;
    await study.optimize(async (t) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return t.number;
    }, { nTrials: 12, concurrency: 4 });
    expect(peak).toBe(4);
    expect(study.trials.map((t) => t.number)).toEqual([...Array(12).keys()]);
  });
});

describe('define-by-run', () => {
  it('conditional spaces: params exist only on their branch', async () => {
    const study = createStudy({ sampler: new RandomSampler({ seed: 8 }) });
    await study.optimize((t) => {
      const model = t.suggestCategorical('model', ['linear', 'mlp']);
      if (model === 'mlp') return t.suggestInt('hidden', 8, 64, { log: true });
      return t.suggestFloat('c', 0.1, 1);
    }, { nTrials: 20 });
    for (const t of study.trials) {
      expect(Object.keys(t.params).sort()).toEqual(t.params.model === 'mlp' ? ['hidden', 'model'] : ['c', 'model']);
    }
    expect(new Set(study.trials.map((t) => t.params.model))).toEqual(new Set(['linear', 'mlp']));
  });

  it('the same name twice returns the same value; a different distribution is an error', () => {
    const study = createStudy({ sampler: new RandomSampler({ seed: 9 }) });
    const t = study.ask();
    expect(t.suggestFloat('x', 0, 1)).toBe(t.suggestFloat('x', 0, 1));
    expect(() => t.suggestFloat('x', 0, 2)).toThrow('x: suggested again in trial 0 with a different distribution');
    study.tell(t, 1);
    const t2 = study.ask();
    expect(() => t2.suggestInt('x', 0, 2)).toThrow('x: cannot change the distribution kind from float to int');
  });

  it('errors from suggest name the parameter', () => {
    const study = createStudy({ sampler: new RandomSampler({ seed: 9 }) });
    expect(() => study.ask().suggestFloat('learning_rate', 0, 1, { log: true })).toThrow('learning_rate: low (0) must be > 0 for a log scale');
  });
});

describe('ask / tell', () => {
  it('ask with fixed distributions, tell by trial or number, and no double tell', () => {
    const study = createStudy({ sampler: new RandomSampler({ seed: 10 }) });
    const a = study.ask({ x: new FloatDistribution(0, 1), n: new IntDistribution(1, 3) });
    const b = study.ask();
    expect(Object.keys(a.params).sort()).toEqual(['n', 'x']);
    study.tell(b.number, { state: 'PRUNED' });
    study.tell(a, 0.5);
    expect(() => study.tell(a, 0.1)).toThrow('trial 0 is already finished (COMPLETE)');
    expect(study.trials.map((t) => t.state)).toEqual(['COMPLETE', 'PRUNED']);
    study.tell(study.ask(), { state: 'FAIL', failReason: 'oom' });
    expect(study.trials[2].userAttrs.fail_reason).toBe('oom');
  });

  it('enqueueTrial fixes the listed params, others are sampled', async () => {
    const study = createStudy({ sampler: new RandomSampler({ seed: 11 }) });
    study.enqueueTrial({ x: 0.25 });
    study.enqueueTrial({ x: 0.75, y: 3 });
    await study.optimize((t) => t.suggestFloat('x', 0, 1) + t.suggestInt('y', 0, 5), { nTrials: 3 });
    expect(study.trials[0].params.x).toBe(0.25);
    expect(study.trials[1].params).toEqual({ x: 0.75, y: 3 });
    expect(study.trials[2].params.x).not.toBe(0.75);
  });

  it('an enqueued value outside the suggested range is an error naming it', () => {
    const study = createStudy({ sampler: new RandomSampler({ seed: 11 }) });
    study.enqueueTrial({ x: 5 });
    expect(() => study.ask().suggestFloat('x', 0, 1)).toThrow('x: enqueued value (5) is outside');
  });

  it('user attrs and multi-objective Pareto front', () => {
    const study = createStudy({ directions: ['minimize', 'maximize'], sampler: new RandomSampler({ seed: 12 }) });
    const pts: Array<[number, number]> = [[1, 1], [2, 3], [0, 0], [2, 2], [3, 3]];
    for (const p of pts) {
      const t = study.ask();
      t.setUserAttr('p', p);
      study.tell(t, p);
    }
    // Brute force: (1,1) (2,3) (0,0) are non-dominated for (min, max); (2,2) ≺ (2,3); (3,3) ≺ (2,3).
    expect(study.bestTrials.map((t) => t.number)).toEqual([0, 1, 2]);
    expect(study.trials[4].userAttrs.p).toEqual([3, 3]);
    expect(() => study.bestTrial).toThrow('use directions');
  });
});

describe('interruption and resumption', () => {
  it('stop() marks running trials FAIL "interrupted"; the sqlite study resumes and continues numbering', async () => {
    const url = `sqlite:${join(dir, 'resume.db')}`;
    const study = createStudy({ storage: url, studyName: 's', sampler: new RandomSampler({ seed: 13 }) });
    await study.optimize(async (t) => {
      const x = t.suggestFloat('x', 0, 1);
      if (t.number === 3) {
        setTimeout(() => study.stop(), 10);
        await new Promise((r) => setTimeout(r, 10_000));
      }
      return x;
    }, { nTrials: 10 });
    const states = study.trials.map((t) => t.state);
    expect(states).toEqual(['COMPLETE', 'COMPLETE', 'COMPLETE', 'FAIL']);
    expect(study.trials[3].userAttrs.fail_reason).toBe('interrupted');
    const again = createStudy({ storage: url, studyName: 's', loadIfExists: true, sampler: new RandomSampler({ seed: 14 }) });
    await again.optimize((t) => t.suggestFloat('x', 0, 1), { nTrials: 2 });
    expect(again.trials.map((t) => [t.number, t.state])).toEqual([[0, 'COMPLETE'], [1, 'COMPLETE'], [2, 'COMPLETE'], [3, 'FAIL'], [4, 'COMPLETE'], [5, 'COMPLETE']]);
    expect(loadStudy({ studyName: 's', storage: url }).trials).toHaveLength(6);
  });

  it('an AbortSignal interrupts all in-flight trials', async () => {
    const study = createStudy({ sampler: new RandomSampler({ seed: 15 }) });
    const ac = new AbortController();
    let sawAbort = 0;
    await study.optimize(async (t) => {
      if (t.number === 2) setTimeout(() => ac.abort(), 5);
      await new Promise<void>((r) => t.signal.addEventListener('abort', () => { sawAbort++; r(); }));
      return 1;
    }, { nTrials: 100, concurrency: 3, signal: ac.signal });
    expect(study.trials.map((t) => t.state)).toEqual(['FAIL', 'FAIL', 'FAIL']);
    expect(study.trials.every((t) => t.userAttrs.fail_reason === 'interrupted')).toBe(true);
    expect(sawAbort).toBe(3);
  });

  it('heartbeats keep a running trial alive for failStaleTrials; a dead one is failed', async () => {
    const url = `sqlite:${join(dir, 'beat.db')}`;
    const study = createStudy({ storage: url, studyName: 'b', sampler: new RandomSampler({ seed: 1 }), heartbeatInterval: 0.05, gracePeriod: 0.15 });
    // A trial left RUNNING by a "dead process": asked from a study without heartbeats, so it never beats.
    loadStudy({ studyName: 'b', storage: url }).ask();
    let statesDuringRun: string[] = [];
    await study.optimize(async () => {
      await new Promise((r) => setTimeout(r, 250));
      // Another process loading the study with heartbeats fails stale trials at once: the beating trial (#1)
      // must survive, the dead one (#0) not.
      statesDuringRun = loadStudy({ studyName: 'b', storage: url, heartbeatInterval: 0.05, gracePeriod: 0.15 }).trials.map((t) => t.state);
      return 1;
    }, { nTrials: 1 });
    expect(statesDuringRun).toEqual(['FAIL', 'RUNNING']);
    expect(study.trials.map((t) => [t.state, t.userAttrs.fail_reason])).toEqual([['FAIL', 'stale heartbeat'], ['COMPLETE', undefined]]);
  });

  it('a taken study name is an error unless loadIfExists, and directions must match', () => {
    const url = `sqlite:${join(dir, 'names.db')}`;
    createStudy({ storage: url, studyName: 'n' });
    expect(() => createStudy({ storage: url, studyName: 'n' })).toThrow('study name "n" already exists');
    expect(() => createStudy({ storage: url, studyName: 'n', loadIfExists: true, direction: 'maximize' })).toThrow('exists with directions ["minimize"]');
  });
});

describe('export', () => {
  it('toCSV has Optuna trials_dataframe columns, quoted when needed', async () => {
    const study = createStudy({ sampler: new RandomSampler({ seed: 16 }) });
    study.enqueueTrial({ opt: 'a,b' });
    await study.optimize((t) => {
      t.suggestCategorical('opt', ['a,b', 'c']);
      t.setUserAttr('note', 'he said "hi"');
      return 1.5;
    }, { nTrials: 1 });
    const [header, row] = study.toCSV().trim().split('\n');
    expect(header).toBe('number,value,datetime_start,datetime_complete,duration,params_opt,user_attrs_note,state');
    expect(row.startsWith('0,1.5,')).toBe(true);
    expect(row.endsWith(',"a,b","he said ""hi""",COMPLETE')).toBe(true);
    const json = study.toJSON();
    expect(json.trials[0]).toMatchObject({ number: 0, state: 'COMPLETE', values: [1.5], params: { opt: 'a,b' } });
    expect(JSON.parse(JSON.stringify(json)).trials).toHaveLength(1);
  });
});
