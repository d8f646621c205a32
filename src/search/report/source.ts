/**
 * Read-only access to a study storage, for the report and the dashboard: the studies it holds, and one study's
 * directions and trials, read afresh on every call (a sweep may be writing meanwhile). It never writes:
 * - SQLite: a better-sqlite3 connection of its own, opened `readonly` on a file that must exist, so no schema is
 *   created and no write lock taken (SqliteStorage's constructor does both). SqliteStorage keeps its files in WAL
 *   mode, where a reader neither blocks a sweep's writes nor waits for them, and each read transaction sees the
 *   latest commit. The queries are those of SqliteStorage.loadTrials (storage/sqlite.ts), turned into trials by the
 *   same helper (storage/trial-record.ts); test/cli/dashboard.test.ts checks both read the same trials.
 * - PostgreSQL: PostgresStorage, whose reads are SELECTs (trials in a READ ONLY transaction), opened only once a probe
 *   has found its tables, so that pointing the dashboard at an empty database does not create them.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { StudyError } from '../errors.js';
import type { Direction, FrozenTrial } from '../frozen-trial.js';
import { PostgresConnection } from '../storage/postgres-connection.js';
import { PostgresStorage } from '../storage/postgres.js';
import { isPostgresUrl, redactPostgresUrl } from '../storage/postgres-url.js';
import { readSqliteTrials, SCHEMA_VERSION, sqlitePathFromUrl } from '../storage/sqlite.js';
import type { StudySummary } from '../storage/storage.js';

export interface StudyContents {
  directions: Direction[];
  trials: FrozenTrial[];
}

export interface StudySource {
  /** The storage URL as shown to a user (no password). */
  readonly shown: string;
  /** Every study in the storage, oldest first. */
  studies(): StudySummary[];
  /** One study, read in one transaction; throws StudyError when there is no study of that name. */
  study(name: string): StudyContents;
  close(): void;
}

/** Opens a storage URL (sqlite:PATH, sqlite:///PATH, postgresql://…) for reading. Throws StudyError naming it. */
export function openStudySource(url: string): StudySource {
  const sqlitePath = sqlitePathFromUrl(url);
  if (sqlitePath !== null) return new SqliteSource(url, sqlitePath);
  if (isPostgresUrl(url)) return new PostgresSource(url);
  throw new StudyError(`storage URL "${redactPostgresUrl(url)}" is not supported (use sqlite:PATH, sqlite:///PATH or postgresql://USER@HOST:PORT/DB)`);
}

/** The part of better-sqlite3's API used here (the package ships no types). */
interface Statement {
  get(...params: unknown[]): Record<string, unknown> | undefined;
  all(...params: unknown[]): Record<string, unknown>[];
}
interface Database {
  prepare(sql: string): Statement;
  transaction<R>(fn: () => R): () => R;
  close(): void;
}
type DatabaseConstructor = new (path: string, opts: { readonly: boolean; fileMustExist: boolean; timeout: number }) => Database;

const require = createRequire(import.meta.url);

class SqliteSource implements StudySource {
  readonly shown: string;
  private readonly db: Database;

  constructor(url: string, path: string) {
    this.shown = url;
    if (path === ':memory:') throw new StudyError(`storage ${url}: an in-memory database holds no study another process wrote`);
    // better-sqlite3 says only "unable to open database file" for a missing one.
    if (!existsSync(path)) throw new StudyError(`storage ${url}: no such file ${path}`);
    const BetterSqlite3 = require('better-sqlite3') as DatabaseConstructor;
    try {
      this.db = new BetterSqlite3(path, { readonly: true, fileMustExist: true, timeout: 30_000 });
    } catch (error) {
      throw new StudyError(`storage ${url}: ${(error as Error).message}`);
    }
    try {
      this.checkSchema();
    } catch (error) {
      this.db.close();
      throw error;
    }
  }

  private checkSchema(): void {
    let v: number | null;
    try {
      v = this.db.prepare('SELECT MAX(version_num) AS v FROM version').get()?.v as number | null;
    } catch (error) {
      const message = (error as Error).message;
      if (/no such table/.test(message)) throw new StudyError(`storage ${this.shown}: the file holds no webtrainer study (no "version" table)`);
      throw new StudyError(`storage ${this.shown}: ${message}`);
    }
    if (v === null || v === undefined) throw new StudyError(`storage ${this.shown}: the "version" table is empty; the file is not a webtrainer study storage`);
    if (v !== SCHEMA_VERSION) throw new StudyError(`storage ${this.shown}: storage schema version ${v}, this webtrainer reads version ${SCHEMA_VERSION}`);
  }

  studies(): StudySummary[] {
    return this.db
      .prepare('SELECT s.study_id, s.study_name, s.directions, (SELECT COUNT(*) FROM trials t WHERE t.study_id = s.study_id) AS n FROM studies s ORDER BY s.study_id')
      .all()
      .map((r) => ({ studyId: r.study_id as number, studyName: r.study_name as string, directions: JSON.parse(r.directions as string) as Direction[], nTrials: r.n as number }));
  }

  study(name: string): StudyContents {
    return this.db.transaction(() => {
      const row = this.db.prepare('SELECT study_id, directions FROM studies WHERE study_name = ?').get(name);
      if (!row) throw new StudyError(`no study named "${name}" in storage ${this.shown}`);
      return { directions: JSON.parse(row.directions as string) as Direction[], trials: this.trials(row.study_id as number) };
    })();
  }

  /** One study's trials, as SqliteStorage reads them (inside the caller's read transaction). */
  private trials(studyId: number): FrozenTrial[] {
    return readSqliteTrials(this.db, 't.study_id = ?', [studyId]);
  }

  close(): void {
    this.db.close();
  }
}

class PostgresSource implements StudySource {
  readonly shown: string;
  private readonly storage: PostgresStorage;

  constructor(url: string) {
    this.shown = redactPostgresUrl(url);
    const probe = new PostgresConnection(url);
    try {
      const [found] = probe.run([{ text: "SELECT to_regclass('webtrainer_version') IS NOT NULL AS present" }], 'looking for the study tables', true);
      if (!found.rows[0].present) throw new StudyError(`storage ${this.shown} holds no webtrainer study (no table webtrainer_version in its search_path)`);
    } finally {
      probe.close();
    }
    this.storage = new PostgresStorage(url);
  }

  studies(): StudySummary[] {
    return this.storage.getAllStudies();
  }

  study(name: string): StudyContents {
    const found = this.studies().find((s) => s.studyName === name);
    if (!found) throw new StudyError(`no study named "${name}" in storage ${this.shown}`);
    return { directions: found.directions, trials: this.storage.getAllTrials(found.studyId) };
  }

  close(): void {
    this.storage.close();
  }
}
