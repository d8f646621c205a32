/** One behavioural suite run over every storage backend. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { CategoricalDistribution, FloatDistribution, IntDistribution } from '../../src/search/distributions.js';
import { InMemoryStorage, SCHEMA_VERSION, SqliteStorage, sqlitePathFromUrl, getStorage } from '../../src/search/storage/index.js';
import type { StudyStorage } from '../../src/search/storage/storage.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'wt-storage-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

const backends: Array<[string, () => StudyStorage]> = [
  ['InMemoryStorage', () => new InMemoryStorage()],
  ['SqliteStorage', () => new SqliteStorage(`sqlite:${join(tempDir(), 'study.db')}`)],
];

describe.each(backends)('%s', (_name, make) => {
  it('creates, finds and refuses duplicate studies', () => {
    const s = make();
    const id = s.createNewStudy(['minimize', 'maximize'], 'a');
    expect(s.getStudyIdFromName('a')).toBe(id);
    expect(s.getStudyName(id)).toBe('a');
    expect(s.getStudyDirections(id)).toEqual(['minimize', 'maximize']);
    expect(() => s.createNewStudy(['minimize'], 'a')).toThrow('study name "a" already exists');
    expect(() => s.getStudyIdFromName('nope')).toThrow('no study named "nope"');
    expect(s.getAllStudies().map((x) => x.studyName)).toEqual(['a']);
    s.close();
  });

  it('numbers trials per study from 0', () => {
    const s = make();
    const a = s.createNewStudy(['minimize'], 'a');
    const b = s.createNewStudy(['minimize'], 'b');
    const numbers = [s.createNewTrial(a), s.createNewTrial(b), s.createNewTrial(a)].map((id) => s.getTrial(id).number);
    expect(numbers).toEqual([0, 0, 1]);
    s.close();
  });

  it('stores params (external values back), intermediate values (NaN too), attrs and states', () => {
    const s = make();
    const st = s.createNewStudy(['minimize'], 'a');
    const t = s.createNewTrial(st);
    s.setTrialParam(t, 'lr', 0.01, new FloatDistribution(1e-5, 1, { log: true }));
    s.setTrialParam(t, 'opt', 1, new CategoricalDistribution(['sgd', 'adam']));
    s.setTrialParam(t, 'units', 32, new IntDistribution(1, 64));
    s.setTrialIntermediateValue(t, 0, 1.5);
    s.setTrialIntermediateValue(t, 3, NaN);
    s.setTrialUserAttr(t, 'note', { a: [1, 2] });
    s.setTrialSystemAttr(t, 'sys', 'x');
    expect(s.setTrialStateValues(t, 'COMPLETE', [0.25])).toBe(true);
    const f = s.getTrial(t);
    expect(f.params).toEqual({ lr: 0.01, opt: 'adam', units: 32 });
    expect(f.distributions.opt).toBeInstanceOf(CategoricalDistribution);
    expect([...f.intermediateValues]).toEqual([[0, 1.5], [3, NaN]]);
    expect(f.userAttrs).toEqual({ note: { a: [1, 2] } });
    expect(f.systemAttrs).toEqual({ sys: 'x' });
    expect(f.state).toBe('COMPLETE');
    expect(f.values).toEqual([0.25]);
    expect(f.value).toBe(0.25);
    expect(f.datetimeStart).toBeInstanceOf(Date);
    expect(f.datetimeComplete!.getTime()).toBeGreaterThanOrEqual(f.datetimeStart!.getTime());
    s.close();
  });

  it('refuses to update a finished trial, and a second finish returns false', () => {
    const s = make();
    const st = s.createNewStudy(['minimize'], 'a');
    const t = s.createNewTrial(st);
    expect(s.setTrialStateValues(t, 'FAIL')).toBe(true);
    expect(s.setTrialStateValues(t, 'COMPLETE', [1])).toBe(false);
    expect(s.getTrial(t).state).toBe('FAIL');
    expect(() => s.setTrialIntermediateValue(t, 0, 1)).toThrow('trial 0 is already finished (FAIL)');
    s.close();
  });

  it('checks a parameter against its earlier distribution in the study', () => {
    const s = make();
    const st = s.createNewStudy(['minimize'], 'a');
    s.setTrialParam(s.createNewTrial(st), 'x', 0.5, new FloatDistribution(0, 1));
    const t2 = s.createNewTrial(st);
    s.setTrialParam(t2, 'x', 1.5, new FloatDistribution(0, 2)); // new range: fine
    expect(() => s.setTrialParam(t2, 'y', 1, new IntDistribution(0, 1))).not.toThrow();
    expect(() => s.setTrialParam(s.createNewTrial(st), 'x', 1, new IntDistribution(0, 2))).toThrow('x: cannot change the distribution kind from float to int');
    s.close();
  });

  it('claims WAITING trials oldest first, once each', () => {
    const s = make();
    const st = s.createNewStudy(['minimize'], 'a');
    const w1 = s.createNewTrial(st, { state: 'WAITING', systemAttrs: { fixed_params: { x: 1 } } });
    const w2 = s.createNewTrial(st, { state: 'WAITING' });
    expect(s.getTrial(w1).datetimeStart).toBeNull();
    expect(s.claimWaitingTrial(st)).toBe(w1);
    expect(s.claimWaitingTrial(st)).toBe(w2);
    expect(s.claimWaitingTrial(st)).toBeNull();
    expect(s.getTrial(w1).state).toBe('RUNNING');
    expect(s.getTrial(w1).systemAttrs.fixed_params).toEqual({ x: 1 });
    s.close();
  });

  it('filters trials by state and maps number → id', () => {
    const s = make();
    const st = s.createNewStudy(['minimize'], 'a');
    const ids = [0, 1, 2].map(() => s.createNewTrial(st));
    s.setTrialStateValues(ids[1], 'COMPLETE', [3]);
    s.setTrialStateValues(ids[2], 'PRUNED', null);
    expect(s.getAllTrials(st, ['COMPLETE', 'PRUNED']).map((t) => t.number)).toEqual([1, 2]);
    expect(s.getAllTrials(st).map((t) => t.state)).toEqual(['RUNNING', 'COMPLETE', 'PRUNED']);
    expect(s.getTrialIdFromNumber(st, 2)).toBe(ids[2]);
    s.close();
  });

  it('fails trials whose heartbeat is stale, with a reason', async () => {
    const s = make();
    const st = s.createNewStudy(['minimize'], 'a');
    const t = s.createNewTrial(st);
    const alive = s.createNewTrial(st);
    const done = s.createNewTrial(st);
    s.setTrialStateValues(done, 'COMPLETE', [1]);
    await new Promise((r) => setTimeout(r, 30));
    s.recordHeartbeat(alive);
    expect(s.getStaleTrialIds(st, 0.02)).toEqual([t]);
    expect(s.failStaleTrials(st, 0.02)).toEqual([t]);
    expect(s.getTrial(t).state).toBe('FAIL');
    expect(s.getTrial(t).userAttrs.fail_reason).toBe('stale heartbeat');
    expect(s.getTrial(alive).state).toBe('RUNNING');
    // Already failed: a second call (another process) fails nothing.
    expect(s.failStaleTrials(st, 0.02)).toEqual([]);
    s.close();
  });

  it('a RUNNING trial never beaten counts from its start; WAITING trials are never stale', async () => {
    const s = make();
    const st = s.createNewStudy(['minimize'], 'a');
    const waiting = s.createNewTrial(st, { state: 'WAITING' });
    await new Promise((r) => setTimeout(r, 30));
    const fresh = s.createNewTrial(st);
    expect(s.getStaleTrialIds(st, 0.02)).toEqual([]);
    expect(s.getStaleTrialIds(st, 3600)).toEqual([]);
    const claimed = s.claimWaitingTrial(st)!;
    expect(claimed).toBe(waiting);
    await new Promise((r) => setTimeout(r, 30));
    // Both started ≥ 30 ms ago and neither beat since.
    expect(s.getStaleTrialIds(st, 0.02).sort()).toEqual([waiting, fresh].sort());
    s.close();
  });

  it('study attrs', () => {
    const s = make();
    const st = s.createNewStudy(['minimize'], 'a');
    s.setStudyUserAttr(st, 'k', [1]);
    s.setStudySystemAttr(st, 'g', { n: 2 });
    expect(s.getStudyUserAttrs(st)).toEqual({ k: [1] });
    expect(s.getStudySystemAttrs(st)).toEqual({ g: { n: 2 } });
    s.close();
  });
});

describe('SqliteStorage specifics', () => {
  it('parses sqlite:PATH and Optuna-style sqlite:///PATH URLs', () => {
    expect(sqlitePathFromUrl('sqlite:study.db')).toBe('study.db');
    expect(sqlitePathFromUrl('sqlite:///study.db')).toBe('study.db');
    expect(sqlitePathFromUrl('sqlite:////tmp/x.db')).toBe('/tmp/x.db');
    expect(sqlitePathFromUrl('postgres://x')).toBeNull();
    expect(() => getStorage('mysql://x')).toThrow('storage URL "mysql://x" is not supported');
  });

  it('uses WAL, persists across reopen, and continues numbering', () => {
    const path = join(tempDir(), 's.db');
    const a = new SqliteStorage(`sqlite:${path}`);
    const st = a.createNewStudy(['maximize'], 'keep');
    a.setTrialStateValues(a.createNewTrial(st), 'COMPLETE', [1]);
    a.close();
    const require = createRequire(import.meta.url);
    const Db = require('better-sqlite3');
    const raw = new Db(path);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
    const b = new SqliteStorage(`sqlite:///${path}`);
    const id = b.getStudyIdFromName('keep');
    expect(b.getTrial(b.createNewTrial(id)).number).toBe(1);
    expect(b.getAllTrials(id)[0].values).toEqual([1]);
    b.close();
  });

  it('refuses a file written by a newer schema version, with a clear error', () => {
    const path = join(tempDir(), 'new.db');
    new SqliteStorage(path).close();
    const require = createRequire(import.meta.url);
    const Db = require('better-sqlite3');
    const raw = new Db(path);
    raw.prepare('UPDATE version SET version_num = ?').run(SCHEMA_VERSION + 1);
    raw.close();
    expect(() => new SqliteStorage(path)).toThrow(`storage schema version ${SCHEMA_VERSION + 1} is newer than this webtrainer supports (${SCHEMA_VERSION})`);
  });
});
