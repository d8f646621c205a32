/**
 * The JavaScript run by the PostgreSQL storage's worker thread (see postgres-connection.ts). One worker per
 * process (per JavaScript thread that opens PostgreSQL storages) holds one `pg` Client per open connection and
 * runs the statement lists the calling thread sends, one request at a time, answering each on the MessagePort and
 * then waking the caller (blocked in Atomics.wait) by incrementing the shared flag.
 * It is a string, started with `new Worker(source, { eval: true })`, so that it runs the same from TypeScript
 * sources under vitest, from a bundle and from dist/ (a worker file would need a TypeScript loader in the first
 * two). Plain JavaScript that runs as a script or as an ES module (see below), loading nothing but Node's modules
 * and `pg`, whose resolved path the caller passes in.
 *
 * Requests: { id, conn, config, op: 'run', statements: [{ text, values }], fresh } and { id, conn, op: 'end' }.
 * - `conn` names the connection; `config` is its pg Client config (used when it (re)connects).
 * - `fresh` means the caller is not inside a transaction: only then may a lost connection be replaced by a new
 *   one (a statement of an open transaction must never run on another connection, outside it).
 * - Statements run in order; the first error stops the list and is returned with its index.
 * On start it replies to request 0 (ok, or the error loading `pg`).
 * Replies: { id, ok: true, results: [{ rows, rowCount }] } or { id, ok: false, error: { message, code, detail,
 * phase, index, lost } }, phase being 'load' (pg not loadable), 'connect' or 'query'; lost: the connection is
 * unusable (a later fresh request reconnects).
 */
export const POSTGRES_WORKER_SOURCE = String.raw`
(async () => {
'use strict';
// import() rather than require: a worker inherits the process's flags, and under --input-type=module (node -e)
// eval'd code is an ES module, without require. This source runs as either.
const { workerData } = await import('node:worker_threads');
const { createRequire } = await import('node:module');
const { port, flag: flagBuffer, pgPath } = workerData;
const flag = new Int32Array(flagBuffer);

let pg = null;
let loadError = null;
try {
  pg = createRequire(pgPath)(pgPath);
} catch (err) {
  loadError = err;
}

// conn id -> { client, lost }
const connections = new Map();

function reply(message) {
  port.postMessage(message);
  Atomics.add(flag, 0, 1);
  Atomics.notify(flag, 0);
}

function describe(err, phase, index, isLost) {
  const e = err || {};
  const message = e.message || (e.errors && e.errors.map((x) => x.message).join('; ')) || e.code || String(err);
  return { message, code: typeof e.code === 'string' ? e.code : null, detail: e.detail || null, phase, index, lost: isLost };
}

// Server errors (pg's DatabaseError has a severity) leave the connection usable, except those that end the session.
function endsConnection(err) {
  if (!err || !err.severity) return true;
  return /^(08|57P)/.test(err.code || '') || err.severity === 'FATAL' || err.severity === 'PANIC';
}

function drop(state) {
  state.lost = true;
  const c = state.client;
  state.client = null;
  if (c) c.end().catch(() => {});
}

async function connect(state, config) {
  const c = new pg.Client({
    ...config,
    // int8 (COUNT(*), BIGINT columns: milliseconds, steps) as numbers rather than strings.
    types: { getTypeParser: (oid, format) => (oid === 20 ? (v) => (v === null ? null : Number(v)) : pg.types.getTypeParser(oid, format)) },
  });
  c.on('error', () => {
    if (state.client === c) state.lost = true;
  });
  c.on('notice', () => {});
  try {
    await c.connect();
  } catch (err) {
    c.end().catch(() => {});
    throw err;
  }
  state.client = c;
  state.lost = false;
}

async function handle(msg) {
  let state = connections.get(msg.conn);
  if (msg.op === 'end') {
    connections.delete(msg.conn);
    const c = state && state.client;
    if (c) await Promise.race([c.end().catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
    return { id: msg.id, ok: true, results: [] };
  }
  if (loadError) return { id: msg.id, ok: false, error: describe(loadError, 'load', -1, true) };
  if (!state) connections.set(msg.conn, (state = { client: null, lost: true }));
  if (state.lost || state.client === null) {
    if (!msg.fresh) {
      return { id: msg.id, ok: false, error: { message: 'the connection was lost inside a transaction', code: null, detail: null, phase: 'query', index: 0, lost: true } };
    }
    drop(state);
    try {
      await connect(state, msg.config);
    } catch (err) {
      return { id: msg.id, ok: false, error: describe(err, 'connect', -1, true) };
    }
  }
  const results = [];
  for (let i = 0; i < msg.statements.length; i++) {
    const s = msg.statements[i];
    try {
      const r = await state.client.query({ text: s.text, values: s.values });
      results.push({ rows: r.rows, rowCount: r.rowCount });
    } catch (err) {
      const isLost = endsConnection(err);
      if (isLost) drop(state);
      return { id: msg.id, ok: false, error: describe(err, 'query', i, isLost) };
    }
  }
  return { id: msg.id, ok: true, results };
}

port.on('message', (msg) => {
  handle(msg).then(reply, (err) => reply({ id: msg.id, ok: false, error: describe(err, 'query', -1, true) }));
});
// Started: request 0 is the start itself.
reply(loadError ? { id: 0, ok: false, error: describe(loadError, 'load', -1, true) } : { id: 0, ok: true, results: [] });
})();
`;
