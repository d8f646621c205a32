/**
 * A synchronous PostgreSQL connection: the StudyStorage interface is synchronous and `pg` is asynchronous, so a
 * worker thread holds the `pg` Clients (postgres-worker-source.ts) and the calling thread blocks on each request —
 * the technique of synckit (post on a MessagePort, Atomics.wait on a shared flag, receiveMessageOnPort). It is done
 * here rather than with synckit because synckit needs a worker file that Node can load, which a TypeScript source
 * under vitest or a test bundle is not without a TypeScript loader; the worker is a hundred lines of JavaScript.
 * - One worker per thread, started on first use and shared by its connections (starting one and loading `pg`
 *   costs a few hundred ms); it does not keep the process alive.
 * - Every wait is bounded: connectTimeoutMs for a connection, statementTimeoutMs per statement (PostgreSQL's own
 *   statement_timeout and lock_timeout first, pg's query_timeout next, the wait last). A request that gets no
 *   answer in time ends the worker (its connections are lost; the next request starts a new one) and throws.
 * - Statements are sent in lists, so a transaction costs few round trips: `run([BEGIN, SELECT …])`.
 * - Errors name the URL without its password and what was being done: PostgresStorageError (a StudyError) with
 *   the SQLSTATE `code` when the server gave one.
 * - A lost connection is replaced only at the start of a unit of work (`fresh`), never inside a transaction.
 */
import { createRequire } from 'node:module';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { StudyError } from '../errors.js';
import { POSTGRES_WORKER_SOURCE } from './postgres-worker-source.js';
import { normalisePostgresUrl, redactPostgresUrl } from './postgres-url.js';

export interface Statement {
  text: string;
  values?: unknown[];
}

export interface StatementResult {
  rows: Record<string, unknown>[];
  rowCount: number | null;
}

export interface PostgresConnectionOptions {
  /** Connecting (TCP, TLS, authentication) may take this long, in ms. Default 10 s. */
  connectTimeoutMs?: number;
  /** One statement, lock waits included, may take this long, in ms (PostgreSQL's statement_timeout). Default 30 s. */
  statementTimeoutMs?: number;
  /** application_name shown in pg_stat_activity. Default "webtrainer". */
  applicationName?: string;
}

/** An error of the PostgreSQL storage: its message names the URL (no password) and what failed. */
export class PostgresStorageError extends StudyError {
  /** SQLSTATE from the server (e.g. 40P01 deadlock, 23505 unique violation), or null. */
  readonly code: string | null;
  /** The connection was lost (or never made) while doing this. */
  readonly connectionLost: boolean;
  constructor(message: string, code: string | null = null, connectionLost = false) {
    super(message);
    this.name = 'PostgresStorageError';
    this.code = code;
    this.connectionLost = connectionLost;
  }
}

interface WorkerError {
  message: string;
  code: string | null;
  detail: string | null;
  phase: 'load' | 'connect' | 'query';
  index: number;
  lost: boolean;
}
type Reply = { id: number; ok: true; results: StatementResult[] } | { id: number; ok: false; error: WorkerError };

/** The worker thread that holds this thread's PostgreSQL connections, started on first use. */
interface PgThread {
  worker: Worker;
  port: MessagePort;
  flag: Int32Array;
  /** Bumped on every start: a connection begun on an earlier thread is gone. */
  generation: number;
}

const require = createRequire(import.meta.url);
const MARGIN_MS = 2000;
/** Starting the worker and loading pg takes well under a second; this much means it is not going to run. */
const START_MS = 15_000;
let thread: PgThread | null = null;
let generations = 0;
let nextRequestId = 1;
let nextConnectionId = 1;

function startThread(displayUrl: string): PgThread {
  if (thread) return thread;
  let pgPath: string;
  try {
    pgPath = require.resolve('pg');
  } catch (err) {
    throw new PostgresStorageError(`PostgreSQL storage ${displayUrl}: the "pg" package is not installed (npm install pg): ${(err as Error).message}`, null, true);
  }
  const { port1, port2 } = new MessageChannel();
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(POSTGRES_WORKER_SOURCE, {
    eval: true,
    workerData: { port: port2, flag: flag.buffer, pgPath },
    transferList: [port2],
    stdout: false,
    stderr: false,
  });
  // Neither the worker nor the port keeps the process alive: a storage that is never closed does not hang Node.
  worker.unref();
  port1.unref();
  worker.on('error', () => {}); // its failures reach the caller as an unanswered request
  const started: PgThread = { worker, port: port1, flag, generation: ++generations };
  // The worker answers request 0 once it runs and has loaded pg.
  const ready = awaitReply(started, 0, START_MS);
  if (ready === null || !ready.ok) {
    port1.close();
    void worker.terminate();
    const why = ready === null ? `it did not start within ${START_MS / 1000} s` : ready.error.message;
    throw new PostgresStorageError(`PostgreSQL storage ${displayUrl}: could not start the worker thread that runs the "pg" client: ${why}`, null, true);
  }
  thread = started;
  return thread;
}

