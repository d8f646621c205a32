/**
 * SQLite storage through better-sqlite3 (the role of Optuna's RDBStorage, `optuna/storages/_rdb/`), for
 * studies that survive the process and are shared by several processes on one machine.
 * - WAL journal + busy_timeout so readers do not block the writer and writers wait instead of failing.
 * - Every write is one `BEGIN IMMEDIATE` transaction: trial numbers are MAX(number)+1 taken under the
 *   write lock (and UNIQUE(study_id, number) backs it), so two processes never get the same number.
 * - Schema versioned in a `version` table; a file written by a newer schema is refused.
 * - A heartbeat column on trials (Optuna keeps a trial_heartbeats table) lets a later run fail trials whose
 *   process died; it is set when the trial starts, so a trial killed before its first beat is stale too.
 * Limits: one machine (SQLite over a network file system is not safe); NaN intermediate values are stored as NULL.
 */
import { createRequire } from 'node:module';
import { checkDistributionCompatibility, distributionToJSON, type Distribution } from '../distributions.js';
import { StudyError } from '../errors.js';
import { isFinished, type Direction, type FrozenTrial, type TrialState } from '../frozen-trial.js';
import type { NewTrialTemplate, StudyStorage, StudySummary } from './storage.js';
import { parseDistribution, toFrozenTrial, TRIAL_STATES, type TrialRecordParts } from './trial-record.js';

/** The part of better-sqlite3's API used here (the package ships no types). */
interface Statement {
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
  get(...params: unknown[]): Record<string, unknown> | undefined;
  all(...params: unknown[]): Record<string, unknown>[];
}
interface Transaction<A extends unknown[], R> {
  (...args: A): R;
  immediate(...args: A): R;
}
interface Database {
  prepare(sql: string): Statement;
  exec(sql: string): void;
  pragma(sql: string, opts?: { simple?: boolean }): unknown;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): Transaction<A, R>;
  close(): void;
}
type DatabaseConstructor = new (path: string, opts?: { timeout?: number }) => Database;

const require = createRequire(import.meta.url);
const BetterSqlite3 = require('better-sqlite3') as DatabaseConstructor;

