/**
 * What a user sees in a terminal (issue 16, first part): `train` redraws its progress bar in place on a TTY (a
 * pseudo-terminal from util-linux `script`), prints plain lines when stderr is not a terminal, and neither shows
 * Dawn's start-up warnings. Runs bin/webtrainer.js from dist/, as a user does.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withoutDawnNoise } from '../../src/cli/supervisor.js';

const root = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'webtrainer-terminal-'));
writeFileSync(join(dir, 'train.tsv'), ['sentence\tlabel', ...Array.from({ length: 24 }, (_, i) => `film number ${i}\t${i % 2}`)].join('\n') + '\n');
const command = ['bin/webtrainer.js', 'train', '--train', join(dir, 'train.tsv'), '--max-steps', '40', '--eval-strategy', 'no', '--output-dir', join(dir, 'out'),
  '--model-hidden-size', '8', '--model-num-layers', '1', '--model-num-heads', '2', '--model-intermediate-size', '8'];
const DAWN_WARNING = /artificially reduced/;

describe('train in a terminal and in a pipe', () => {
  it('on a TTY: the progress bar redraws in place, and no Dawn warnings', { timeout: 120_000 }, () => {
    const quoted = [process.execPath, ...command].map((a) => `'${a}'`).join(' ');
    const output = execFileSync('script', ['-qefc', quoted, '/dev/null'], { cwd: root, encoding: 'utf8' });
    expect(output).toMatch(/\r[^\n]*█/); // a redraw: carriage return, then the bar
    expect(output).toMatch(/█ 40\/40 epoch/); // the last state is drawn before the line ends
    expect(output).not.toMatch(DAWN_WARNING);
  });

  it('in a pipe: plain lines, no bar, no Dawn warnings', { timeout: 120_000 }, () => {
    const run = spawnSync(process.execPath, command, { cwd: root, encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout + run.stderr).not.toMatch(/[█░\r]/);
    expect(run.stdout).toMatch(/^training on .*train\.tsv \(24 examples, 2 labels\)$/m);
    expect(run.stderr).not.toMatch(DAWN_WARNING);
  });

  it('sweep on a TTY: live status and running trials redrawn in place, a clean table on the final screen', { timeout: 120_000 }, () => {
    writeFileSync(join(dir, 'sweep.yaml'), [
      `data: {train: ${join(dir, 'train.tsv')}, eval: ${join(dir, 'train.tsv')}}`,
      'model: {hidden_size: 8, num_layers: 1, num_heads: 2, intermediate_size: 8}',
      'training_arguments: {max_steps: 60, per_device_train_batch_size: 8, logging_steps: 10, eval_strategy: steps, eval_steps: 20}',
      'sweep: {method: random, metric: {name: eval_loss, goal: minimize}, parameters: {learning_rate: {distribution: log_uniform_values, min: 0.0001, max: 0.01}}}',
      'slots: 2',
    ].join('\n'));
    const args = ['bin/webtrainer.js', 'sweep', '--config', join(dir, 'sweep.yaml'), '--n-trials', '4'];
    const output = execFileSync('script', ['-qefc', [process.execPath, ...args].map((a) => `'${a}'`).join(' '), '/dev/null'], { cwd: root, encoding: 'utf8' });
    expect(output).toMatch(/sweep: 2\/4 done \(2 complete, 0 pruned, 0 failed\), 2 running, best \d\.\d{4}, (\d+m)?\d+s elapsed, ETA (\d+m)?\d+s/);
    expect(output).toMatch(/ {2}trial [23]: step \d+\/60/);
    // A running trial's line shows its last logged loss and its latest evaluation of the objective's metric.
    expect(output).toMatch(/ {2}trial [23]: step \d+\/60, loss \d+\.\d{4}, eval_loss \d+\.\d{4}/);
    const screen = terminalScreen(output);
    // What stays on screen: the table and the summary, no progress line left behind.
    expect(screen.filter((line) => /sweep: \d\/4 done|trial \d: step/.test(line))).toEqual([]);
    expect(screen.filter((line) => /^ {4}\d {2}COMPLETE/.test(line))).toHaveLength(4);
    expect(screen.some((line) => line.startsWith("best run in study 'sweep' (4 trials)"))).toBe(true);
  });

  it('drops exactly Dawn\'s two start-up lines', () => {
    const dawn = 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n' +
      'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n';
    expect(withoutDawnNoise(`a\n${dawn}b\nWarning: something else\n`)).toBe('a\nb\nWarning: something else\n');
  });
});

/** The lines a terminal shows after `output`: \\r, \\n, ESC[nA (up) and ESC[2K (clear line), enough for our output. */
function terminalScreen(output: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  let column = 0;
  for (const token of output.match(/\x1b\[\d*[AK]|\r|\n|[^\x1b\r\n]+/g) ?? []) {
    if (token === '\r') column = 0;
    else if (token === '\n') {
      row++;
      column = 0;
      if (row === lines.length) lines.push('');
    } else if (token.endsWith('A')) row = Math.max(0, row - Number(token.slice(2, -1) || 1));
    else if (token === '\x1b[2K') lines[row] = '';
    else {
      lines[row] = lines[row].slice(0, column).padEnd(column) + token + lines[row].slice(column + token.length);
      column += token.length;
    }
  }
  return lines.filter((line) => line.trim() !== '');
}