/** Ends the thread (after a request went unanswered): every connection on it is lost. */
function abandonThread(): void {
  const t = thread;
  thread = null;
  if (t) {
    t.port.close();
    void t.worker.terminate();
  }
}

/**
 * Posts a request and blocks until its reply (null when the time is up). The worker posts a reply, then
 * increments the flag and notifies: a flag value read before draining the port, if still current, means no reply
 * was posted since, so waiting on that value cannot miss one.
 */
function request(t: PgThread, message: Record<string, unknown>, waitMs: number): Reply | null {
  const id = nextRequestId++;
  t.port.postMessage({ ...message, id });
  return awaitReply(t, id, waitMs);
}

function awaitReply(t: PgThread, id: number, waitMs: number): Reply | null {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const seen = Atomics.load(t.flag, 0);
    for (let m = receiveMessageOnPort(t.port); m !== undefined; m = receiveMessageOnPort(t.port)) {
      const reply = m.message as Reply;
      if (reply.id === id) return reply;
    }
    const left = deadline - Date.now();
    if (left <= 0) return null;
    Atomics.wait(t.flag, 0, seen, left);
  }
}

export class PostgresConnection {
  /** The URL without its password, for messages. */
  readonly displayUrl: string;
  private readonly id = nextConnectionId++;
  private readonly config: Record<string, unknown>;
  private readonly connectTimeoutMs: number;
  private readonly statementTimeoutMs: number;
  /** The thread generation this connection's session lives on (0: none yet). */
  private generation = 0;
  private closed = false;

  constructor(url: string, opts: PostgresConnectionOptions = {}) {
    this.displayUrl = redactPostgresUrl(url);
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.statementTimeoutMs = opts.statementTimeoutMs ?? 30_000;
    for (const [name, v] of [['connectTimeoutMs', this.connectTimeoutMs], ['statementTimeoutMs', this.statementTimeoutMs]] as const) {
      if (!(v > 0) || !Number.isFinite(v)) throw new StudyError(`PostgreSQL storage ${this.displayUrl}: ${name} (${v}) must be a positive number of ms`);
    }
    this.config = {
      connectionString: normalisePostgresUrl(url),
      connectionTimeoutMillis: this.connectTimeoutMs,
      statement_timeout: this.statementTimeoutMs,
      lock_timeout: this.statementTimeoutMs,
      // A process stopped inside a transaction (SIGSTOP, a debugger) must not hold its locks for ever.
      idle_in_transaction_session_timeout: Math.max(60_000, 2 * this.statementTimeoutMs),
      query_timeout: this.statementTimeoutMs + MARGIN_MS,
      keepAlive: true,
      application_name: opts.applicationName ?? 'webtrainer',
    };
  }

  /**
   * Runs the statements in order on this connection and returns their results; throws at the first error.
   * `fresh`: not inside a transaction (a lost connection may be replaced). `what` names the operation in errors.
   */
  run(statements: Statement[], what: string, fresh: boolean): StatementResult[] {
    if (this.closed) throw new PostgresStorageError(`PostgreSQL storage ${this.displayUrl}: ${what}: the storage is closed`);
    const t = thread;
    if (!fresh && (t === null || t.generation !== this.generation)) {
      throw new PostgresStorageError(`PostgreSQL storage ${this.displayUrl}: ${what} failed: the connection was lost inside a transaction`, null, true);
    }
    const live = t ?? startThread(this.displayUrl);
    this.generation = live.generation;
    const waitMs = this.connectTimeoutMs + statements.length * (this.statementTimeoutMs + MARGIN_MS) + MARGIN_MS;
    const reply = request(live, { conn: this.id, config: this.config, op: 'run', statements, fresh }, waitMs);
    if (reply === null) {
      abandonThread();
      throw new PostgresStorageError(
        `PostgreSQL storage ${this.displayUrl}: ${what} failed: no answer within ${Math.round(waitMs / 1000)} s (server or network unresponsive); the connection was dropped`,
        null,
        true,
      );
    }
    if (reply.ok) return reply.results;
    const e = reply.error;
    const doing = e.phase === 'connect' ? 'could not connect' : e.phase === 'load' ? 'could not load the "pg" client' : `${what} failed`;
    const detail = e.detail ? ` (${e.detail})` : '';
    const code = e.code && /^[0-9A-Z]{5}$/.test(e.code) ? ` [SQLSTATE ${e.code}]` : '';
    throw new PostgresStorageError(`PostgreSQL storage ${this.displayUrl}: ${doing}: ${e.message}${detail}${code}`, e.code, e.lost);
  }

  /** Ends the connection (waiting a few seconds at most). Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const t = thread;
    if (t === null || t.generation !== this.generation) return;
    if (request(t, { conn: this.id, op: 'end' }, 3000) === null) abandonThread();
  }
}
