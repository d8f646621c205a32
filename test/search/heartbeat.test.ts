/**
 * Heartbeats and RetryFailedTrialCallback (issue 13, item 3), against Optuna 3.1's documented behaviour
 * (optuna/storages/_heartbeat.py, optuna/_callbacks.py, RDBStorage's heartbeat_interval / grace_period).
 * Expected retry attrs were printed by real Optuna 3.1 (RDBStorage(heartbeat_interval=1, grace_period=1,
 * failed_trial_callback=RetryFailedTrialCallback(max_retry=1))): a dead trial 0 with x, user attr a=1 and a report
 * at step 0 gives trial 1 WAITING, params {x}, user attrs {a: 1}, system attrs {failed_trial: 0, retry_history: [0]},
 * no intermediate values; ask() claims it and suggest_float returns the same x; when trial 1 dies in turn no retry
 * follows (history [0, 1] is longer than max_retry 1); a later trial 2 that dies gets retry 3 with
 * {failed_trial: 2, retry_history: [2]}.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveHeartbeat } from '../../src/search/heartbeat.js';
import { RetryFailedTrialCallback } from '../../src/search/retry-failed-trial-callback.js';
import { RandomSampler } from '../../src/search/samplers/random.js';
import { InMemoryStorage } from '../../src/search/storage/in-memory.js';
import { SqliteStorage } from '../../src/search/storage/sqlite.js';
import { createStudy, loadStudy, type Study } from '../../src/search/study.js';

const dir = mkdtempSync(join(tmpdir(), 'wt-heartbeat-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let dbCount = 0;
const newUrl = (): string => `sqlite:${join(dir, `s${dbCount++}.db`)}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A trial left RUNNING by a "dead process": asked by a study without heartbeats that never tells it. */
function deadTrial(url: string, name: string, params: (study: Study) => void = () => {}): void {
  const s = loadStudy({ studyName: name, storage: url, sampler: new RandomSampler({ seed: 99 }) });
  params(s);
  s.storage.close();
}

describe('heartbeat options', () => {
  it('grace period defaults to 2 × interval (as Optuna); bad values are errors', () => {
    expect(resolveHeartbeat({})).toBeNull();
    expect(resolveHeartbeat({ heartbeatInterval: 60 })).toEqual({ intervalSeconds: 60, graceSeconds: 120, failedTrialCallback: null });
    expect(resolveHeartbeat({ heartbeatInterval: 0.5, gracePeriod: 3 })?.graceSeconds).toBe(3);
    expect(() => resolveHeartbeat({ heartbeatInterval: 0 })).toThrow('heartbeatInterval (0) must be a positive number');
    expect(() => resolveHeartbeat({ heartbeatInterval: NaN })).toThrow('heartbeatInterval (NaN)');
    expect(() => resolveHeartbeat({ heartbeatInterval: 1, gracePeriod: -1 })).toThrow('gracePeriod (-1)');
    expect(() => resolveHeartbeat({ gracePeriod: 1 })).toThrow('gracePeriod needs heartbeatInterval');
    expect(() => resolveHeartbeat({ failedTrialCallback: () => {} })).toThrow('failedTrialCallback needs heartbeatInterval');
    expect(() => createStudy({ heartbeatInterval: -2 })).toThrow('heartbeatInterval (-2)');
  });
});

