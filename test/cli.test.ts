/** The command line, run in-process: doctor, train and sweep with --json, and usage errors that name the problem. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { readSafetensors } from '../src/train/checkpoint/safetensors.js';
import { runCli } from './helpers/cli.js';

let dir: string;
const tiny = ['--model-hidden-size', '8', '--model-num-layers', '1', '--model-num-heads', '2', '--model-intermediate-size', '8'];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'webtrainer-cli-'));
  const rows = ['sentence\tlabel', ...Array.from({ length: 24 }, (_, i) => `${i % 2 ? 'a fine good film' : 'a dull bad film'} number ${i}\t${i % 2 ? 'pos' : 'neg'}`)];
  await writeFile(join(dir, 'train.tsv'), rows.join('\n') + '\n');
  await writeFile(join(dir, 'bad.tsv'), 'sentence\tlabel\nfine\t1\nno label here\n');
});

afterEach(() => vi.restoreAllMocks());

const run = runCli;

describe('webtrainer CLI', () => {
  it('doctor --json reports the adapter, limits and a passing self-test', async () => {
    const { code, stdout } = await run(['doctor', '--json']);
    const report = JSON.parse(stdout);
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.adapter.description).toBeTruthy();
    expect(report.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(report.selfTest.checks[0].maxAbsError).toBeLessThan(1e-4);
  });

  it('train --json prints only the final metrics, with HF keys, and saves the model and label map', async () => {
    const out = join(dir, 'model');
    const { code, stdout } = await run(['train', '--train', join(dir, 'train.tsv'), '--eval', join(dir, 'train.tsv'), '--label-column', 'label', '--max-steps', '3', '--per-device-train-batch-size', '8', '--output-dir', out, '--json', ...tiny]);
    expect(code).toBe(0);
    const metrics = JSON.parse(stdout.trim());
    for (const key of ['train_loss', 'train_runtime', 'train_samples_per_second', 'epoch', 'eval_loss', 'eval_accuracy', 'eval_f1']) {
      expect(metrics).toHaveProperty(key);
    }
    const saved = await readSafetensors(join(out, 'model.safetensors'));
    expect(saved.tensors.get('classifier.weight')!.shape).toEqual([1, 8, 2]);
  });

  it('bad input names the file and line, or the option', async () => {
    const badRow = await run(['train', '--train', join(dir, 'bad.tsv'), '--max-steps', '1']);
    expect(badRow.code).toBe(1);
    expect(badRow.stderr).toMatch(/bad\.tsv:3/);
    const badArg = await run(['train', '--learning-rat', '0.1']);
    expect(badArg.stderr).toMatch(/unknown argument 'learning-rat'/);
    const badModel = await run(['train', '--model-hiden-size', '8']);
    expect(badModel.stderr).toMatch(/--model-hiden-size: unknown model setting 'hiden_size' \(known: vocab_size, hidden_size, /);
    const usage = await run(['frobnicate']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/unknown command 'frobnicate'/);
    // A malformed call is a usage error (exit 2, with the usage text), and --help on a command prints the usage.
    const noValue = await run(['sweep', '--n-trials']);
    expect(noValue.code).toBe(2);
    expect(noValue.stderr).toMatch(/--n-trials needs a value[\s\S]*usage: webtrainer/);
    const unknown = await run(['sweep', '--trials', '3']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option --trials/);
    const help = await run(['sweep', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: webtrainer/);
  });

  it('sweep --json from a YAML config with a SQLite study, resumable with the same numbering', async () => {
    const config = join(dir, 'sweep.yaml');
    await writeFile(
      config,
      [
        'data: {train: ' + join(dir, 'train.tsv') + ', eval: ' + join(dir, 'train.tsv') + '}',
        'model: {hidden_size: 8, num_layers: 1, num_heads: 2, intermediate_size: 8}',
        'training_arguments: {max_steps: 2, per_device_train_batch_size: 8, logging_steps: 1}',
        'sweep:',
        '  method: random',
        '  metric: {name: eval_loss, goal: minimize}',
        '  parameters:',
        '    learning_rate: {distribution: log_uniform_values, min: 0.0001, max: 0.01}',
        'slots: 2',
        'seed: 1',
      ].join('\n'),
    );
    const storage = `sqlite:${join(dir, 'study.db')}`;
    const first = await run(['sweep', '--config', config, '--storage', storage, '--study-name', 's', '--n-trials', '2', '--json']);
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout.trim());
    expect(summary.trials.map((t: { number: number }) => t.number)).toEqual([0, 1]);
    expect(summary.trials.every((t: { state: string }) => t.state === 'COMPLETE')).toBe(true);
    expect(summary.best_run.objective).toBe(Math.min(...summary.trials.map((t: { value: number }) => t.value)));
    // The same command again: the study is loaded, numbering goes on, and --json lists the whole study.
    const second = await run(['sweep', '--config', config, '--storage', storage, '--study-name', 's', '--n-trials', '2', '--json']);
    const resumed = JSON.parse(second.stdout.trim());
    expect(resumed.trials.map((t: { number: number; this_run: boolean }) => [t.number, t.this_run])).toEqual([[0, false], [1, false], [2, true], [3, true]]);
    expect(resumed.best_run.objective).toBe(Math.min(...resumed.trials.map((t: { value: number }) => t.value)));
  });

  it('a sweep without --study-name gets a stable name from its config file, so the same command resumes it', async () => {
    const config = join(dir, 'nightly.yaml');
    await writeFile(config, [
      'data: {train: ' + join(dir, 'train.tsv') + ', eval: ' + join(dir, 'train.tsv') + '}',
      'model: {hidden_size: 8, num_layers: 1, num_heads: 2, intermediate_size: 8}',
      'training_arguments: {max_steps: 1, per_device_train_batch_size: 8, logging_steps: 1}',
      'sweep: {method: random, metric: {name: eval_loss, goal: minimize}, parameters: {learning_rate: {distribution: log_uniform_values, min: 0.0001, max: 0.01}}}',
    ].join('\n'));
    const storage = `sqlite:${join(dir, 'nightly.db')}`;
    const first = await run(['sweep', '--config', config, '--storage', storage, '--n-trials', '1', '--json']);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout.trim()).study_name).toBe('nightly'); // nightly.yaml → nightly
    const second = await run(['sweep', '--config', config, '--storage', storage, '--n-trials', '1']);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/study 'nightly': resuming after 1 trial\n/);
    expect(second.stdout).toMatch(/best run in study 'nightly' \(2 trials\): trial [01], objective /);
    const { loadStudy } = await import('../src/search/study.js');
    expect(loadStudy({ studyName: 'nightly', storage }).trials.map((t) => t.number)).toEqual([0, 1]);
  });

  it('a sweep whose every new trial failed exits 1, shows why, and does not pass off an old best run as new', async () => {
    const config = join(dir, 'failing.yaml');
    const write = (space: string) => writeFile(config, [
      'data: {train: ' + join(dir, 'train.tsv') + ', eval: ' + join(dir, 'train.tsv') + '}',
      'model: {hidden_size: 8, num_layers: 1, num_heads: 2, intermediate_size: 8}',
      'training_arguments: {max_steps: 1, per_device_train_batch_size: 8, logging_steps: 1}',
      `search: {backend: optuna, space: {${space}}}`,
    ].join('\n'));
    const storage = `sqlite:${join(dir, 'failing.db')}`;
    await write('learning_rate: {type: float, low: 0.0001, high: 0.01, log: true}');
    expect((await run(['sweep', '--config', config, '--storage', storage, '--n-trials', '1'])).code).toBe(0);
    // Now every trial fails: warmup_ratio must be in [0, 1].
    await write('warmup_ratio: {type: float, low: 2, high: 3}');
    const json = await run(['sweep', '--config', config, '--storage', storage, '--n-trials', '2', '--json']);
    expect(json.code).toBe(1);
    expect(json.stderr).toMatch(/webtrainer: no trial completed in this run \(2 ended: TrainingArgumentsError: training arguments: warmupRatio \(2\.\d+\) must be in \[0, 1\]/);
    const summary = JSON.parse(json.stdout.trim());
    expect(summary.best_run).toMatchObject({ run_id: '0', from_this_run: false });
    expect(summary.trials.map((t: { number: number; state: string }) => [t.number, t.state])).toEqual([[0, 'COMPLETE'], [1, 'FAIL'], [2, 'FAIL']]);
    expect(summary.trials[0].fail_reason).toBeNull();
    for (const t of summary.trials.slice(1)) expect(t.fail_reason).toMatch(/^TrainingArgumentsError: training arguments: warmupRatio \(2\.\d+\) must be in \[0, 1\]$/);
    const text = await run(['sweep', '--config', config, '--storage', storage, '--n-trials', '1']);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/ {4}3 {2}FAIL .*\n {7}reason: TrainingArgumentsError: training arguments: warmupRatio \(2\.\d+\) must be in \[0, 1\]\n/);
    expect(text.stdout).toMatch(/best run in study 'failing' \(4 trials\): trial 0, objective .* \(from an earlier run; this run's best: none completed\)/);
  });

  it('Ctrl-C prints the exact command that resumes the study, which does', async () => {
    const config = join(dir, 'long.yaml');
    const write = (maxSteps: number) => writeFile(config, [
      'data: {train: ' + join(dir, 'train.tsv') + ', eval: ' + join(dir, 'train.tsv') + '}',
      'model: {hidden_size: 8, num_layers: 1, num_heads: 2, intermediate_size: 8}',
      `training_arguments: {max_steps: ${maxSteps}, per_device_train_batch_size: 8, logging_steps: 1000, eval_strategy: 'no'}`,
      'sweep: {method: random, metric: {name: eval_loss, goal: minimize}, parameters: {learning_rate: {distribution: log_uniform_values, min: 0.0001, max: 0.01}}}',
      'slots: 2',
    ].join('\n'));
    await write(1_000_000);
    const storage = `sqlite:${join(dir, 'long.db')}`;
    let stdout = '';
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      stdout += String(chunk);
      if (/^sweep: /m.test(String(chunk))) void interruptOnceRunning();
      return true;
    });
    // Ctrl-C once both trials of the group are RUNNING (polled through a second connection to the study).
    const interruptOnceRunning = async () => {
      const { loadStudy } = await import('../src/search/study.js');
      for (let i = 0; i < 300; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        try {
          const study = loadStudy({ studyName: 'long', storage });
          const running = study.trials.filter((t) => t.state === 'RUNNING').length;
          study.storage.close();
          if (running === 2) break;
        } catch {
          // not created yet
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 500)); // into the training loop
      process.emit('SIGINT', 'SIGINT');
    };
    const code = await main(['sweep', '--config', config, '--storage', storage, '--n-trials', '2']);
    vi.restoreAllMocks();
    expect(code).toBe(130);
    const command = `webtrainer sweep --config ${config} --storage ${storage} --n-trials 2 --study-name long`;
    expect(stdout).toContain(`SIGINT: stopping the running trials; resume the study with:\n  ${command}\n`);
    await write(1);
    const resumed = await run(command.split(' ').slice(1));
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/study 'long': resuming after 2 trials\n/);
    const { loadStudy } = await import('../src/search/study.js');
    expect(loadStudy({ studyName: 'long', storage }).trials.map((t) => [t.number, t.state])).toEqual([[0, 'FAIL'], [1, 'FAIL'], [2, 'COMPLETE'], [3, 'COMPLETE']]);
  }, 60_000);

  it('sweep follows the config\'s metric goal: goal maximize picks the trial with the largest value', async () => {
    const config = join(dir, 'sweep-max.yaml');
    await writeFile(config, [
      'data: {train: ' + join(dir, 'train.tsv') + ', eval: ' + join(dir, 'train.tsv') + '}',
      'model: {hidden_size: 8, num_layers: 1, num_heads: 2, intermediate_size: 8}',
      'training_arguments: {max_steps: 2, per_device_train_batch_size: 8, logging_steps: 1}',
      'sweep: {method: random, metric: {name: eval_loss, goal: maximize}, parameters: {learning_rate: {distribution: log_uniform_values, min: 0.0001, max: 0.01}}}',
      'slots: 2',
      'seed: 3',
    ].join('\n'));
    const { code, stdout } = await run(['sweep', '--config', config, '--n-trials', '2', '--json']);
    expect(code).toBe(0);
    const summary = JSON.parse(stdout.trim());
    expect(summary.best_run.objective).toBe(Math.max(...summary.trials.map((t: { value: number }) => t.value)));
  });
});
