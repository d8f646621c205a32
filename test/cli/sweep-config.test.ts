/**
 * Sweep configs are checked before the sweep starts, in one casing (snake_case, as HF and W&B users write them),
 * and `train --model-*` and a config's `model:` block are one parser: an unknown key names itself and the file, a
 * bad number fails at once, n_trials is reported by its config key, W&B's inv_log_uniform refuses min > max, and
 * the old camelCase keys still work with a one-line deprecation warning naming the new key. None of these runs
 * a trial, so none needs the GPU.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { resumeCommand } from '../../src/cli/sweep.js';
import { defaultStudyName, loadSweepConfig } from '../../src/cli/sweep-config.js';
import { parseModelSettings } from '../../src/train/model-settings.js';
import { runCli } from '../helpers/cli.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'webtrainer-sweep-config-'));
  const rows = ['sentence\tlabel', ...Array.from({ length: 8 }, (_, i) => `film ${i}\t${i % 2}`)];
  await writeFile(join(dir, 'train.tsv'), rows.join('\n') + '\n');
});

afterEach(() => vi.restoreAllMocks());

async function config(name: string, lines: string[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, lines.join('\n') + '\n');
  return path;
}

const run = runCli;

const sweep = 'sweep: {method: random, parameters: {learning_rate: {min: 0.0001, max: 0.01}}}';

describe('sweep config validation, before the sweep starts', () => {
  it('an unknown key under data: is an error naming the key and the file', async () => {
    const path = await config('typo.yaml', ['data: {train: train.tsv, eval: train.tsv, labelColum: label}', sweep]);
    await expect(loadSweepConfig(path)).rejects.toThrow(`${path}: data.labelColum: unknown key (known: data.train, data.eval, data.text_column, data.label_column)`);
    const cli = await run(['sweep', '--config', path]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toBe(`webtrainer: ${path}: data.labelColum: unknown key (known: data.train, data.eval, data.text_column, data.label_column)\n`);
    expect(cli.stdout).not.toMatch(/^sweep:/m); // no trial ran
  });

  it('a non-numeric model.hidden_size, or an unknown model setting, fails before the sweep, naming file and key', async () => {
    const big = await config('big.yaml', ['model: {hidden_size: big}', sweep]);
    const cli = await run(['sweep', '--config', big]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toBe(`webtrainer: ${big}: model.hidden_size: expected a number, got 'big'\n`);
    expect(cli.stdout).toBe('');
    const half = await config('half.yaml', ['model: {num_layers: 1.5}', sweep]);
    await expect(loadSweepConfig(half)).rejects.toThrow(`${half}: model.num_layers: expected a positive integer, got 1.5`);
    const typo = await config('hiden.yaml', ['model: {hiden_size: 8}', sweep]);
    await expect(loadSweepConfig(typo)).rejects.toThrow(`${typo}: model.hiden_size: unknown model setting 'hiden_size' (known: vocab_size, hidden_size, num_layers, `);
    // Settings valid one by one but not together: still before any trial, naming the file.
    const heads = await config('heads.yaml', ['model: {hidden_size: 8, num_heads: 3}', `data: {train: ${join(dir, 'train.tsv')}, eval: ${join(dir, 'train.tsv')}}`, sweep]);
    const together = await run(['sweep', '--config', heads]);
    expect(together.code).toBe(1);
    expect(together.stderr).toBe(`webtrainer: ${heads}: model config: hiddenSize (8) must be a multiple of numHeads (3)\n`);
  });

  it('a bad n_trials, slots or seed is reported by its config key', async () => {
    const ten = await config('ten.yaml', ['n_trials: ten', sweep]);
    const cli = await run(['sweep', '--config', ten]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toBe(`webtrainer: ${ten}: n_trials must be a positive integer, got "ten"\n`); // before: "--n-trials … got undefined"
    await expect(loadSweepConfig(await config('zero.yaml', ['n_trials: 0', sweep]))).rejects.toThrow(/zero\.yaml: n_trials must be a positive integer, got 0$/);
    await expect(loadSweepConfig(await config('slots.yaml', ['slots: 2.5', sweep]))).rejects.toThrow(/slots\.yaml: slots must be a positive integer or 'auto', got 2\.5$/);
    await expect(loadSweepConfig(await config('seed.yaml', ['seed: -1', sweep]))).rejects.toThrow(/seed\.yaml: seed must be a non-negative integer, got -1$/);
  });

  it("W&B's inv_log_uniform with min > max is refused when the config is read", async () => {
    const path = await config('inv.yaml', ['sweep: {method: random, parameters: {weight_decay: {distribution: inv_log_uniform, min: 3, max: 1}}}']);
    await expect(loadSweepConfig(path)).rejects.toThrow(`${path}: weight_decay: min (3) must be less than max (1)`);
  });

  it('a bad training argument or search space names the file', async () => {
    const lr = await config('lr.yaml', ['training_arguments: {learning_rat: 0.1}', sweep]);
    await expect(loadSweepConfig(lr)).rejects.toThrow(`${lr}: training_arguments: unknown argument 'learning_rat'`);
    const space = await config('space.yaml', ['search: {backend: optuna, space: {learning_rate: {type: floaty, low: 0.1, high: 1}}}']);
    await expect(loadSweepConfig(space)).rejects.toThrow(`${space}: search.space.learning_rate: type "floaty" must be float, int or categorical`);
    const backend = await config('backend.yaml', ['search: {backend: hyperopt, space: {}}']);
    await expect(loadSweepConfig(backend)).rejects.toThrow(`${backend}: search.backend must be ray or optuna, got "hyperopt"`);
  });
});

describe('one casing: snake_case, the old camelCase keys deprecated', () => {
  it('snake_case keys load without a warning', async () => {
    const warnings: string[] = [];
    const path = await config('snake.yaml', [
      'data: {train: a.tsv, eval: b.tsv, text_column: sentence, label_column: label}',
      'model: {hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, attention_probs_dropout_prob: 0.2}',
      'training_arguments: {max_steps: 5}',
      'n_trials: 3',
      sweep,
    ]);
    const loaded = await loadSweepConfig(path, (m) => warnings.push(m));
    expect(warnings).toEqual([]);
    expect(loaded.data).toEqual({ train: 'a.tsv', eval: 'b.tsv', text_column: 'sentence', label_column: 'label' });
    // HF's BERT names and this project's both map to the same fields.
    expect(loaded.model).toEqual({ hiddenSize: 32, numLayers: 1, numHeads: 2, attentionDropoutProb: 0.2 });
    expect(loaded.training_arguments).toEqual({ max_steps: 5 });
    expect(loaded.n_trials).toBe(3);
  });

  it('camelCase keys keep working, each with a one-line warning naming the new key', async () => {
    const warnings: string[] = [];
    const path = await config('camel.yaml', [
      'data: {train: a.tsv, eval: b.tsv, textColumn: sentence, labelColumn: label}',
      'model: {hiddenSize: 32}',
      'trainingArguments: {max_steps: 5}',
      'nTrials: 3',
      sweep,
    ]);
    const loaded = await loadSweepConfig(path, (m) => warnings.push(m));
    expect(loaded).toMatchObject({
      data: { text_column: 'sentence', label_column: 'label' }, model: { hiddenSize: 32 }, training_arguments: { max_steps: 5 }, n_trials: 3,
    });
    expect(warnings.sort()).toEqual([
      `${path}: 'data.labelColumn' is deprecated; write 'data.label_column'`,
      `${path}: 'data.textColumn' is deprecated; write 'data.text_column'`,
      `${path}: 'nTrials' is deprecated; write 'n_trials'`,
      `${path}: 'trainingArguments' is deprecated; write 'training_arguments'`,
      `${path}: model.hiddenSize: 'hiddenSize' is deprecated; write 'hidden_size'`,
    ]);
    const both = await config('both.yaml', ['n_trials: 3', 'nTrials: 4', sweep]);
    await expect(loadSweepConfig(both, () => {})).rejects.toThrow(`${both}: give either 'n_trials' or the deprecated 'nTrials', not both`);
  });

  it('train --model-* and the config model: block are one parser: same keys, same checks', async () => {
    const fromCli = parseModelSettings({ 'hidden-size': '32', 'num-hidden-layers': '1' }, { label: (k) => `--model-${k}` });
    const fromConfig = parseModelSettings({ hidden_size: 32, num_hidden_layers: 1 }, { label: (k) => `model.${k}` });
    expect(fromCli).toEqual({ hiddenSize: 32, numLayers: 1 });
    expect(fromConfig).toEqual(fromCli);
    expect(() => parseModelSettings({ 'hidden-size': 'big' }, { label: (k) => `--model-${k}` })).toThrow("--model-hidden-size: expected a number, got 'big'");
    expect(() => parseModelSettings({ hidden_dropout_prob: 1 }, { label: (k) => `model.${k}` })).toThrow('model.hidden_dropout_prob: expected a number in [0, 1), got 1');
    const cli = await run(['train', '--model-hiden-size', '8']);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/^webtrainer: --model-hiden-size: unknown model setting 'hiden_size' \(known: vocab_size, hidden_size, /);
  });
});

describe('study names and the resume command', () => {
  it('a study is named after its config file, or webtrainer-default', () => {
    expect(defaultStudyName('configs/sweep.yaml')).toBe('sweep');
    expect(defaultStudyName('my.sweep.json')).toBe('my.sweep');
    expect(defaultStudyName(undefined)).toBe('webtrainer-default');
  });

  it('the resume command spells out --storage and --study-name, quoted for a shell where needed', () => {
    const values = new Map([['config', 'my sweep.yaml'], ['storage', 'sqlite:study.db'], ['n-trials', '8']]);
    expect(resumeCommand(values, new Set(['json']), 'my sweep')).toBe("webtrainer sweep --config 'my sweep.yaml' --storage sqlite:study.db --n-trials 8 --study-name 'my sweep' --json");
    expect(resumeCommand(new Map([['storage', "sqlite:it's.db"]]), new Set(), 'webtrainer-default')).toBe("webtrainer sweep --storage 'sqlite:it'\\''s.db' --study-name webtrainer-default");
  });
});

describe("README's sweep config", () => {
  it('loads as written (so the example cannot rot)', async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(readme)![1];
    const warnings: string[] = [];
    const loaded = await loadSweepConfig(await config('readme.yaml', [yaml]), (m) => warnings.push(m));
    expect(warnings).toEqual([]);
    expect(loaded).toMatchObject({ model: { hiddenSize: 64, numLayers: 2 }, slots: 4, n_trials: 16 });
  });
});