describe('heartbeats', () => {
  it('an asked trial beats until told: another process does not fail it, and fails it once the beats stop', async () => {
    const url = newUrl();
    // Generous margins (grace 8 beats) so a loaded machine's late timers do not fail a live trial.
    const study = createStudy({ storage: url, studyName: 'a', heartbeatInterval: 0.03, gracePeriod: 0.25 });
    const trial = study.ask();
    await sleep(600); // 2.4 grace periods: only the heartbeat keeps it alive
    const other = new SqliteStorage(url);
    expect(other.getStaleTrialIds(study.studyId, 0.25)).toEqual([]);
    expect(loadStudy({ studyName: 'a', storage: other, heartbeatInterval: 0.03, gracePeriod: 0.25 }).trials.map((t) => t.state)).toEqual(['RUNNING']);
    study.tell(trial, 1);
    const done = study.ask(); // beats
    const dead = study.ask();
    // Simulate the death of `dead`'s process: its timer stops without a tell (the storage closes under it).
    (study as unknown as { stopHeartbeat(id: number): void }).stopHeartbeat(dead.trialId);
    await sleep(300);
    expect(other.getStaleTrialIds(study.studyId, 0.25)).toEqual([dead.trialId]);
    study.tell(done, 2);
    other.close();
  });

  it('stale trials are failed when a heartbeat study is loaded or created with loadIfExists, and before each ask', async () => {
    const url = newUrl();
    createStudy({ storage: url, studyName: 'a' }).storage.close();
    deadTrial(url, 'a', (s) => s.ask());
    await sleep(60);
    // Load: fails at once.
    const loaded = loadStudy({ studyName: 'a', storage: url, heartbeatInterval: 0.01, gracePeriod: 0.05 });
    expect(loaded.trials.map((t) => [t.state, t.userAttrs.fail_reason])).toEqual([['FAIL', 'stale heartbeat']]);
    deadTrial(url, 'a', (s) => s.ask());
    await sleep(60);
    const created = createStudy({ storage: url, studyName: 'a', loadIfExists: true, heartbeatInterval: 0.01, gracePeriod: 0.05 });
    expect(created.trials.map((t) => t.state)).toEqual(['FAIL', 'FAIL']);
    // Before each ask: a trial that died after the study was loaded.
    deadTrial(url, 'a', (s) => s.ask());
    await sleep(60);
    const t = created.ask();
    expect(created.trials.map((x) => x.state)).toEqual(['FAIL', 'FAIL', 'FAIL', 'RUNNING']);
    created.tell(t, 0);
  });

  it('a live trial failed as stale by another process (late heartbeat) stays FAIL, and optimize goes on', async () => {
    const url = newUrl();
    const study = createStudy({ storage: url, studyName: 'a', heartbeatInterval: 10 });
    const other = new SqliteStorage(url);
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      await study.optimize(async (t) => {
        if (t.number === 0) {
          await sleep(5);
          expect(other.failStaleTrials(study.studyId, 0)).toEqual([t.trialId]); // as if its beats were late
        }
        return 1;
      }, { nTrials: 2 });
      await sleep(0); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
      other.close();
    }
    expect(study.trials.map((t) => [t.state, t.userAttrs.fail_reason])).toEqual([['FAIL', 'stale heartbeat'], ['COMPLETE', undefined]]);
    expect(warnings.some((w) => w.includes('trial 0 was failed by another process'))).toBe(true);
  });

  it('without heartbeats nothing is failed (as Optuna)', async () => {
    const url = newUrl();
    const study = createStudy({ storage: url, studyName: 'a' });
    study.ask();
    await sleep(30);
    study.ask();
    expect(study.failStaleTrials()).toEqual([]);
    expect(study.trials.map((t) => t.state)).toEqual(['RUNNING', 'RUNNING']);
  });

  it('in-memory studies have heartbeats too', async () => {
    const storage = new InMemoryStorage();
    const study = createStudy({ storage, heartbeatInterval: 0.01, gracePeriod: 0.05 });
    storage.createNewTrial(study.studyId); // RUNNING, never beats
    await sleep(80);
    const t = study.ask();
    expect(study.trials.map((x) => [x.number, x.state])).toEqual([[0, 'FAIL'], [1, 'RUNNING']]);
    study.tell(t, 1);
  });

  it('two processes failing stale trials at once: each trial failed (and retried) by exactly one', async () => {
    const url = newUrl();
    createStudy({ storage: url, studyName: 'a' }).storage.close();
    deadTrial(url, 'a', (s) => {
      for (let i = 0; i < 4; i++) s.ask().suggestFloat('x', 0, 1);
    });
    await sleep(60);
    // Two connections, as two processes. B lists the same stale trials as A, but A fails them first: B's
    // failStaleTrials re-checks RUNNING under the write lock and fails none.
    const a = new SqliteStorage(url);
    const b = new SqliteStorage(url);
    const id = a.getStudyIdFromName('a');
    const seenByB = b.getStaleTrialIds(id, 0.05);
    expect(seenByB).toHaveLength(4);
    expect(a.failStaleTrials(id, 0.05)).toEqual(seenByB);
    expect(b.failStaleTrials(id, 0.05)).toEqual([]);
    a.close();
    b.close();
    // With the retry callback: the second study to look retries nothing more.
    const url2 = newUrl();
    createStudy({ storage: url2, studyName: 'a' }).storage.close();
    deadTrial(url2, 'a', (s) => {
      for (let i = 0; i < 3; i++) s.ask().suggestFloat('x', 0, 1);
    });
    await sleep(60);
    const opts = { studyName: 'a', storage: url2, heartbeatInterval: 0.01, gracePeriod: 0.05, failedTrialCallback: new RetryFailedTrialCallback() };
    const first = loadStudy(opts);
    const second = loadStudy(opts);
    expect(second.failStaleTrials()).toEqual([]);
    expect(first.trials.map((t) => [t.state, t.systemAttrs.failed_trial])).toEqual([
      ['FAIL', undefined],
      ['FAIL', undefined],
      ['FAIL', undefined],
      ['WAITING', 0],
      ['WAITING', 1],
      ['WAITING', 2],
    ]);
  });
});

