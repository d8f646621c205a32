/**
 * Many worker processes, one PostgreSQL study (issue 15, part 2), on a private server
 * (test/helpers/postgres-server.ts). The worker (test/search/fixtures/postgres-worker.ts) is bundled once with
 * esbuild (vitest's own dependency) so that each start is a plain `node` start.
 * - 3 workers × 4 trials at once: exactly 12 trials numbered 0..11, all COMPLETE with their values.
 * - 3 processes racing createNewTrial and claimWaitingTrial: numbers unique and consecutive, every enqueued trial
 *   claimed exactly once.
 * - A worker SIGKILLed mid-trial: another worker fails its trial (stale heartbeat) and runs its retry; the others'
 *   trials, longer than the grace period, stay alive by their heartbeats and complete.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeEach, expect, it } from 'vitest';
import { PostgresStorage } from '../../src/search/storage/postgres.js';
import { createStudy } from '../../src/search/study.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres-server.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'wt-pgw-'));
const bundle = join(dir, 'postgres-worker.mjs');
let server: PostgresServer;
let starting: [Promise<PostgresServer>, Promise<unknown>] | null = null;

// In beforeEach (not beforeAll, whose failure vitest reports as skipped tests): without PostgreSQL each test fails, saying why.
beforeEach(async () => {
  starting ??= [
    startPostgres(),
    build({
      entryPoints: [join(root, 'test/search/fixtures/postgres-worker.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: bundle,
      external: ['better-sqlite3', 'pg'],
      logLevel: 'silent',
    }),
  ];
  [server] = await Promise.all(starting);
}, 60_000);
afterAll(async () => {
  // Both settled first: a build still writing would recreate the folder.
  const [srv] = await Promise.allSettled(starting ?? []);
  if (srv?.status === 'fulfilled') (srv.value as PostgresServer).stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Child {
  /** Resolves with the exit code (null when killed) and everything printed. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>;
  /** Resolves with the first stdout line matching re. */
  line(re: RegExp): Promise<string>;
  /** Writes a line to its stdin. */
  send(line: string): void;
  kill(): void;
}

/** Starts the workers with BARRIER=1 and lets them go together once all are connected. */
async function startTogether(envs: Array<Record<string, string>>): Promise<Child[]> {
  const children = envs.map((env) => startWorker({ ...env, BARRIER: '1' }));
  await Promise.all(children.map((c) => c.line(/^ready$/)));
  for (const c of children) c.send('go');
  return children;
}

