/**
 * Two processes share one sqlite study: no duplicate trial numbers, no lost results; with one sampler seed they
 * still sample distinct configurations (samplers reseed per trial number when the numbering jumps); and the
 * trials of a dead process are failed and retried exactly once although both workers look for them at once.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { SqliteStorage } from '../../src/search/storage/sqlite.js';
import { createStudy } from '../../src/search/study.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function runWorker(path: string, id: number, trials: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'test/search/fixtures/vitest.two-process.config.ts'], {
      cwd: root,
      env: { ...process.env, STUDY_PATH: path, WORKER_ID: String(id), TRIALS: String(trials), SEED: '0' },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

it('two processes, one seed, three dead trials: 33 trials numbered once, dead ones FAIL and retried once, configurations distinct', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-2proc-'));
  try {
    const path = join(dir, 'shared.db');
    // Create the study first so both workers load it (they also could race on creation with loadIfExists),
    // with three trials of a "dead process": RUNNING, x suggested, never told, never beating.
    const dead = createStudy({ storage: `sqlite:${path}`, studyName: 'shared' });
    for (let i = 0; i < 3; i++) dead.ask().suggestFloat('x', 0, 1);
    dead.storage.close();
    await new Promise((r) => setTimeout(r, 400)); // past the workers' 0.3 s grace period
    const results = await Promise.all([runWorker(path, 1, 15), runWorker(path, 2, 15)]);
    for (const r of results) expect(r.code, r.out).toBe(0);
    const s = new SqliteStorage(path);
    const trials = s.getAllTrials(s.getStudyIdFromName('shared'));
    s.close();
    expect(trials.map((t) => t.number).sort((a, b) => a - b)).toEqual([...Array(33).keys()]);
    expect(trials.slice(0, 3).map((t) => [t.state, t.userAttrs.fail_reason])).toEqual(Array(3).fill(['FAIL', 'stale heartbeat']));
    const rest = trials.slice(3);
    expect(rest.every((t) => t.state === 'COMPLETE')).toBe(true);
    for (const t of rest) expect(t.values![0]).toBeCloseTo((t.params.x as number) ** 2, 12);
    // Each dead trial retried exactly once, with its own x.
    const retries = rest.filter((t) => t.systemAttrs.failed_trial !== undefined);
    expect(retries.map((t) => t.systemAttrs.failed_trial).sort()).toEqual([0, 1, 2]);
    for (const r of retries) expect(r.params.x).toBe(trials[r.systemAttrs.failed_trial as number].params.x);
    // Same seed in both workers, yet no configuration repeats (retries aside, which repeat on purpose).
    const xs = trials.filter((t) => t.systemAttrs.failed_trial === undefined).map((t) => t.params.x);
    expect(new Set(xs).size).toBe(30);
    const byWorker = [1, 2].map((w) => trials.filter((t) => t.userAttrs.worker === w).length);
    expect(byWorker).toEqual([15, 15]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
