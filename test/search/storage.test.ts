/**
 * One behavioural suite run over every storage backend: in memory, SQLite, and PostgreSQL on a private server
 * (test/helpers/postgres-server.ts; each test gets a fresh schema). Without PostgreSQL's binaries the PostgreSQL
 * tests fail, saying how to install them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { createServer, type Socket } from 'node:net';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CategoricalDistribution, FloatDistribution, IntDistribution } from '../../src/search/distributions.js';
import {
  InMemoryStorage,
  SCHEMA_VERSION,
  SqliteStorage,
  sqlitePathFromUrl,
  getStorage,
  PostgresStorage,
  PostgresStorageError,
  POSTGRES_SCHEMA_VERSION,
  isPostgresUrl,
  redactPostgresUrl,
} from '../../src/search/storage/index.js';
import { PostgresConnection } from '../../src/search/storage/postgres-connection.js';
import type { StudyStorage } from '../../src/search/storage/storage.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres-server.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'wt-storage-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

// One private PostgreSQL server for the file, started by the first PostgreSQL test, stopped at the end.
let pgServer: Promise<PostgresServer> | null = null;
function postgresServer(): Promise<PostgresServer> {
  return (pgServer ??= startPostgres());
}
afterAll(async () => {
  if (pgServer) (await pgServer.catch(() => null))?.stop();
});
/** The URL of a fresh schema, set before each PostgreSQL test. */
let pgUrl = '';
const opened: StudyStorage[] = [];
afterEach(() => {
  // A test that failed before close() must not leave its connection (and worker) open.
  while (opened.length) opened.pop()!.close();
});

interface Backend {
  make: () => StudyStorage;
  /**
   * Heartbeat tests wait 30 ms × timeScale with a grace of 20 ms × timeScale: a call to a server takes a few ms
   * (more on a loaded machine), and a live trial must not go stale while the test makes its calls.
   */
  timeScale?: number;
  /** Runs before each test of the backend (a fresh database). */
  before?: () => Promise<void>;
}

const backends: Array<[string, Backend]> = [
  ['InMemoryStorage', { make: () => new InMemoryStorage() }],
  ['SqliteStorage', { make: () => new SqliteStorage(`sqlite:${join(tempDir(), 'study.db')}`) }],
  [
    'PostgresStorage',
    {
      make: () => {
        const s = new PostgresStorage(pgUrl);
        opened.push(s);
        return s;
      },
      before: async () => {
        pgUrl = await (await postgresServer()).createSchema();
      },
      timeScale: 10,
    },
  ],
];

