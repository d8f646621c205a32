/**
 * A sweep killed outright (SIGKILL: nothing of it can run a handler) and then resumed (issue 13, item 3): the dead
 * trials' heartbeats stop, the resumed sweep fails them, no trial stays RUNNING, and no configuration repeats.
 * Runs bin/webtrainer.js from dist/ with one-second heartbeats.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getStorage } from '../../src/search/storage/index.js';

const root = join(import.meta.dirname, '../..');
const bin = join(root, 'bin/webtrainer.js');
const dir = mkdtempSync(join(tmpdir(), 'webtrainer-kill-'));
const storageUrl = `sqlite:${join(dir, 'study.db')}`;
writeFileSync(join(dir, 'train.tsv'), ['sentence\tlabel', ...Array.from({ length: 24 }, (_, i) => `film number ${i}\t${i % 2}`)].join('\n') + '\n');

function writeConfig(maxSteps: number): void {
  writeFileSync(join(dir, 'sweep.yaml'), [
    'data: {train: train.tsv, eval: train.tsv}',
    'model: {hidden_size: 8, num_layers: 1, num_heads: 2, intermediate_size: 8}',
    `training_arguments: {max_steps: ${maxSteps}, per_device_train_batch_size: 8, logging_steps: 1000, eval_strategy: 'no'}`,
    'sweep: {method: random, metric: {name: eval_loss, goal: minimize}, parameters: {learning_rate: {distribution: log_uniform_values, min: 0.0001, max: 0.01}}}',
    'slots: 2',
    'seed: 7',
  ].join('\n'));
}

const sweepArgs = ['sweep', '--config', 'sweep.yaml', '--storage', storageUrl, '--study-name', 'k', '--n-trials', '2', '--heartbeat-interval', '1'];

function trials() {
  const storage = getStorage(storageUrl);
  try {
    return storage.getAllTrials(storage.getStudyIdFromName('k'));
  } catch {
    return []; // not created yet
  } finally {
    storage.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('a sweep killed with SIGKILL, then resumed', () => {
  it('fails the dead trials by heartbeat, leaves none RUNNING, and repeats no configuration', { timeout: 180_000 }, async () => {
    writeConfig(1_000_000);
    const command = spawn(process.execPath, [bin, ...sweepArgs], { cwd: dir, stdio: 'ignore' });
    while (trials().filter((t) => t.state === 'RUNNING').length < 2) await sleep(200);
    await sleep(1500); // training, heartbeats beating
    const worker = Number(spawnSync('pgrep', ['-P', String(command.pid)], { encoding: 'utf8' }).stdout.trim().split('\n')[0]);
    process.kill(command.pid!, 'SIGKILL');
    for (let i = 0; i < 50 && alive(worker); i++) await sleep(100);
    expect(alive(worker), 'the worker ends with the command').toBe(false);
    expect(trials().map((t) => t.state)).toEqual(['RUNNING', 'RUNNING']); // nobody could mark them

    await sleep(2500); // past the grace period (2 × 1 s)
    writeConfig(2);
    const resumed = spawnSync(process.execPath, [bin, ...sweepArgs], { cwd: dir, encoding: 'utf8' });
    expect(resumed.status, resumed.stderr).toBe(0);
    const after = trials();
    expect(after.map((t) => t.state)).toEqual(['FAIL', 'FAIL', 'COMPLETE', 'COMPLETE']);
    expect(after.slice(0, 2).map((t) => t.userAttrs.fail_reason)).toEqual(['stale heartbeat', 'stale heartbeat']);
    const rates = after.map((t) => t.params.learning_rate);
    expect(new Set(rates).size).toBe(4);
  });
});
