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

  it('drops exactly Dawn\'s two start-up lines', () => {
    const dawn = 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n' +
      'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n';
    expect(withoutDawnNoise(`a\n${dawn}b\nWarning: something else\n`)).toBe('a\nb\nWarning: something else\n');
  });
});