describe('RetryFailedTrialCallback (Optuna 3.1 behaviour)', () => {
  it('queues the dead trial again with failed_trial / retry_history; max_retry bounds the series', async () => {
    const url = newUrl();
    const opts = { studyName: 'r', storage: url, heartbeatInterval: 0.01, gracePeriod: 0.05, failedTrialCallback: new RetryFailedTrialCallback({ maxRetry: 1 }) };
    createStudy({ storage: url, studyName: 'r' }).storage.close();
    let x = 0;
    deadTrial(url, 'r', (s) => {
      const t = s.ask();
      x = t.suggestFloat('x', 0, 1);
      t.setUserAttr('a', 1);
      t.report(0.5, 0);
    });
    await sleep(60);
    const study = loadStudy(opts);
    expect(study.trials.map((t) => [t.number, t.state, t.params, t.userAttrs, t.systemAttrs, Object.fromEntries(t.intermediateValues)])).toEqual([
      [0, 'FAIL', { x }, { a: 1, fail_reason: 'stale heartbeat' }, {}, { 0: 0.5 }],
      [1, 'WAITING', { x }, { a: 1 }, { failed_trial: 0, retry_history: [0] }, {}],
    ]);
    // The retry is claimed by the next ask and keeps its params.
    const retry = study.ask();
    expect(retry.number).toBe(1);
    expect(retry.suggestFloat('x', 0, 1)).toBe(x);
    expect(RetryFailedTrialCallback.retriedTrialNumber(retry.frozen())).toBe(0);
    expect(RetryFailedTrialCallback.retryHistory(retry.frozen())).toEqual([0]);
    // Trial 1 dies too: history [0, 1] is longer than maxRetry 1, so no retry.
    (study as unknown as { stopHeartbeat(id: number): void }).stopHeartbeat(retry.trialId);
    await sleep(60);
    expect(study.failStaleTrials().map((t) => t.number)).toEqual([1]);
    expect(study.trials.map((t) => t.state)).toEqual(['FAIL', 'FAIL']);
    // A fresh trial 2 that dies gets its own series.
    const fresh = study.ask();
    (study as unknown as { stopHeartbeat(id: number): void }).stopHeartbeat(fresh.trialId);
    await sleep(60);
    study.failStaleTrials();
    expect(study.trials.map((t) => [t.number, t.state, t.systemAttrs])).toEqual([
      [0, 'FAIL', {}],
      [1, 'FAIL', { failed_trial: 0, retry_history: [0] }],
      [2, 'FAIL', {}],
      [3, 'WAITING', { failed_trial: 2, retry_history: [2] }],
    ]);
    expect(RetryFailedTrialCallback.retriedTrialNumber(study.trials[2])).toBeNull();
  });

  it('inheritIntermediateValues copies the reports; maxRetry 0 never retries; a function callback also works', async () => {
    const url = newUrl();
    createStudy({ storage: url, studyName: 'r' }).storage.close();
    deadTrial(url, 'r', (s) => s.ask().report(3, 7));
    await sleep(60);
    const inherit = loadStudy({ studyName: 'r', storage: url, heartbeatInterval: 0.01, gracePeriod: 0.05, failedTrialCallback: new RetryFailedTrialCallback({ inheritIntermediateValues: true }) });
    expect([...inherit.trials[1].intermediateValues]).toEqual([[7, 3]]);

    const url2 = newUrl();
    createStudy({ storage: url2, studyName: 'r' }).storage.close();
    deadTrial(url2, 'r', (s) => s.ask());
    await sleep(60);
    const seen: number[] = [];
    const never = loadStudy({ studyName: 'r', storage: url2, heartbeatInterval: 0.01, gracePeriod: 0.05, failedTrialCallback: new RetryFailedTrialCallback({ maxRetry: 0 }) });
    expect(never.trials.map((t) => t.state)).toEqual(['FAIL']);
    deadTrial(url2, 'r', (s) => s.ask());
    await sleep(60);
    loadStudy({ studyName: 'r', storage: url2, heartbeatInterval: 0.01, gracePeriod: 0.05, failedTrialCallback: (_s, t) => seen.push(t.number) });
    expect(seen).toEqual([1]);
    expect(() => new RetryFailedTrialCallback({ maxRetry: -1 })).toThrow('maxRetry (-1)');
  });

  it('a killed optimize loop resumes: the dead trial FAIL, its retry COMPLETE with the same params', async () => {
    const url = newUrl();
    const hb = { heartbeatInterval: 0.02, gracePeriod: 0.08, failedTrialCallback: new RetryFailedTrialCallback({ maxRetry: 2 }) };
    createStudy({ storage: url, studyName: 'k' }).storage.close();
    let x = 0;
    deadTrial(url, 'k', (s) => (x = s.ask().suggestFloat('x', -1, 1)));
    await sleep(120);
    const study = createStudy({ storage: url, studyName: 'k', loadIfExists: true, sampler: new RandomSampler({ seed: 0 }), ...hb });
    await study.optimize((t) => t.suggestFloat('x', -1, 1) ** 2, { nTrials: 2 });
    const rows = study.trials.map((t) => [t.number, t.state, t.params.x]);
    expect(rows[0]).toEqual([0, 'FAIL', x]);
    expect(rows[1]).toEqual([1, 'COMPLETE', x]);
    expect(rows[2][1]).toBe('COMPLETE');
    expect(rows).toHaveLength(3);
  });
});