describe.each(backends)('%s', (_name, { make, before, timeScale = 1 }) => {
  const wait = (): Promise<void> => new Promise((r) => setTimeout(r, 30 * timeScale));
  const grace = 0.02 * timeScale;
  // In beforeEach (not beforeAll, whose failure vitest reports as skipped tests): without PostgreSQL each test fails, saying why.
  if (before) beforeEach(before, 60_000);

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
    await wait();
    s.recordHeartbeat(alive);
    expect(s.getStaleTrialIds(st, grace)).toEqual([t]);
    expect(s.failStaleTrials(st, grace)).toEqual([t]);
    expect(s.getTrial(t).state).toBe('FAIL');
    expect(s.getTrial(t).userAttrs.fail_reason).toBe('stale heartbeat');
    expect(s.getTrial(alive).state).toBe('RUNNING');
    // Already failed: a second call (another process) fails nothing.
    expect(s.failStaleTrials(st, grace)).toEqual([]);
    s.close();
  });

  it('a RUNNING trial never beaten counts from its start; WAITING trials are never stale', async () => {
    const s = make();
    const st = s.createNewStudy(['minimize'], 'a');
    const waiting = s.createNewTrial(st, { state: 'WAITING' });
    await wait();
    const fresh = s.createNewTrial(st);
    expect(s.getStaleTrialIds(st, grace)).toEqual([]);
    expect(s.getStaleTrialIds(st, 3600)).toEqual([]);
    const claimed = s.claimWaitingTrial(st)!;
    expect(claimed).toBe(waiting);
    await wait();
    // Both started ≥ 30 ms (× timeScale) ago and neither beat since.
    expect(s.getStaleTrialIds(st, grace).sort()).toEqual([waiting, fresh].sort());
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

  it('deletes a study, leaving the others', () => {
    const s = make();
    const a = s.createNewStudy(['minimize'], 'a');
    const b = s.createNewStudy(['minimize'], 'b');
    s.setTrialStateValues(s.createNewTrial(a), 'COMPLETE', [1]);
    s.createNewTrial(b);
    s.deleteStudy(a);
    expect(s.getAllStudies().map((x) => [x.studyName, x.nTrials])).toEqual([['b', 1]]);
    expect(() => s.getStudyName(a)).toThrow(`study id ${a} does not exist`);
    expect(() => s.deleteStudy(a)).toThrow(`study id ${a} does not exist`);
    expect(s.getAllTrials(b).map((t) => t.number)).toEqual([0]);
    s.close();
  });

  it('creates a trial from a template (params, values, intermediate values, attrs) in one go', () => {
    const s = make();
    const st = s.createNewStudy(['minimize'], 'a');
    const t = s.createNewTrial(st, {
      state: 'COMPLETE',
      params: { x: { internal: 0.5, distribution: new FloatDistribution(0, 1) }, k: { internal: 2, distribution: new IntDistribution(0, 4) } },
      values: [0.25],
      intermediateValues: new Map([[0, 1], [5, NaN]]),
      userAttrs: { u: 1 },
      systemAttrs: { s: 'x' },
    });
    const f = s.getTrial(t);
    expect([f.state, f.values, f.params, [...f.intermediateValues], f.userAttrs, f.systemAttrs]).toEqual(['COMPLETE', [0.25], { x: 0.5, k: 2 }, [[0, 1], [5, NaN]], { u: 1 }, { s: 'x' }]);
    expect(f.datetimeComplete).toBeInstanceOf(Date);
    // The template's params are checked against the study's earlier distributions too.
    expect(() => s.createNewTrial(st, { params: { x: { internal: 1, distribution: new IntDistribution(0, 2) } } })).toThrow('x: cannot change the distribution kind from float to int');
    expect(s.getAllTrials(st).map((x) => x.number)).toEqual([0]);
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

describe('PostgresStorage specifics', () => {
  let server: PostgresServer;
  beforeEach(async () => {
    server = await postgresServer();
    pgUrl = await server.createSchema();
  }, 60_000);
  const open = (url = pgUrl, opts?: ConstructorParameters<typeof PostgresStorage>[1]): PostgresStorage => {
    const s = new PostgresStorage(url, opts);
    opened.push(s);
    return s;
  };
  /** Runs SQL on its own connection, in the test's schema. */
  const sql = (text: string, values?: unknown[]): Record<string, unknown>[] => {
    const c = new PostgresConnection(pgUrl);
    try {
      return c.run([{ text, values }], 'test SQL', true)[0].rows;
    } finally {
      c.close();
    }
  };

  it('getStorage takes postgresql:// and postgres:// URLs; names them without the password', () => {
    const s = getStorage(pgUrl);
    opened.push(s);
    expect(s).toBeInstanceOf(PostgresStorage);
    const t = getStorage(pgUrl.replace('postgresql://', 'postgres://'));
    opened.push(t);
    expect(t).toBeInstanceOf(PostgresStorage);
    expect(isPostgresUrl('postgresql+psycopg2://u@h/db')).toBe(true);
    expect(redactPostgresUrl('postgresql://u:hunter2@h:5432/db?sslmode=require&sslpassword=x')).toBe('postgresql://u@h:5432/db?sslmode=require');
    expect(() => getStorage('mysql://u:pw@x/db')).toThrow('storage URL "mysql://u@x/db" is not supported');
  });

  it('persists across reopen and continues numbering; two connections share one study', () => {
    const a = open();
    const st = a.createNewStudy(['maximize'], 'keep');
    a.setTrialStateValues(a.createNewTrial(st), 'COMPLETE', [1]);
    a.close();
    const b = open();
    const c = open();
    const id = b.getStudyIdFromName('keep');
    const ids = [b.createNewTrial(id), c.createNewTrial(id), b.createNewTrial(id)];
    expect(ids.map((t) => c.getTrial(t).number)).toEqual([1, 2, 3]);
    expect(c.getAllTrials(id)[0].values).toEqual([1]);
    expect(sql('SELECT version_num FROM webtrainer_version')).toEqual([{ version_num: POSTGRES_SCHEMA_VERSION }]);
  });

  it('refuses a database written by a newer schema version, with a clear error', () => {
    open().close();
    sql('UPDATE webtrainer_version SET version_num = $1', [POSTGRES_SCHEMA_VERSION + 1]);
    expect(() => open()).toThrow(`storage schema version ${POSTGRES_SCHEMA_VERSION + 1} is newer than this webtrainer supports (${POSTGRES_SCHEMA_VERSION})`);
  });

  it('a refused connection: the error names the URL without password and what failed, at once', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const t0 = Date.now();
    let err: unknown;
    try {
      open(`postgresql://someone:hunter2@127.0.0.1:${port}/db`);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PostgresStorageError);
    const msg = (err as Error).message;
    expect(msg).toContain(`PostgreSQL storage postgresql://someone@127.0.0.1:${port}/db: could not connect:`);
    expect(msg).toContain('ECONNREFUSED');
    expect(msg).not.toContain('hunter2');
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('a server that never answers: connecting gives up after connectTimeoutMs', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((sock) => void sockets.push(sock));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const t0 = Date.now();
    try {
      expect(() => open(`postgresql://u@127.0.0.1:${port}/db`, { connectTimeoutMs: 300 })).toThrow(
        new RegExp(`PostgreSQL storage postgresql://u@127\\.0\\.0\\.1:${port}/db: could not connect: .*timeout`, 'i'),
      );
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('an unknown database is named in the error', () => {
    expect(() => open(`${server.baseUrl}no_such_db`)).toThrow(`PostgreSQL storage ${server.baseUrl}no_such_db: could not connect: database "no_such_db" does not exist`);
  });

  it('a lock held elsewhere: the call fails after statementTimeoutMs, naming it, and the storage works on', () => {
    const s = open(pgUrl, { statementTimeoutMs: 300 });
    const st = s.createNewStudy(['minimize'], 'a');
    // Another session holds the study row (as a stuck worker would) inside an open transaction.
    const holder = new PostgresConnection(pgUrl);
    try {
      holder.run([{ text: 'BEGIN' }, { text: 'SELECT 1 FROM webtrainer_studies WHERE study_id = $1 FOR UPDATE', values: [st] }], 'hold', true);
      const t0 = Date.now();
      expect(() => s.createNewTrial(st)).toThrow(/PostgreSQL storage .*: createNewTrial failed: .*(lock|statement) timeout.*\[SQLSTATE (55P03|57014)\]/);
      expect(Date.now() - t0).toBeLessThan(3000);
      holder.run([{ text: 'ROLLBACK' }], 'release', false);
    } finally {
      holder.close();
    }
    expect(s.getTrial(s.createNewTrial(st)).number).toBe(0);
  });

  it('a connection the server ends is replaced on the next call', () => {
    const s = open(pgUrl, { applicationName: 'wt-victim' });
    const st = s.createNewStudy(['minimize'], 'a');
    expect(sql("SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'wt-victim'")).toEqual([{ ok: true }]);
    // The first call may still meet the dead connection (and fail, saying so); the next one reconnects.
    try {
      s.createNewTrial(st);
    } catch (err) {
      expect((err as PostgresStorageError).connectionLost).toBe(true);
    }
    s.createNewTrial(st);
    expect(s.getAllTrials(st).length).toBeGreaterThanOrEqual(1);
  });
});