export const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS version (version_num INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
  study_id INTEGER PRIMARY KEY AUTOINCREMENT,
  study_name TEXT NOT NULL UNIQUE,
  directions TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS study_attrs (
  study_id INTEGER NOT NULL REFERENCES studies(study_id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('user', 'system')),
  key TEXT NOT NULL,
  value_json TEXT NOT NULL,
  PRIMARY KEY (study_id, kind, key)
);
CREATE TABLE IF NOT EXISTS trials (
  trial_id INTEGER PRIMARY KEY AUTOINCREMENT,
  study_id INTEGER NOT NULL REFERENCES studies(study_id) ON DELETE CASCADE,
  number INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('RUNNING', 'COMPLETE', 'PRUNED', 'FAIL', 'WAITING')),
  values_json TEXT,
  datetime_start INTEGER,
  datetime_complete INTEGER,
  heartbeat INTEGER,
  UNIQUE (study_id, number)
);
CREATE TABLE IF NOT EXISTS trial_params (
  trial_id INTEGER NOT NULL REFERENCES trials(trial_id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  internal REAL NOT NULL,
  distribution_json TEXT NOT NULL,
  PRIMARY KEY (trial_id, name)
);
CREATE TABLE IF NOT EXISTS trial_intermediate_values (
  trial_id INTEGER NOT NULL REFERENCES trials(trial_id) ON DELETE CASCADE,
  step INTEGER NOT NULL,
  value REAL,
  PRIMARY KEY (trial_id, step)
);
CREATE TABLE IF NOT EXISTS trial_attrs (
  trial_id INTEGER NOT NULL REFERENCES trials(trial_id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('user', 'system')),
  key TEXT NOT NULL,
  value_json TEXT NOT NULL,
  PRIMARY KEY (trial_id, kind, key)
);
CREATE INDEX IF NOT EXISTS trial_params_name ON trial_params(name);
`;

/**
 * `sqlite:PATH`, or SQLAlchemy-style `sqlite:///relative.db` / `sqlite:////abs/path.db` as Optuna takes them.
 * Returns null for a URL that is not sqlite.
 */
export function sqlitePathFromUrl(url: string): string | null {
  if (!url.startsWith('sqlite:')) return null;
  let rest = url.slice('sqlite:'.length);
  if (rest.startsWith('///')) rest = rest.slice(3);
  else if (rest.startsWith('//')) throw new StudyError(`storage URL "${url}": use sqlite:PATH or sqlite:///PATH`);
  if (rest === '') throw new StudyError(`storage URL "${url}" has no file path`);
  return rest;
}

export interface SqliteStorageOptions {
  /** How long a writer waits for the lock before failing, in ms (busy_timeout). Default 30 s. */
  busyTimeoutMs?: number;
}

export class SqliteStorage implements StudyStorage {
  private readonly db: Database;
  readonly path: string;

  constructor(pathOrUrl: string, opts: SqliteStorageOptions = {}) {
    this.path = sqlitePathFromUrl(pathOrUrl) ?? pathOrUrl;
    const busy = opts.busyTimeoutMs ?? 30_000;
    try {
      this.db = new BetterSqlite3(this.path, { timeout: busy });
      this.open(busy);
    } catch (error) {
      if (error instanceof StudyError) throw error;
      // better-sqlite3 says "file is not a database" or "the directory does not exist" without the path.
      throw new StudyError(`study storage ${this.path}: ${(error as Error).message}`);
    }
  }

  /** Settings and schema of a newly opened database. */
  private open(busy: number): void {
    this.db.pragma(`busy_timeout = ${busy}`);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('synchronous = NORMAL');
    this.db.transaction(() => {
      this.db.exec(SCHEMA);
      const row = this.db.prepare('SELECT MAX(version_num) AS v FROM version').get();
      const v = row?.v as number | null;
      if (v === null || v === undefined) this.db.prepare('INSERT INTO version (version_num) VALUES (?)').run(SCHEMA_VERSION);
      else if (v > SCHEMA_VERSION) {
        throw new StudyError(`${this.path}: storage schema version ${v} is newer than this webtrainer supports (${SCHEMA_VERSION}); upgrade webtrainer`);
      } else if (v < SCHEMA_VERSION) {
        throw new StudyError(`${this.path}: storage schema version ${v} is older than ${SCHEMA_VERSION} and no migration exists`);
      }
    }).immediate();
  }

  /** Runs fn in one BEGIN IMMEDIATE transaction (takes the write lock up front, so no deadlock on upgrade). */
  private write<R>(fn: () => R): R {
    return this.db.transaction(fn).immediate();
  }

  createNewStudy(directions: Direction[], studyName: string): number {
    return this.write(() => {
      if (this.db.prepare('SELECT study_id FROM studies WHERE study_name = ?').get(studyName)) {
        throw new StudyError(`study name "${studyName}" already exists`);
      }
      const r = this.db.prepare('INSERT INTO studies (study_name, directions) VALUES (?, ?)').run(studyName, JSON.stringify(directions));
      return Number(r.lastInsertRowid);
    });
  }

  deleteStudy(studyId: number): void {
    this.write(() => {
      this.getStudyName(studyId);
      this.db.prepare('DELETE FROM studies WHERE study_id = ?').run(studyId);
    });
  }

  getStudyIdFromName(studyName: string): number {
    const row = this.db.prepare('SELECT study_id FROM studies WHERE study_name = ?').get(studyName);
    if (!row) throw new StudyError(`no study named "${studyName}" in ${this.path}`);
    return row.study_id as number;
  }

  getStudyName(studyId: number): string {
    const row = this.db.prepare('SELECT study_name FROM studies WHERE study_id = ?').get(studyId);
    if (!row) throw new StudyError(`study id ${studyId} does not exist in ${this.path}`);
    return row.study_name as string;
  }

  getStudyDirections(studyId: number): Direction[] {
    const row = this.db.prepare('SELECT directions FROM studies WHERE study_id = ?').get(studyId);
    if (!row) throw new StudyError(`study id ${studyId} does not exist in ${this.path}`);
    return JSON.parse(row.directions as string) as Direction[];
  }

  getAllStudies(): StudySummary[] {
    return this.db
      .prepare('SELECT s.study_id, s.study_name, s.directions, (SELECT COUNT(*) FROM trials t WHERE t.study_id = s.study_id) AS n FROM studies s ORDER BY s.study_id')
      .all()
      .map((r) => ({ studyId: r.study_id as number, studyName: r.study_name as string, directions: JSON.parse(r.directions as string) as Direction[], nTrials: r.n as number }));
  }

  private setStudyAttr(studyId: number, kind: 'user' | 'system', key: string, value: unknown): void {
    this.write(() => {
      this.getStudyName(studyId);
      this.db.prepare('INSERT OR REPLACE INTO study_attrs (study_id, kind, key, value_json) VALUES (?, ?, ?, ?)').run(studyId, kind, key, JSON.stringify(value));
    });
  }

  private getStudyAttrs(studyId: number, kind: 'user' | 'system'): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const r of this.db.prepare('SELECT key, value_json FROM study_attrs WHERE study_id = ? AND kind = ?').all(studyId, kind)) {
      out[r.key as string] = JSON.parse(r.value_json as string);
    }
    return out;
  }

  setStudyUserAttr(studyId: number, key: string, value: unknown): void {
    this.setStudyAttr(studyId, 'user', key, value);
  }
  setStudySystemAttr(studyId: number, key: string, value: unknown): void {
    this.setStudyAttr(studyId, 'system', key, value);
  }
  getStudyUserAttrs(studyId: number): Record<string, unknown> {
    return this.getStudyAttrs(studyId, 'user');
  }
  getStudySystemAttrs(studyId: number): Record<string, unknown> {
    return this.getStudyAttrs(studyId, 'system');
  }

  /** Latest distribution of `name` in the study, to check a new one against. */
  private checkParam(studyId: number, name: string, distribution: Distribution): void {
    const row = this.db
      .prepare('SELECT p.distribution_json FROM trial_params p JOIN trials t ON t.trial_id = p.trial_id WHERE t.study_id = ? AND p.name = ? ORDER BY p.rowid DESC LIMIT 1')
      .get(studyId, name);
    if (row) checkDistributionCompatibility(name, parseDistribution(row.distribution_json as string, name), distribution);
  }

  createNewTrial(studyId: number, template: NewTrialTemplate = {}): number {
    return this.write(() => {
      this.getStudyName(studyId);
      const state = template.state ?? 'RUNNING';
      const now = Date.now();
      const next = this.db.prepare('SELECT COALESCE(MAX(number) + 1, 0) AS n FROM trials WHERE study_id = ?').get(studyId)!.n as number;
      const r = this.db
        .prepare('INSERT INTO trials (study_id, number, state, values_json, datetime_start, datetime_complete, heartbeat) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(studyId, next, state, template.values ? JSON.stringify(template.values) : null, state === 'WAITING' ? null : now, isFinished(state) ? now : null, state === 'RUNNING' ? now : null);
      const trialId = Number(r.lastInsertRowid);
      for (const [name, p] of Object.entries(template.params ?? {})) {
        this.checkParam(studyId, name, p.distribution);
        this.db.prepare('INSERT INTO trial_params (trial_id, name, internal, distribution_json) VALUES (?, ?, ?, ?)').run(trialId, name, p.internal, distributionToJSON(p.distribution));
      }
      for (const [step, value] of template.intermediateValues ?? []) {
        this.db.prepare('INSERT INTO trial_intermediate_values (trial_id, step, value) VALUES (?, ?, ?)').run(trialId, step, Number.isNaN(value) ? null : value);
      }
      for (const [kind, attrs] of [['user', template.userAttrs], ['system', template.systemAttrs]] as const) {
        for (const [k, v] of Object.entries(attrs ?? {})) {
          this.db.prepare('INSERT INTO trial_attrs (trial_id, kind, key, value_json) VALUES (?, ?, ?, ?)').run(trialId, kind, k, JSON.stringify(v));
        }
      }
      return trialId;
    });
  }

  claimWaitingTrial(studyId: number): number | null {
    return this.write(() => {
      const row = this.db.prepare("SELECT trial_id FROM trials WHERE study_id = ? AND state = 'WAITING' ORDER BY number LIMIT 1").get(studyId);
      if (!row) return null;
      const now = Date.now();
      this.db.prepare("UPDATE trials SET state = 'RUNNING', datetime_start = ?, heartbeat = ? WHERE trial_id = ?").run(now, now, row.trial_id);
      return row.trial_id as number;
    });
  }

  private trialRow(trialId: number): { study_id: number; number: number; state: TrialState } {
    const row = this.db.prepare('SELECT study_id, number, state FROM trials WHERE trial_id = ?').get(trialId);
    if (!row) throw new StudyError(`trial id ${trialId} does not exist in ${this.path}`);
    return row as { study_id: number; number: number; state: TrialState };
  }

  private updatableRow(trialId: number): { study_id: number; number: number; state: TrialState } {
    const row = this.trialRow(trialId);
    if (isFinished(row.state)) throw new StudyError(`trial ${row.number} is already finished (${row.state}) and cannot be updated`);
    return row;
  }

  setTrialStateValues(trialId: number, state: TrialState, values?: number[] | null): boolean {
    if (!TRIAL_STATES.includes(state)) throw new StudyError(`state (${state}) is not a trial state`);
    return this.write(() => {
      const row = this.trialRow(trialId);
      if (isFinished(row.state)) return false;
      if (state === 'WAITING') throw new StudyError(`trial ${row.number}: cannot go back to WAITING`);
      const now = Date.now();
      this.db.prepare('UPDATE trials SET state = ? WHERE trial_id = ?').run(state, trialId);
      if (values !== undefined) this.db.prepare('UPDATE trials SET values_json = ? WHERE trial_id = ?').run(values === null ? null : JSON.stringify(values), trialId);
      if (state === 'RUNNING') this.db.prepare('UPDATE trials SET datetime_start = ?, heartbeat = ? WHERE trial_id = ?').run(now, now, trialId);
      if (isFinished(state)) this.db.prepare('UPDATE trials SET datetime_complete = ? WHERE trial_id = ?').run(now, trialId);
      return true;
    });
  }

  setTrialParam(trialId: number, name: string, internal: number, distribution: Distribution): void {
    this.write(() => {
      const row = this.updatableRow(trialId);
      this.checkParam(row.study_id, name, distribution);
      this.db.prepare('INSERT OR REPLACE INTO trial_params (trial_id, name, internal, distribution_json) VALUES (?, ?, ?, ?)').run(trialId, name, internal, distributionToJSON(distribution));
    });
  }

  setTrialIntermediateValue(trialId: number, step: number, value: number): void {
    this.write(() => {
      this.updatableRow(trialId);
      this.db.prepare('INSERT OR REPLACE INTO trial_intermediate_values (trial_id, step, value) VALUES (?, ?, ?)').run(trialId, step, Number.isNaN(value) ? null : value);
    });
  }

  private setTrialAttr(trialId: number, kind: 'user' | 'system', key: string, value: unknown): void {
    this.write(() => {
      this.updatableRow(trialId);
      this.db.prepare('INSERT OR REPLACE INTO trial_attrs (trial_id, kind, key, value_json) VALUES (?, ?, ?, ?)').run(trialId, kind, key, JSON.stringify(value));
    });
  }

  setTrialUserAttr(trialId: number, key: string, value: unknown): void {
    this.setTrialAttr(trialId, 'user', key, value);
  }
  setTrialSystemAttr(trialId: number, key: string, value: unknown): void {
    this.setTrialAttr(trialId, 'system', key, value);
  }

  getTrial(trialId: number): FrozenTrial {
    this.trialRow(trialId);
    return this.loadTrials('t.trial_id = ?', [trialId])[0];
  }

  getAllTrials(studyId: number, states?: readonly TrialState[]): FrozenTrial[] {
    this.getStudyName(studyId);
    const trials = this.loadTrials('t.study_id = ?', [studyId]);
    return states ? trials.filter((t) => states.includes(t.state)) : trials;
  }

  /** Loads trials matching `where` (on alias t) with their params, intermediate values and attrs, in one read transaction. */
  private loadTrials(where: string, args: unknown[]): FrozenTrial[] {
    return this.db.transaction(() => readSqliteTrials(this.db, where, args))();
  }

  getTrialIdFromNumber(studyId: number, number: number): number {
    const row = this.db.prepare('SELECT trial_id FROM trials WHERE study_id = ? AND number = ?').get(studyId, number);
    if (!row) throw new StudyError(`study ${studyId} has no trial number ${number} in ${this.path}`);
    return row.trial_id as number;
  }

  recordHeartbeat(trialId: number): void {
    this.write(() => {
      this.db.prepare("UPDATE trials SET heartbeat = ? WHERE trial_id = ? AND state = 'RUNNING'").run(Date.now(), trialId);
    });
  }

  getStaleTrialIds(studyId: number, graceSeconds: number): number[] {
    const limit = Date.now() - graceSeconds * 1000;
    return this.db
      .prepare("SELECT trial_id FROM trials WHERE study_id = ? AND state = 'RUNNING' AND COALESCE(heartbeat, datetime_start) < ? ORDER BY number")
      .all(studyId, limit)
      .map((r) => r.trial_id as number);
  }

  failStaleTrials(studyId: number, graceSeconds: number): number[] {
    // Listed and failed under one write lock, each UPDATE re-checking RUNNING: of two processes failing stale
    // trials at once, only one changes (and then retries) a given trial.
    return this.write(() => {
      const now = Date.now();
      const failed: number[] = [];
      for (const trialId of this.getStaleTrialIds(studyId, graceSeconds)) {
        const r = this.db.prepare("UPDATE trials SET state = 'FAIL', datetime_complete = ? WHERE trial_id = ? AND state = 'RUNNING'").run(now, trialId);
        if (r.changes !== 1) continue;
        this.db.prepare("INSERT OR REPLACE INTO trial_attrs (trial_id, kind, key, value_json) VALUES (?, 'user', 'fail_reason', ?)").run(trialId, JSON.stringify('stale heartbeat'));
        failed.push(trialId);
      }
      return failed;
    });
  }

  close(): void {
    this.db.close();
  }
}