function startWorker(env: Record<string, string>): Child {
  const child = spawn(process.execPath, [bundle], {
    cwd: root,
    // The bundle lives outside the repo: NODE_PATH lets its createRequire find pg and better-sqlite3.
    env: { ...process.env, ...env, NODE_PATH: join(root, 'node_modules') },
  });
  let out = '';
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  child.stdout.on('data', (d: Buffer) => {
    out += d;
    for (const w of [...waiters]) {
      const m = out.split('\n').find((l) => w.re.test(l));
      if (m !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  child.stderr.on('data', (d) => (out += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>((resolve) =>
    child.on('close', (code, signal) => {
      for (const w of waiters) w.resolve(`(exited: ${out})`);
      resolve({ code, signal, out });
    }),
  );
  return {
    done,
    line: (re) => new Promise((resolve) => waiters.push({ re, resolve })),
    send: (line) => void child.stdin.write(`${line}\n`),
    kill: () => void child.kill('SIGKILL'),
  };
}

it('3 workers × 4 trials on one study: exactly 12 trials numbered 0..11, all COMPLETE with values', async () => {
  const url = await server.createSchema();
  createStudy({ storage: url, studyName: 'shared' }).storage.close();
  const env = { STUDY_URL: url, STUDY_NAME: 'shared', MODE: 'trials', TRIALS: '4', SLEEP_MS: '100', HEARTBEAT: '0.1', GRACE: '2' };
  const workers = await startTogether([1, 2, 3].map((w) => ({ ...env, WORKER_ID: String(w) })));
  const results = await Promise.all(workers.map((c) => c.done));
  for (const r of results) expect(r.code, r.out).toBe(0);

  const s = new PostgresStorage(url);
  const trials = s.getAllTrials(s.getStudyIdFromName('shared'));
  s.close();
  expect(trials.map((t) => t.number)).toEqual([...Array(12).keys()]);
  expect(trials.filter((t) => t.state !== 'COMPLETE')).toEqual([]);
  for (const t of trials) expect(t.values).toEqual([(t.params.x as number) ** 2]);
  expect([1, 2, 3].map((w) => trials.filter((t) => t.userAttrs.worker === w).length)).toEqual([4, 4, 4]);
  // The workers ran at once: their trials interleave in time.
  const spans = [1, 2, 3].map((w) => trials.filter((t) => t.userAttrs.worker === w).map((t) => t.datetimeStart!.getTime()));
  expect(Math.max(...spans.map((xs) => Math.min(...xs)))).toBeLessThan(Math.min(...spans.map((xs) => Math.max(...xs))));
}, 60_000);

it('3 processes racing createNewTrial and claimWaitingTrial: unique consecutive numbers, each WAITING trial claimed once', async () => {
  const url = await server.createSchema();
  const s = new PostgresStorage(url);
  const st = s.createNewStudy(['minimize'], 'race');
  const waiting = Array.from({ length: 60 }, () => s.createNewTrial(st, { state: 'WAITING' }));
  const rounds = 30;
  const workers = await startTogether([1, 2, 3].map((w) => ({ STUDY_URL: url, STUDY_NAME: 'race', MODE: 'race', ROUNDS: String(rounds), WORKER_ID: String(w) })));
  const results = await Promise.all(workers.map((c) => c.done));
  for (const r of results) expect(r.code, r.out).toBe(0);
  const claimed = results.flatMap((r) => JSON.parse(r.out.trim().split('\n').at(-1)!) as number[]);
  // Each process claimed some: they raced.
  expect(results.map((r) => (JSON.parse(r.out.trim().split('\n').at(-1)!) as number[]).length > 0)).toEqual([true, true, true]);
  expect(claimed.length).toBe(waiting.length);
  expect([...claimed].sort((a, b) => a - b)).toEqual(waiting);
  const trials = s.getAllTrials(st);
  s.close();
  expect(trials.map((t) => t.number)).toEqual([...Array(60 + 3 * rounds).keys()]);
  expect(trials.filter((t) => t.state !== 'RUNNING')).toEqual([]);
}, 60_000);

it('a worker SIGKILLed mid-trial: its trial is failed by another worker (stale heartbeat) and retried; the others complete', async () => {
  const url = await server.createSchema();
  createStudy({ storage: url, studyName: 'kill' }).storage.close();
  // Survivors' trials (500 ms) outlast the grace period (0.4 s) only through their heartbeats (every 0.1 s).
  const env = { STUDY_URL: url, STUDY_NAME: 'kill', HEARTBEAT: '0.1', GRACE: '0.4' };
  const victim = startWorker({ ...env, MODE: 'hang', WORKER_ID: '0' });
  const running = await victim.line(/^running \d+$/);
  expect(running, running).toMatch(/^running \d+$/);
  const deadNumber = Number(running.split(' ')[1]);
  // The others start while the victim is alive; it is killed once both run their first trial.
  const survivors = [1, 2].map((w) => startWorker({ ...env, MODE: 'trials', TRIALS: '4', SLEEP_MS: '500', WORKER_ID: String(w) }));
  await Promise.all(survivors.map((c) => c.line(/^started$/)));
  victim.kill();
  const killed = await victim.done;
  expect(killed.signal).toBe('SIGKILL');
  const results = await Promise.all(survivors.map((c) => c.done));
  for (const r of results) expect(r.code, r.out).toBe(0);

  const s = new PostgresStorage(url);
  const trials = s.getAllTrials(s.getStudyIdFromName('kill'));
  s.close();
  // The victim's trial, 8 of the survivors (the retry among them): 9 trials numbered once.
  expect(trials.map((t) => t.number)).toEqual([...Array(9).keys()]);
  const dead = trials[deadNumber];
  expect([dead.state, dead.userAttrs.worker, dead.userAttrs.fail_reason]).toEqual(['FAIL', 0, 'stale heartbeat']);
  const rest = trials.filter((t) => t.number !== deadNumber);
  expect(rest.filter((t) => t.state !== 'COMPLETE').map((t) => [t.number, t.state, t.userAttrs])).toEqual([]);
  for (const t of rest) expect(t.values).toEqual([(t.params.x as number) ** 2]);
  const retries = rest.filter((t) => t.systemAttrs.failed_trial !== undefined);
  expect(retries.map((t) => [t.systemAttrs.failed_trial, t.params.x])).toEqual([[deadNumber, dead.params.x]]);
  expect([1, 2].map((w) => rest.filter((t) => t.userAttrs.worker === w).length)).toEqual([4, 4]);
}, 60_000);
