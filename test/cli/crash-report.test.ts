/**
 * A crash in native code is never silent (issue 17): the `webtrainer` command (bin/webtrainer.js, run from dist/ as
 * a user runs it) supervises the process that does the work. Here that process is killed with SIGSEGV, as a crash
 * in Dawn or lavapipe kills it, and the command must say so, name what was running, and exit 1.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { deathMessage } from '../../src/cli/supervisor.js';
import { getStorage } from '../../src/search/storage/index.js';

const root = join(import.meta.dirname, '../..');
const bin = join(root, 'bin/webtrainer.js');
const tiny = ['--model-hidden-size', '8', '--model-num-layers', '1', '--model-num-heads', '2', '--model-intermediate-size', '8'];
let dir: string;

beforeAll(async () => {
  if (!existsSync(join(root, 'dist/src/cli/supervisor.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  dir = await mkdtemp(join(tmpdir(), 'webtrainer-crash-'));
  const rows = ['sentence\tlabel', ...Array.from({ length: 24 }, (_, i) => `${i % 2 ? 'a fine good film' : 'a dull bad film'} number ${i}\t${i % 2}`)];
  await writeFile(join(dir, 'train.tsv'), rows.join('\n') + '\n');
});

function allTrials(storageUrl: string) {
  const storage = getStorage(storageUrl);
  try {
    return storage.getAllTrials(storage.getStudyIdFromName('crash'));
  } finally {
    storage.close();
  }
}

function runningTrials(storageUrl: string) {
  try {
    return allTrials(storageUrl).filter((t) => t.state === 'RUNNING');
  } catch {
    return []; // the study is not created yet
  }
}

/**
 * Runs the command; once `ready` matches its output (and `settle` resolves), kills the working (child) process
 * with `signal`.
 */
function runAndKillWorker(
  args: string[],
  ready: RegExp,
  signal: NodeJS.Signals,
  settle: () => Promise<void> = () => new Promise((r) => setTimeout(r, 500)),
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const command = spawn(process.execPath, [bin, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let killed = false;
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (killed || !ready.test(output)) return;
      killed = true;
      // A moment for the activity message to reach the supervisor, then the crash.
      void settle().then(() => {
        const worker = Number(execFileSync('pgrep', ['-P', String(command.pid)]).toString().trim().split('\n')[0]);
        process.kill(worker, signal);
      });
    };
    command.stdout.on('data', onData);
    command.stderr.on('data', onData);
    command.on('error', reject);
    command.on('exit', (code) => resolve({ code, output }));
  });
}

describe('a worker that dies in native code', () => {
  it('says what it was training, with the signal, and exits 1', { timeout: 120_000 }, async () => {
    // An evaluation every 3 steps prints a line, so the test knows training has begun (and reported its step).
    const args = ['train', '--train', 'train.tsv', '--eval', 'train.tsv', '--max-steps', '100000', '--eval-strategy', 'steps', '--eval-steps', '3', '--output-dir', 'out', ...tiny];
    const { code, output } = await runAndKillWorker(args, /evaluation at step 3/, 'SIGSEGV');
    expect(output).toMatch(/the command's process died from SIGSEGV, a crash in native code \(Dawn or the GPU driver\) while training step \d+ of 100000/);
    expect(code).toBe(1);
  });

  it('marks the sweep\'s running trials FAIL with the reason, leaving none RUNNING', { timeout: 180_000 }, async () => {
    await writeFile(join(dir, 'sweep.yaml'), [
      'data: {train: train.tsv, eval: train.tsv}',
      'model: {hidden_size: 8, num_layers: 1, num_heads: 2, intermediate_size: 8}',
      "training_arguments: {max_steps: 1000000, per_device_train_batch_size: 8, logging_steps: 1000, eval_strategy: 'no'}",
      'sweep: {method: random, metric: {name: eval_loss, goal: minimize}, parameters: {learning_rate: {distribution: log_uniform_values, min: 0.0001, max: 0.01}}}',
      'slots: 2',
    ].join('\n'));
    const storageUrl = `sqlite:${join(dir, 'crash.db')}`;
    const args = ['sweep', '--config', 'sweep.yaml', '--storage', storageUrl, '--study-name', 'crash', '--n-trials', '4'];
    const { code, output } = await runAndKillWorker(args, /^sweep: 4 trials/m, 'SIGSEGV', async () => {
      // Ready once both fused trials are RUNNING in the study and training has had a moment.
      while (runningTrials(storageUrl).length < 2) await new Promise((r) => setTimeout(r, 200));
      await new Promise((r) => setTimeout(r, 1500));
    });
    expect(output).toMatch(/died from SIGSEGV, a crash in native code \(Dawn or the GPU driver\) while running trials 0, 1/);
    expect(output).toContain("marked trials 0, 1 of study 'crash' FAIL");
    expect(code).toBe(1);
    const trials = allTrials(storageUrl);
    expect(trials.map((t) => t.state)).toEqual(['FAIL', 'FAIL']);
    for (const trial of trials) expect(String(trial.userAttrs.fail_reason)).toMatch(/^the process died from SIGSEGV while running trials 0, 1/);
  });

  it('names the cause for each kind of death', () => {
    expect(deathMessage('SIGKILL', null)).toBe(
      "webtrainer: the command's process died from SIGKILL, killed from outside (the out-of-memory killer, or kill -9). Nothing after the last saved checkpoint was kept.",
    );
    expect(deathMessage('SIGABRT', { doing: 'trial 3 at step 7 of 20' })).toContain('SIGABRT, a crash in native code (Dawn or the GPU driver) while trial 3 at step 7 of 20.');
  });
});
