/**
 * PostgreSQL storage (the role of Optuna's RDBStorage on PostgreSQL): one study shared by worker processes on
 * many machines. Same interface and behaviour as SqliteStorage (sqlite.ts); the tables are in postgres-schema.ts
 * and the synchronous connection in postgres-connection.ts.
 * Concurrency, under READ COMMITTED with row locks rather than SQLite's one write lock:
 * - A trial's number comes from the study row's counter, taken by an UPDATE that locks the row until the
 *   creating transaction ends: no duplicates, no gaps from concurrent creators.
 * - claimWaitingTrial takes the oldest WAITING trial with FOR UPDATE SKIP LOCKED and re-checks WAITING, so two
 *   workers never claim one trial.
 * - failStaleTrials is one UPDATE … WHERE state = 'RUNNING' (PostgreSQL re-checks the condition on a row another
 *   transaction changed meanwhile), so of workers failing stale trials at once only one fails a given trial.
 * - Updates of a trial lock its row (FOR SHARE) while they check that it is not finished; a study's params are
 *   checked against earlier distributions under a per-study advisory lock.
 * - A deadlock or serialization failure reported by the server is retried (the whole transaction) a few times.
 * Heartbeats and staleness use the server's clock, so workers' clocks need not agree.
 */
import { checkDistributionCompatibility, distributionToJSON, type Distribution } from '../distributions.js';
import { StudyError } from '../errors.js';
import { isFinished, type Direction, type FrozenTrial, type TrialState } from '../frozen-trial.js';
import { PostgresConnection, PostgresStorageError, type PostgresConnectionOptions, type Statement, type StatementResult } from './postgres-connection.js';
import { ensurePostgresSchema, LOCK_PARAMS, NOW_MS, rollbackQuietly } from './postgres-schema.js';
import { connectTimeoutFromUrl, isPostgresUrl, redactPostgresUrl } from './postgres-url.js';
import type { NewTrialTemplate, StudyStorage, StudySummary } from './storage.js';
import { parseDistribution, toFrozenTrial, TRIAL_STATES, type TrialRecordParts } from './trial-record.js';

export type PostgresStorageOptions = PostgresConnectionOptions;

type Row = Record<string, unknown>;

const FINISHED = "('COMPLETE', 'PRUNED', 'FAIL')";
const RETRYABLE = new Set(['40P01', '40001']); // deadlock detected, serialization failure
const MAX_ATTEMPTS = 5;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A write transaction: `query` sends what is pending plus one statement and returns its rows; `defer` queues. */
class Transaction {
  private pending: Statement[] = [{ text: 'BEGIN' }];
  private started = false;
  constructor(
    private readonly conn: PostgresConnection,
    private readonly what: string,
  ) {}

  private send(extra: Statement[]): StatementResult[] {
    const list = [...this.pending, ...extra];
    this.pending = [];
    const fresh = !this.started;
    this.started = true;
    return this.conn.run(list, this.what, fresh).slice(list.length - extra.length);
  }

  query(text: string, values?: unknown[]): Row[] {
    return this.send([{ text, values }])[0].rows;
  }

  defer(text: string, values?: unknown[]): void {
    this.pending.push({ text, values });
  }

  commit(): void {
    this.send([{ text: 'COMMIT' }]);
  }
}

export class PostgresStorage implements StudyStorage {
  private readonly conn: PostgresConnection;
  /** The URL without its password. */
  readonly url: string;

  constructor(url: string, opts: PostgresStorageOptions = {}) {
    if (!isPostgresUrl(url)) throw new StudyError(`storage URL "${redactPostgresUrl(url)}" is not a PostgreSQL URL (postgresql://USER@HOST:PORT/DB)`);
    this.conn = new PostgresConnection(url, { ...opts, connectTimeoutMs: opts.connectTimeoutMs ?? connectTimeoutFromUrl(url) });
    this.url = this.conn.displayUrl;
    try {
      ensurePostgresSchema(this.conn);
    } catch (err) {
      this.conn.close();
      throw err;
    }
  }

  /** One statement outside any transaction (atomic by itself), retried on a deadlock. */
  private one(what: string, text: string, values?: unknown[]): StatementResult {
    return this.retrying(() => this.conn.run([{ text, values }], what, true)[0]);
  }

  /** Runs fn again (a few times, after a short random pause) when the server reports a deadlock or serialization failure. */
  private retrying<R>(fn: () => R): R {
    for (let attempt = 1; ; attempt++) {
      try {
        return fn();
      } catch (err) {
        if (!(err instanceof PostgresStorageError) || err.code === null || !RETRYABLE.has(err.code) || attempt >= MAX_ATTEMPTS) throw err;
        sleepSync(5 * attempt + Math.random() * 20 * attempt);
      }
    }
  }

