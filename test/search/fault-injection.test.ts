/**
 * Fault injection of the SQLite study (issue 13, Proof): a child process runs the ask → report → tell loop with
 * heartbeats and RetryFailedTrialCallback (test/search/fixtures/fault-child.ts) and is SIGKILLed at seeded random
 * phase boundaries (or wherever it has got to when the signal lands, inside a write too), then resumed, again and
 * again across about 20 trial lifecycles. After a final resume past the grace period: every trial is COMPLETE,
 * PRUNED or FAIL, numbers are unique and consecutive, every value logged after tell returned is in storage, dead
 * trials are FAIL ("stale heartbeat") and retried at most once, and no configuration repeats except retries.
 * The child is bundled once with esbuild (vitest's own dependency) so that each start is a plain `node` start.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, expect, it } from 'vitest';
import { Rng } from '../../src/search/rng.js';
import { SqliteStorage } from '../../src/search/storage/sqlite.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'wt-fault-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TARGET = 20;
const HEARTBEAT = 0.05;
const GRACE = 0.25;

interface ChildEnd {
  killed: boolean;
  code: number | null;
  out: string;
}

/** Runs the child; SIGKILLs it as soon as it has printed `killAt` phase markers (never if killAt is null). */
function runChild(bundle: string, env: Record<string, string>, killAt: number | null): Promise<ChildEnd> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bundle], {
      cwd: root,
      // The bundle lives outside the repo: NODE_PATH lets its createRequire find better-sqlite3.
      env: { ...process.env, ...env, NODE_PATH: join(root, 'node_modules') },
    });
    let out = '';
    let markers = 0;
    let killed = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      markers += d.toString().split('\n').length - 1;
      if (killAt !== null && !killed && markers >= killAt) {
        killed = child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code, signal) => resolve({ killed: killed || signal === 'SIGKILL', code, out }));
  });
}

it('SIGKILLed at random points across 20 trial lifecycles, then resumed: nothing RUNNING, nothing told lost', async () => {
  const bundle = join(dir, 'fault-child.mjs');
  await build({
    entryPoints: [join(root, 'test/search/fixtures/fault-child.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: bundle,
    external: ['better-sqlite3'],
    logLevel: 'silent',
  });
  const path = join(dir, 'fault.db');
  const log = join(dir, 'told.log');
  const env = { STUDY_PATH: path, LOG_PATH: log, TARGET: String(TARGET), HEARTBEAT: String(HEARTBEAT), GRACE: String(GRACE) };
  const trialCount = (): number => {
    if (!existsSync(path)) return 0;
    const s = new SqliteStorage(path);
    try {
      return s.getAllStudies()[0]?.nTrials ?? 0;
    } finally {
      s.close();
    }
  };

  // Seeded kill points: 1..14 markers into a run (one at load, four per trial: ask, report, report, tell).
  const rng = new Rng(13);
  let kills = 0;
  for (let run = 0; run < 60 && trialCount() < TARGET; run++) {
    const end = await runChild(bundle, env, rng.int(1, 14));
    if (end.killed) kills++;
    else expect(end.code, end.out).toBe(0);
  }
  expect(trialCount()).toBeGreaterThanOrEqual(TARGET);
  // Final resume, once the last killed trial's heartbeat is past the grace period: it fails the dead trials,
  // runs their retries and exits.
  await new Promise((r) => setTimeout(r, GRACE * 1000 + 150));
  const last = await runChild(bundle, env, null);
  expect(last.code, last.out).toBe(0);

  const s = new SqliteStorage(path);
  const trials = s.getAllTrials(s.getStudyIdFromName('fault'));
  s.close();
  expect(kills).toBeGreaterThanOrEqual(5);
  expect(trials.length).toBeGreaterThanOrEqual(TARGET);
  // Every trial finished; numbers unique and consecutive.
  expect(trials.filter((t) => !['COMPLETE', 'PRUNED', 'FAIL'].includes(t.state)).map((t) => [t.number, t.state])).toEqual([]);
  expect(trials.map((t) => t.number)).toEqual([...Array(trials.length).keys()]);
  // Nothing told is lost: each logged tell is in storage with its state and value.
  const told = readFileSync(log, 'utf8').split('\n').filter((line) => /^\d+ \w+ \S+$/.test(line));
  expect(told.length).toBeGreaterThan(0);
  for (const line of told) {
    const [n, state, value] = line.split(' ');
    const t = trials[Number(n)];
    expect([t.number, t.state, t.values?.[0]]).toEqual([Number(n), state, Number(value)]);
  }
  // Values are consistent with params; FAILs are the killed trials; each series retried at most once (maxRetry 1).
  for (const t of trials) {
    const x = t.params.x as number;
    if (t.state === 'COMPLETE') expect(t.values![0]).toBe(x * x);
    if (t.state === 'PRUNED') expect(t.values![0]).toBe(x / 2);
    if (t.state === 'FAIL') expect(t.userAttrs.fail_reason).toBe('stale heartbeat');
    expect((t.systemAttrs.retry_history as number[] | undefined)?.length ?? 0).toBeLessThanOrEqual(1);
  }
  expect(trials.some((t) => t.state === 'FAIL')).toBe(true);
  // One seed in every run, yet no configuration repeats, retries aside (they repeat their trial on purpose).
  const fresh = trials.filter((t) => t.systemAttrs.failed_trial === undefined && 'x' in t.params).map((t) => t.params.x);
  expect(new Set(fresh).size).toBe(fresh.length);
}, 60_000);