/** The part of better-sqlite3 the trial reader needs (SqliteStorage's and the report's read-only connection). */
export interface SqliteTrialReader {
  prepare(sql: string): { all(...params: unknown[]): Record<string, unknown>[] };
}

/**
 * Trials matching `where` (SQL on alias t, with `args`) with their params, intermediate values and attrs. Call it
 * inside a read transaction, so that the four reads see one state of the study.
 */
export function readSqliteTrials(db: SqliteTrialReader, where: string, args: unknown[]): FrozenTrial[] {
  const parts = new Map<number, TrialRecordParts>();
  for (const r of db.prepare(`SELECT * FROM trials t WHERE ${where} ORDER BY t.number`).all(...args)) {
    parts.set(r.trial_id as number, {
      trialId: r.trial_id as number,
      number: r.number as number,
      state: r.state as TrialState,
      values: r.values_json === null ? null : (JSON.parse(r.values_json as string) as number[]),
      params: new Map(),
      intermediateValues: new Map(),
      userAttrs: {},
      systemAttrs: {},
      datetimeStart: r.datetime_start === null ? null : new Date(r.datetime_start as number),
      datetimeComplete: r.datetime_complete === null ? null : new Date(r.datetime_complete as number),
    });
  }
  const distCache = new Map<string, Distribution>();
  for (const r of db.prepare(`SELECT p.* FROM trial_params p JOIN trials t ON t.trial_id = p.trial_id WHERE ${where} ORDER BY p.rowid`).all(...args)) {
    const json = r.distribution_json as string;
    let d = distCache.get(json);
    if (!d) distCache.set(json, (d = parseDistribution(json, r.name as string)));
    parts.get(r.trial_id as number)?.params.set(r.name as string, { internal: r.internal as number, distribution: d });
  }
  for (const r of db.prepare(`SELECT v.* FROM trial_intermediate_values v JOIN trials t ON t.trial_id = v.trial_id WHERE ${where} ORDER BY v.step`).all(...args)) {
    parts.get(r.trial_id as number)?.intermediateValues.set(r.step as number, r.value === null ? NaN : (r.value as number));
  }
  for (const r of db.prepare(`SELECT a.* FROM trial_attrs a JOIN trials t ON t.trial_id = a.trial_id WHERE ${where}`).all(...args)) {
    const p = parts.get(r.trial_id as number);
    if (p) (r.kind === 'user' ? p.userAttrs : p.systemAttrs)[r.key as string] = JSON.parse(r.value_json as string);
  }
  return [...parts.values()].map(toFrozenTrial);
}
