/** Two processes share one sqlite study: no duplicate trial numbers, no lost results. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { SqliteStorage } from '../../src/search/storage/sqlite.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function runWorker(path: string, id: number, trials: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'test/search/fixtures/vitest.two-process.config.ts'], {
      cwd: root,
      env: { ...process.env, STUDY_PATH: path, WORKER_ID: String(id), TRIALS: String(trials) },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

it('two processes: 30 trials numbered 0..29 once each, all COMPLETE with values', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-2proc-'));
  try {
    const path = join(dir, 'shared.db');
    // Create the study first so both workers load it (they also could race on creation with loadIfExists).
    const storage = new SqliteStorage(path);
    storage.createNewStudy(['minimize'], 'shared');
    storage.close();
    const results = await Promise.all([runWorker(path, 1, 15), runWorker(path, 2, 15)]);
    for (const r of results) expect(r.code, r.out).toBe(0);
    const s = new SqliteStorage(path);
    const trials = s.getAllTrials(s.getStudyIdFromName('shared'));
    s.close();
    expect(trials.map((t) => t.number).sort((a, b) => a - b)).toEqual([...Array(30).keys()]);
    expect(trials.every((t) => t.state === 'COMPLETE')).toBe(true);
    for (const t of trials) expect(t.values![0]).toBeCloseTo((t.params.x as number) ** 2, 12);
    const byWorker = [1, 2].map((w) => trials.filter((t) => t.userAttrs.worker === w).length);
    expect(byWorker).toEqual([15, 15]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
