/**
 * `webtrainer launch` with the real command (bin/webtrainer.js, from dist/): `train --json` and `sweep --json` on 2
 * ranks each print exactly one JSON document on stdout, rank 0's, with "world_size": 2; only rank 0 writes the model
 * and the study; the other rank's lines reach stderr prefixed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadStudy } from '../../src/search/study.js';
import { ensureBuilt, root } from './processes.js';

const dir = mkdtempSync(join(tmpdir(), 'webtrainer-launch-cli-'));
const train = join(dir, 'train.tsv');
const tiny = ['--model-hidden-size', '8', '--model-num-layers', '1', '--model-num-heads', '2', '--model-intermediate-size', '8'];

function launch(args: string[]) {
  const run = spawnSync(process.execPath, ['bin/webtrainer.js', 'launch', '--nproc', '2', '--', ...args], { cwd: root, encoding: 'utf8', timeout: 240_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

beforeAll(() => {
  ensureBuilt();
  const rows = ['sentence\tlabel', ...Array.from({ length: 32 }, (_, i) => `${i % 2 ? 'a fine good film' : 'a dull bad film'} number ${i}\t${i % 2 ? 'pos' : 'neg'}`)];
  writeFileSync(train, rows.join('\n') + '\n');
}, 300_000);

describe('launch --nproc 2', () => {
  it('train --json: one summary from rank 0 with world_size, the model saved once', { timeout: 300_000 }, () => {
    const out = join(dir, 'model');
    const run = launch(['train', '--train', train, '--eval', train, '--max-steps', '4', '--per-device-train-batch-size', '4', '--output-dir', out, '--json', ...tiny]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const metrics = JSON.parse(lines[0]);
    expect(metrics.world_size).toBe(2);
    expect(Number.isFinite(metrics.eval_loss)).toBe(true);
    expect(existsSync(join(out, 'model.safetensors'))).toBe(true);
  });

  it('sweep --json: one summary from rank 0 with world_size; the study is rank 0\'s', { timeout: 300_000 }, () => {
    const config = join(dir, 'sweep.yaml');
    writeFileSync(config, [
      `data: {train: ${train}, eval: ${train}}`,
      'model: {hidden_size: 8, num_layers: 1, num_heads: 2, intermediate_size: 8}',
      'training_arguments: {max_steps: 4, per_device_train_batch_size: 4, logging_steps: 2, eval_strategy: steps, eval_steps: 2}',
      'sweep: {method: random, metric: {name: eval_loss, goal: minimize}, parameters: {learning_rate: {distribution: log_uniform_values, min: 0.0001, max: 0.01}}}',
      'slots: 2',
      'seed: 1',
    ].join('\n'));
    const storage = `sqlite:${join(dir, 'study.db')}`;
    const run = launch(['sweep', '--config', config, '--storage', storage, '--study-name', 's', '--n-trials', '3', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const summary = JSON.parse(lines[0]);
    expect(summary.world_size).toBe(2);
    expect(summary.trials).toHaveLength(3);
    expect(loadStudy({ studyName: 's', storage }).trials.map((t) => t.state)).toEqual(['COMPLETE', 'COMPLETE', 'COMPLETE']);
  });
});
