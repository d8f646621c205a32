/** The command line, run in-process: doctor, train and sweep with --json, and usage errors that name the problem. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { readSafetensors } from '../src/train/checkpoint/safetensors.js';

let dir: string;
const tiny = ['--model-hidden-size', '8', '--model-num-layers', '1', '--model-num-heads', '2', '--model-intermediate-size', '8'];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'webtrainer-cli-'));
  const rows = ['sentence\tlabel', ...Array.from({ length: 24 }, (_, i) => `${i % 2 ? 'a fine good film' : 'a dull bad film'} number ${i}\t${i % 2 ? 'pos' : 'neg'}`)];
  await writeFile(join(dir, 'train.tsv'), rows.join('\n') + '\n');
  await writeFile(join(dir, 'bad.tsv'), 'sentence\tlabel\nfine\t1\nno label here\n');
});

afterEach(() => vi.restoreAllMocks());

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  const code = await main(args);
  vi.restoreAllMocks();
  return { code, stdout, stderr };
}

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
    expect(badModel.stderr).toMatch(/unknown model setting 'hidenSize'/);
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
        'trainingArguments: {max_steps: 2, per_device_train_batch_size: 8, logging_steps: 1}',
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
    const second = await run(['sweep', '--config', config, '--storage', storage, '--study-name', 's', '--n-trials', '2', '--json']);
    expect(JSON.parse(second.stdout.trim()).trials.map((t: { number: number }) => t.number)).toEqual([2, 3]);
  });

  it('sweep follows the config\'s metric goal: goal maximize picks the trial with the largest value', async () => {
    const config = join(dir, 'sweep-max.yaml');
    await writeFile(config, [
      'data: {train: ' + join(dir, 'train.tsv') + ', eval: ' + join(dir, 'train.tsv') + '}',
      'model: {hidden_size: 8, num_layers: 1, num_heads: 2, intermediate_size: 8}',
      'trainingArguments: {max_steps: 2, per_device_train_batch_size: 8, logging_steps: 1}',
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
