/**
 * The real command, spawned as a user runs it (`node bin/webtrainer.js …`, from dist/, built first if older than
 * src/): SIGINT (Ctrl-C, sent to the process group as a terminal does), SIGTERM and SIGHUP (sent to the command's
 * process, as `kill` does) stop `train` after the current step with exit code 130, a message, no stack and no
 * model saved (a second signal exiting at once is in errors.test.ts); `sweep` stops its trials and still prints its summary; and an
 * output directory that cannot be created fails at once instead of hanging.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuiltDist } from '../helpers/built-dist.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tiny = ['--model-hidden-size', '8', '--model-num-layers', '1', '--model-num-heads', '2', '--model-intermediate-size', '8'];
let dir: string;


beforeAll(async () => {
  ensureBuiltDist(['dist/src/cli/main.js']);
  dir = await mkdtemp(join(tmpdir(), 'webtrainer-signals-'));
  const rows = ['sentence\tlabel', ...Array.from({ length: 24 }, (_, i) => `${i % 2 ? 'a fine good film' : 'a dull bad film'} number ${i}\t${i % 2}`)];
  await writeFile(join(dir, 'train.tsv'), rows.join('\n') + '\n');
}, 300_000);

interface Running {
  pid: number;
  output: () => { stdout: string; stderr: string };
  /** Resolves once stdout or stderr matches. */
  waitFor: (pattern: RegExp) => Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; seconds: number }>;
}

/** Starts the command in its own process group, so that a group signal reaches it as Ctrl-C in a terminal would. */
function start(args: string[]): Running {
  const started = performance.now();
  const child = spawn(process.execPath, [join(root, 'bin/webtrainer.js'), ...args], { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) if (w.pattern.test(stdout) || w.pattern.test(stderr)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
  };
  child.stdout.on('data', (chunk) => ((stdout += chunk), check()));
  child.stderr.on('data', (chunk) => ((stderr += chunk), check()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; seconds: number }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, seconds: (performance.now() - started) / 1000 }));
  });
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 90_000); // never leave a stray process
  void exited.then(() => clearTimeout(timer));
  return {
    pid: child.pid!,
    output: () => ({ stdout, stderr }),
    waitFor: (pattern) => new Promise((resolve, reject) => {
      waiters.push({ pattern, resolve });
      check();
      void exited.then(() => reject(new Error(`exited before printing ${pattern}:\n${stdout}\n${stderr}`)));
    }),
    exited,
  };
}

const longTrain = (out: string) => [
  'train', '--train', join(dir, 'train.tsv'), '--per-device-train-batch-size', '8', '--max-steps', '1000000',
  '--logging-steps', '1000', '--eval-strategy', 'no', '--output-dir', out, ...tiny,
];

describe('signals', () => {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    it(`${signal} stops train after the current step: exit 130, a message, no stack, nothing saved`, async () => {
      const out = join(dir, `out-${signal}`);
      const run = start(longTrain(out));
      await run.waitFor(/training on/);
      await new Promise((resolve) => setTimeout(resolve, 1500)); // into the training loop (the device takes ~1 s)
      // Ctrl-C goes to the terminal's whole process group; kill(1) sends SIGTERM or SIGHUP to the command's process.
      process.kill(signal === 'SIGINT' ? -run.pid : run.pid, signal);
      const { code, seconds } = await run.exited;
      const { stderr } = run.output();
      expect(code, stderr).toBe(130);
      expect(stderr).toMatch(new RegExp(`${signal}: stopping after this step`));
      expect(stderr).toMatch(new RegExp(`webtrainer: interrupted by ${signal}: (stopped at step \\d+ of 1000000|before training); the model was not saved\\n`));
      expect(stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(out)).toBe(false); // created by the check before training, removed as it stayed empty
      expect(seconds).toBeLessThan(60);
    });
  }

  it('SIGTERM stops a sweep: exit 130, and the summary is still printed', async () => {
    const config = join(dir, 'sweep.yaml');
    await writeFile(config, [
      `data: {train: ${join(dir, 'train.tsv')}, eval: ${join(dir, 'train.tsv')}}`,
      'model: {hidden_size: 8, num_layers: 1, num_heads: 2, intermediate_size: 8}',
      "training_arguments: {max_steps: 1000000, per_device_train_batch_size: 8, logging_steps: 1000, eval_strategy: 'no'}",
      'sweep: {method: random, metric: {name: eval_loss, goal: minimize}, parameters: {learning_rate: {distribution: log_uniform_values, min: 0.0001, max: 0.01}}}',
      'slots: 2',
    ].join('\n'));
    const storage = `sqlite:${join(dir, 'sweep.db')}`;
    const run = start(['sweep', '--config', config, '--storage', storage, '--n-trials', '4', '--json']);
    await run.waitFor(/^sweep: 4 trials/m);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    process.kill(run.pid, 'SIGTERM');
    const { code } = await run.exited;
    const { stdout, stderr } = run.output();
    expect(code, stderr).toBe(130);
    expect(JSON.parse(stdout.trim())).toMatchObject({ interrupted: 'SIGTERM', study_name: 'sweep', best_run: null });
    // The exact command that resumes the study (named after sweep.yaml), when the signal comes and at the end.
    const resume = `webtrainer sweep --config ${config} --storage ${storage} --n-trials 4 --study-name sweep --json`;
    expect(stderr).toContain(`SIGTERM: stopping the running trials; resume the study with:\n  ${resume}\n`);
    expect(stderr).toMatch(/webtrainer: interrupted by SIGTERM: /);
    expect(stderr).toContain(`; resume with: ${resume}\n`);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});

describe('output directory', () => {
  it('one that cannot be created (/proc/x) fails at once with exit 1 instead of hanging', async () => {
    const run = start(['train', '--train', join(dir, 'train.tsv'), '--max-steps', '1', '--output-dir', '/proc/x', ...tiny]);
    const { code, seconds } = await run.exited;
    expect(code).toBe(1);
    expect(run.output().stderr).toMatch(/^webtrainer: --output-dir: cannot create directory '\/proc\/x': ENOENT: no such file or directory\n/m);
    expect(seconds).toBeLessThan(30);
  });
});