  /** A consistent read of several statements (one snapshot, one round trip). */
  private read(what: string, statements: Statement[]): StatementResult[] {
    const list = [{ text: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' }, ...statements, { text: 'COMMIT' }];
    try {
      return this.conn.run(list, what, true).slice(1, -1);
    } catch (err) {
      rollbackQuietly(this.conn);
      throw err;
    }
  }

  /** Runs body in one transaction, retried whole on a deadlock or serialization failure. */
  private write<R>(what: string, body: (tx: Transaction) => R): R {
    return this.retrying(() => {
      const tx = new Transaction(this.conn, what);
      try {
        const r = body(tx);
        tx.commit();
        return r;
      } catch (err) {
        rollbackQuietly(this.conn);
        throw err;
      }
    });
  }

  private noStudy(studyId: number): StudyError {
    return new StudyError(`study id ${studyId} does not exist in ${this.url}`);
  }

  createNewStudy(directions: Direction[], studyName: string): number {
    const r = this.one('createNewStudy', 'INSERT INTO webtrainer_studies (study_name, directions) VALUES ($1, $2) ON CONFLICT (study_name) DO NOTHING RETURNING study_id', [
      studyName,
      JSON.stringify(directions),
    ]);
    if (r.rows.length === 0) throw new StudyError(`study name "${studyName}" already exists`);
    return r.rows[0].study_id as number;
  }

  deleteStudy(studyId: number): void {
    const r = this.one('deleteStudy', 'DELETE FROM webtrainer_studies WHERE study_id = $1', [studyId]);
    if (r.rowCount === 0) throw this.noStudy(studyId);
  }

  getStudyIdFromName(studyName: string): number {
    const row = this.one('getStudyIdFromName', 'SELECT study_id FROM webtrainer_studies WHERE study_name = $1', [studyName]).rows[0];
    if (!row) throw new StudyError(`no study named "${studyName}" in ${this.url}`);
    return row.study_id as number;
  }

  getStudyName(studyId: number): string {
    const row = this.one('getStudyName', 'SELECT study_name FROM webtrainer_studies WHERE study_id = $1', [studyId]).rows[0];
    if (!row) throw this.noStudy(studyId);
    return row.study_name as string;
  }

  getStudyDirections(studyId: number): Direction[] {
    const row = this.one('getStudyDirections', 'SELECT directions FROM webtrainer_studies WHERE study_id = $1', [studyId]).rows[0];
    if (!row) throw this.noStudy(studyId);
    return JSON.parse(row.directions as string) as Direction[];
  }

  getAllStudies(): StudySummary[] {
    return this.one(
      'getAllStudies',
      'SELECT s.study_id, s.study_name, s.directions, (SELECT COUNT(*) FROM webtrainer_trials t WHERE t.study_id = s.study_id) AS n FROM webtrainer_studies s ORDER BY s.study_id',
    ).rows.map((r) => ({ studyId: r.study_id as number, studyName: r.study_name as string, directions: JSON.parse(r.directions as string) as Direction[], nTrials: r.n as number }));
  }

  private setStudyAttr(studyId: number, kind: 'user' | 'system', key: string, value: unknown): void {
    const r = this.one(
      'setStudyAttr',
      `INSERT INTO webtrainer_study_attrs (study_id, kind, key, value_json) SELECT study_id, $2, $3, $4 FROM webtrainer_studies WHERE study_id = $1
       ON CONFLICT (study_id, kind, key) DO UPDATE SET value_json = EXCLUDED.value_json`,
      [studyId, kind, key, JSON.stringify(value)],
    );
    if (r.rowCount === 0) throw this.noStudy(studyId);
  }

  private getStudyAttrs(studyId: number, kind: 'user' | 'system'): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const r of this.one('getStudyAttrs', 'SELECT key, value_json FROM webtrainer_study_attrs WHERE study_id = $1 AND kind = $2 ORDER BY key', [studyId, kind]).rows) {
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

  /**
   * Checks each new param against the latest distribution of its name in the study, under the study's params
   * lock (held to the end of tx), so two workers cannot both set incompatible distributions of one name.
   */
  private checkParams(tx: Transaction, studyId: number, params: Array<[string, Distribution]>): void {
    if (params.length === 0) return;
    tx.defer('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_PARAMS, studyId]);
    const latest = tx.query(
      `SELECT DISTINCT ON (p.name) p.name, p.distribution_json FROM webtrainer_trial_params p JOIN webtrainer_trials t ON t.trial_id = p.trial_id
       WHERE t.study_id = $1 AND p.name = ANY($2::text[]) ORDER BY p.name, p.param_id DESC`,
      [studyId, params.map(([name]) => name)],
    );
    const byName = new Map(latest.map((r) => [r.name as string, r.distribution_json as string]));
    for (const [name, distribution] of params) {
      const json = byName.get(name);
      if (json !== undefined) checkDistributionCompatibility(name, parseDistribution(json, name), distribution);
    }
  }

  createNewTrial(studyId: number, template: NewTrialTemplate = {}): number {
    const state = template.state ?? 'RUNNING';
    if (!TRIAL_STATES.includes(state)) throw new StudyError(`state (${state}) is not a trial state`);
    // Takes the study's next number (locking the study row to the end of the transaction) and inserts the trial.
    const insert = `WITH n AS (UPDATE webtrainer_studies SET next_trial_number = next_trial_number + 1 WHERE study_id = $1 RETURNING next_trial_number - 1 AS number)
      INSERT INTO webtrainer_trials (study_id, number, state, values_json, datetime_start, datetime_complete, heartbeat)
      SELECT $1, n.number, $2::text, $3,
        CASE WHEN $2::text = 'WAITING' THEN NULL ELSE ${NOW_MS} END,
        CASE WHEN $2::text IN ${FINISHED} THEN ${NOW_MS} END,
        CASE WHEN $2::text = 'RUNNING' THEN ${NOW_MS} END
      FROM n RETURNING trial_id`;
    const values = [studyId, state, template.values ? JSON.stringify(template.values) : null];
    const params = Object.entries(template.params ?? {});
    const ivs = [...(template.intermediateValues ?? [])];
    const attrs = (['user', 'system'] as const).flatMap((kind) => Object.entries((kind === 'user' ? template.userAttrs : template.systemAttrs) ?? {}).map(([k, v]) => [kind, k, v] as const));
    if (params.length === 0 && ivs.length === 0 && attrs.length === 0) {
      // The common case (ask): one statement, atomic by itself.
      const row = this.one('createNewTrial', insert, values).rows[0];
      if (!row) throw this.noStudy(studyId);
      return row.trial_id as number;
    }
    return this.write('createNewTrial', (tx) => {
      const row = tx.query(insert, values)[0];
      if (!row) throw this.noStudy(studyId);
      const trialId = row.trial_id as number;
      this.checkParams(tx, studyId, params.map(([name, p]) => [name, p.distribution]));
      if (params.length) {
        tx.defer('INSERT INTO webtrainer_trial_params (trial_id, name, internal, distribution_json) SELECT $1, * FROM unnest($2::text[], $3::float8[], $4::text[])', [
          trialId,
          params.map(([name]) => name),
          params.map(([, p]) => p.internal),
          params.map(([, p]) => distributionToJSON(p.distribution)),
        ]);
      }
      if (ivs.length) {
        tx.defer('INSERT INTO webtrainer_trial_intermediate_values (trial_id, step, value) SELECT $1, * FROM unnest($2::bigint[], $3::float8[])', [
          trialId,
          ivs.map(([step]) => step),
          ivs.map(([, v]) => v),
        ]);
      }
      if (attrs.length) {
        tx.defer('INSERT INTO webtrainer_trial_attrs (trial_id, kind, key, value_json) SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])', [
          trialId,
          attrs.map(([kind]) => kind),
          attrs.map(([, k]) => k),
          attrs.map(([, , v]) => JSON.stringify(v)),
        ]);
      }
      return trialId;
    });
  }

  claimWaitingTrial(studyId: number): number | null {
    const r = this.one(
      'claimWaitingTrial',
      `UPDATE webtrainer_trials SET state = 'RUNNING', datetime_start = ${NOW_MS}, heartbeat = ${NOW_MS}
       WHERE trial_id = (SELECT trial_id FROM webtrainer_trials WHERE study_id = $1 AND state = 'WAITING' ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED)
         AND state = 'WAITING'
       RETURNING trial_id`,
      [studyId],
    );
    return r.rows.length ? (r.rows[0].trial_id as number) : null;
  }

  /** The trial's row, locked against concurrent finishing until tx ends; throws if absent. */
  private lockTrial(tx: Transaction, trialId: number, mode: 'SHARE' | 'UPDATE'): { study_id: number; number: number; state: TrialState } {
    const row = tx.query(`SELECT study_id, number, state FROM webtrainer_trials WHERE trial_id = $1 FOR ${mode}`, [trialId])[0];
    if (!row) throw new StudyError(`trial id ${trialId} does not exist in ${this.url}`);
    return row as { study_id: number; number: number; state: TrialState };
  }

  private updatableTrial(tx: Transaction, trialId: number): { study_id: number; number: number; state: TrialState } {
    const row = this.lockTrial(tx, trialId, 'SHARE');
    if (isFinished(row.state)) {
      throw new StudyError(`trial ${row.number} is already finished (${row.state}) and cannot be updated`);
    }
    return row;
  }

  setTrialStateValues(trialId: number, state: TrialState, values?: number[] | null): boolean {
    if (!TRIAL_STATES.includes(state)) throw new StudyError(`state (${state}) is not a trial state`);
    return this.write('setTrialStateValues', (tx) => {
      const row = this.lockTrial(tx, trialId, 'UPDATE');
      if (isFinished(row.state)) return false;
      if (state === 'WAITING') throw new StudyError(`trial ${row.number}: cannot go back to WAITING`);
      tx.defer(
        `UPDATE webtrainer_trials SET state = $2::text,
           values_json = CASE WHEN $3::boolean THEN $4 ELSE values_json END,
           datetime_start = CASE WHEN $2::text = 'RUNNING' THEN ${NOW_MS} ELSE datetime_start END,
           heartbeat = CASE WHEN $2::text = 'RUNNING' THEN ${NOW_MS} ELSE heartbeat END,
           datetime_complete = CASE WHEN $2::text IN ${FINISHED} THEN ${NOW_MS} ELSE datetime_complete END
         WHERE trial_id = $1`,
        [trialId, state, values !== undefined, values === undefined || values === null ? null : JSON.stringify(values)],
      );
      return true;
    });
  }

  setTrialParam(trialId: number, name: string, internal: number, distribution: Distribution): void {
    this.write('setTrialParam', (tx) => {
      const row = this.updatableTrial(tx, trialId);
      this.checkParams(tx, row.study_id, [[name, distribution]]);
      // A param set again moves to the end (a new param_id), as SQLite's INSERT OR REPLACE gives a new rowid.
      tx.defer(
        `INSERT INTO webtrainer_trial_params (trial_id, name, internal, distribution_json) VALUES ($1, $2, $3, $4)
         ON CONFLICT (trial_id, name) DO UPDATE SET internal = EXCLUDED.internal, distribution_json = EXCLUDED.distribution_json, param_id = EXCLUDED.param_id`,
        [trialId, name, internal, distributionToJSON(distribution)],
      );
    });
  }

  setTrialIntermediateValue(trialId: number, step: number, value: number): void {
    this.write('setTrialIntermediateValue', (tx) => {
      this.updatableTrial(tx, trialId);
      tx.defer(
        'INSERT INTO webtrainer_trial_intermediate_values (trial_id, step, value) VALUES ($1, $2, $3) ON CONFLICT (trial_id, step) DO UPDATE SET value = EXCLUDED.value',
        [trialId, step, value],
      );
    });
  }

  private setTrialAttr(trialId: number, kind: 'user' | 'system', key: string, value: unknown): void {
    this.write('setTrialAttr', (tx) => {
      this.updatableTrial(tx, trialId);
      tx.defer(
        'INSERT INTO webtrainer_trial_attrs (trial_id, kind, key, value_json) VALUES ($1, $2, $3, $4) ON CONFLICT (trial_id, kind, key) DO UPDATE SET value_json = EXCLUDED.value_json',
        [trialId, kind, key, JSON.stringify(value)],
      );
    });
  }

  setTrialUserAttr(trialId: number, key: string, value: unknown): void {
    this.setTrialAttr(trialId, 'user', key, value);
  }
  setTrialSystemAttr(trialId: number, key: string, value: unknown): void {
    this.setTrialAttr(trialId, 'system', key, value);
  }

  getTrial(trialId: number): FrozenTrial {
    const trials = this.loadTrials('getTrial', 't.trial_id = $1', [trialId]);
    if (trials === null || trials.length === 0) throw new StudyError(`trial id ${trialId} does not exist in ${this.url}`);
    return trials[0];
  }

  getAllTrials(studyId: number, states?: readonly TrialState[]): FrozenTrial[] {
    const where = states ? 't.study_id = $1 AND t.state = ANY($2::text[])' : 't.study_id = $1';
    const trials = this.loadTrials('getAllTrials', where, states ? [studyId, [...states]] : [studyId], studyId);
    if (trials === null) throw this.noStudy(studyId);
    return trials;
  }

  /**
   * Trials matching `where` (on alias t) with their params, intermediate values and attrs, read in one snapshot
   * and one round trip. With checkStudy, null when that study does not exist.
   */
  private loadTrials(what: string, where: string, args: unknown[], checkStudy?: number): FrozenTrial[] | null {
    const statements: Statement[] = [
      { text: `SELECT t.trial_id, t.number, t.state, t.values_json, t.datetime_start, t.datetime_complete FROM webtrainer_trials t WHERE ${where} ORDER BY t.number`, values: args },
      { text: `SELECT p.trial_id, p.name, p.internal, p.distribution_json FROM webtrainer_trial_params p JOIN webtrainer_trials t ON t.trial_id = p.trial_id WHERE ${where} ORDER BY p.param_id`, values: args },
      { text: `SELECT v.trial_id, v.step, v.value FROM webtrainer_trial_intermediate_values v JOIN webtrainer_trials t ON t.trial_id = v.trial_id WHERE ${where} ORDER BY v.trial_id, v.step`, values: args },
      { text: `SELECT a.trial_id, a.kind, a.key, a.value_json FROM webtrainer_trial_attrs a JOIN webtrainer_trials t ON t.trial_id = a.trial_id WHERE ${where} ORDER BY a.trial_id, a.kind, a.key`, values: args },
    ];
    if (checkStudy !== undefined) statements.push({ text: 'SELECT 1 FROM webtrainer_studies WHERE study_id = $1', values: [checkStudy] });
    const [trials, params, ivs, attrs, study] = this.read(what, statements);
    if (study && study.rows.length === 0) return null;
    const parts = new Map<number, TrialRecordParts>();
    for (const r of trials.rows) {
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
    for (const r of params.rows) {
      const json = r.distribution_json as string;
      let d = distCache.get(json);
      if (!d) distCache.set(json, (d = parseDistribution(json, r.name as string)));
      parts.get(r.trial_id as number)?.params.set(r.name as string, { internal: r.internal as number, distribution: d });
    }
    for (const r of ivs.rows) {
      parts.get(r.trial_id as number)?.intermediateValues.set(r.step as number, r.value === null ? NaN : (r.value as number));
    }
    for (const r of attrs.rows) {
      const p = parts.get(r.trial_id as number);
      if (p) (r.kind === 'user' ? p.userAttrs : p.systemAttrs)[r.key as string] = JSON.parse(r.value_json as string);
    }
    return [...parts.values()].map(toFrozenTrial);
  }

  getTrialIdFromNumber(studyId: number, number: number): number {
    const row = this.one('getTrialIdFromNumber', 'SELECT trial_id FROM webtrainer_trials WHERE study_id = $1 AND number = $2', [studyId, number]).rows[0];
    if (!row) throw new StudyError(`study ${studyId} has no trial number ${number} in ${this.url}`);
    return row.trial_id as number;
  }

  recordHeartbeat(trialId: number): void {
    this.one('recordHeartbeat', `UPDATE webtrainer_trials SET heartbeat = ${NOW_MS} WHERE trial_id = $1 AND state = 'RUNNING'`, [trialId]);
  }

  getStaleTrialIds(studyId: number, graceSeconds: number): number[] {
    return this.one(
      'getStaleTrialIds',
      `SELECT trial_id FROM webtrainer_trials WHERE study_id = $1 AND state = 'RUNNING' AND COALESCE(heartbeat, datetime_start) < ${NOW_MS} - $2::float8 * 1000 ORDER BY number`,
      [studyId, graceSeconds],
    ).rows.map((r) => r.trial_id as number);
  }

  failStaleTrials(studyId: number, graceSeconds: number): number[] {
    // One statement: the UPDATE re-checks RUNNING (and the heartbeat) on a row another transaction changed
    // meanwhile, so a trial failed by another worker, or that just beat, is left alone.
    return this.one(
      'failStaleTrials',
      `WITH failed AS (
         UPDATE webtrainer_trials SET state = 'FAIL', datetime_complete = ${NOW_MS}
         WHERE study_id = $1 AND state = 'RUNNING' AND COALESCE(heartbeat, datetime_start) < ${NOW_MS} - $2::float8 * 1000
         RETURNING trial_id, number),
       reason AS (
         INSERT INTO webtrainer_trial_attrs (trial_id, kind, key, value_json) SELECT trial_id, 'user', 'fail_reason', $3 FROM failed
         ON CONFLICT (trial_id, kind, key) DO UPDATE SET value_json = EXCLUDED.value_json)
       SELECT trial_id FROM failed ORDER BY number`,
      [studyId, graceSeconds, JSON.stringify('stale heartbeat')],
    ).rows.map((r) => r.trial_id as number);
  }

  close(): void {
    this.conn.close();
  }
}
