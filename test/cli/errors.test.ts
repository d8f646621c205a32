/**
 * The command line's answers to bad input, run in-process through main(): exit codes (0 ok, 1 failure, 2 usage),
 * `webtrainer: <message>` without a stack unless --debug, an output directory checked before training, a
 * diverging run that saves nothing, and data files whose rows or bytes are wrong. Signals are in signals.test.ts.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { handleInterrupts, InterruptedError } from '../../src/cli/interrupt.js';
import { runCli } from '../helpers/cli.js';
import { runBench } from '../../bench/cli.js';
import { UsageError } from '../../src/cli/args.js';

let dir: string;
const tiny = ['--model-hidden-size', '8', '--model-num-layers', '1', '--model-num-heads', '2', '--model-intermediate-size', '8'];
const STACK = /\n\s+at /;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'webtrainer-cli-errors-'));
  const rows = ['sentence\tlabel', ...Array.from({ length: 24 }, (_, i) => `${i % 2 ? 'a fine good film' : 'a dull bad film'} number ${i}\t${i % 2}`)];
  await writeFile(join(dir, 'train.tsv'), rows.join('\n') + '\n');
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

const run = runCli;

/** `train` on the 24-row file with a tiny model, unless the arguments name another --train. */
const train = (...args: string[]) =>
  run(['train', ...(args.includes('--train') ? [] : ['--train', join(dir, 'train.tsv')]), '--per-device-train-batch-size', '8', ...tiny, ...args]);

describe('output directory', () => {
  it('one that cannot be created fails at once, before training, naming it (it used to hang forever)', async () => {
    const { code, stdout, stderr } = await train('--max-steps', '1', '--output-dir', '/proc/x');
    expect(code).toBe(1);
    expect(stderr).toBe("webtrainer: --output-dir: cannot create directory '/proc/x': ENOENT: no such file or directory\n");
    expect(stdout).not.toMatch(/training on/);
  }, 20_000);

  it('a file in the way, or a directory that takes no files, is named too', async () => {
    const file = join(dir, 'train.tsv');
    const onFile = await train('--max-steps', '1', '--output-dir', file);
    expect(onFile.code).toBe(1);
    expect(onFile.stderr).toBe(`webtrainer: --output-dir: cannot create directory '${file}': a file of that name exists\n`);
    const proc = await train('--max-steps', '1', '--output-dir', '/proc');
    expect(proc.code).toBe(1);
    expect(proc.stderr).toBe("webtrainer: --output-dir: directory '/proc' is not writable: ENOENT: no such file or directory\n");
  });
});

describe('divergence', () => {
  it('a non-finite loss stops training with an error naming the step, exit 1, and nothing saved', async () => {
    const out = join(dir, 'diverged');
    // lr 1e30, constant, unclipped: step 1 (initial weights) has a finite loss, the ~1e30 weights after it
    // overflow float32 in step 2's forward pass, and the loss is read every step.
    const { code, stderr } = await train(
      '--learning-rate', '1e30', '--lr-scheduler-type', 'constant', '--warmup-ratio', '0', '--max-grad-norm', '0',
      '--logging-steps', '1', '--max-steps', '6', '--output-dir', out,
    );
    expect(code).toBe(1);
    expect(stderr).toMatch(/^webtrainer: training diverged at step 2: loss is (NaN|-?Infinity) \(try a smaller learning rate, or gradient clipping with max_grad_norm\); the model was not saved\n$/);
    expect(existsSync(out)).toBe(false); // created for the check, removed as it stayed empty
  });

  it('non-finite argument values are usage errors naming the argument', async () => {
    const lr = await train('--learning-rate', 'Infinity');
    expect(lr.code).toBe(2);
    expect(lr.stderr).toMatch(/^webtrainer: training arguments: learning-rate must be a finite number, got "Infinity"\n\nusage: webtrainer/);
    const eps = await train('--model-layer-norm-eps', '-Infinity');
    expect(eps.code).toBe(2);
    expect(eps.stderr).toMatch(/^webtrainer: --model-layer-norm-eps: expected a finite number, got '-Infinity'\n/);
    const heads = await run(['train', '--model-hidden-size', '8', '--model-num-heads', '3']);
    expect(heads.code).toBe(2);
    expect(heads.stderr).toMatch(/^webtrainer: model config: hiddenSize \(8\) must be a multiple of numHeads \(3\)\n/);
  });
});

describe('data files', () => {
  it('a row with too many or too few fields is an error naming the file and line', async () => {
    const extra = join(dir, 'extra.tsv');
    await writeFile(extra, 'sentence\tlabel\ngood\t1\ntext\t0\textra\n');
    const tooMany = await train('--train', extra, '--max-steps', '1');
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr).toBe(`webtrainer: ${extra}:3: expected 2 fields (sentence, label), found 3\n`);
    const short = join(dir, 'short.tsv');
    await writeFile(short, 'sentence\tlabel\ngood\t1\nno label\n');
    const tooFew = await train('--train', short, '--max-steps', '1');
    expect(tooFew.stderr).toBe(`webtrainer: ${short}:3: expected 2 fields (sentence, label), found 1\n`);
  });

  it('a directory given as a data file, vocabulary or sweep config is named', async () => {
    const { code, stderr } = await train('--train', dir, '--max-steps', '1');
    expect(code).toBe(1);
    expect(stderr).toBe(`webtrainer: ${dir}: cannot read: EISDIR: illegal operation on a directory, read\n`);
    // The same for the vocabulary and a sweep config.
    expect((await train('--vocab', dir)).stderr).toBe(`webtrainer: ${dir}: cannot read: EISDIR: illegal operation on a directory, read\n`);
    const config = await run(['sweep', '--config', dir]);
    expect(config.code).toBe(1);
    expect(config.stderr).toBe(`webtrainer: ${dir}: cannot read: EISDIR: illegal operation on a directory, read\n`);
  });

  it('invalid UTF-8 is warned about once, naming the file and first bad line, and training goes on', async () => {
    const latin1 = join(dir, 'latin1.tsv');
    const good = (await import('node:fs')).readFileSync(join(dir, 'train.tsv'));
    // Lines 4 and 6 get a Latin-1 "é" (0xE9, not UTF-8 on its own).
    const lines = good.toString().split('\n').map((line, i) => (i === 3 || i === 5 ? Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from(line)]) : Buffer.from(line)));
    await writeFile(latin1, Buffer.concat(lines.flatMap((line, i) => (i ? [Buffer.from('\n'), line] : [line]))));
    const { code, stderr } = await train('--train', latin1, '--max-steps', '1', '--output-dir', join(dir, 'latin1-out'));
    expect(code).toBe(0);
    const warnings = stderr.split('\n').filter((line) => line.includes('warning'));
    expect(warnings).toEqual([`webtrainer: warning: ${latin1}:4: invalid UTF-8 (2 lines in all); those bytes are read as U+FFFD (\ufffd)`]);
  });
});

describe('exit codes and messages', () => {
  it('an unknown option is a usage error (2) from every command', async () => {
    const fromTrain = await run(['train', '--learning-rat', '0.1']);
    expect(fromTrain.code).toBe(2);
    expect(fromTrain.stderr).toMatch(/^webtrainer: training arguments: unknown argument 'learning-rat'\n\nusage: webtrainer/);
    const model = await run(['train', '--model-hiden-size', '8']);
    expect(model.code).toBe(2);
    const fromSweep = await run(['sweep', '--trials', '3']);
    expect(fromSweep.code).toBe(2);
    expect(fromSweep.stderr).toMatch(/^webtrainer: unknown option --trials\n/);
    expect((await run(['doctor', '--bogus'])).code).toBe(2);
    expect((await run(['bench', 'nothing'])).code).toBe(2);
  });

  it('a bad number on the sweep command line is a usage error naming the option', async () => {
    const trials = await run(['sweep', '--n-trials', 'abc']);
    expect(trials.code).toBe(2);
    expect(trials.stderr).toMatch(/^webtrainer: --n-trials must be a positive integer, got 'abc'\n/);
    const slots = await run(['sweep', '--slots', '0']);
    expect(slots.code).toBe(2);
    expect(slots.stderr).toMatch(/^webtrainer: --slots must be a positive integer or 'auto', got '0'\n/);
  });

  it('a bad --rounds of bench sweep is a usage error naming the option', async () => {
    // bench runs from bin/webtrainer.js, which hands runBench to main; here it is called as main would.
    await expect(runBench(['sweep', '--rounds', '0'])).rejects.toThrow(new UsageError("--rounds must be a positive integer, got '0'"));
    await expect(runBench(['train', '--rounds', '2'])).rejects.toThrow(UsageError);
    await expect(runBench(['train', '--rounds', '2'])).rejects.toThrow(/--rounds is an option of bench sweep, not of bench train/);
  });

  it('errors print no stack trace unless --debug or WEBTRAINER_DEBUG=1', async () => {
    const plain = await train('--train', join(dir, 'missing.tsv'));
    expect(plain.code).toBe(1);
    expect(plain.stderr).toBe(`webtrainer: ${join(dir, 'missing.tsv')}: cannot read: ENOENT: no such file or directory\n`);
    const debug = await train('--train', join(dir, 'missing.tsv'), '--debug');
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(STACK);
    expect(debug.stderr).toMatch(/caused by: Error: ENOENT/);
    vi.stubEnv('WEBTRAINER_DEBUG', '1');
    expect((await train('--train', join(dir, 'missing.tsv'))).stderr).toMatch(STACK);
    vi.unstubAllEnvs();
    expect((await run(['train', '--learning-rat', '1'])).stderr).not.toMatch(STACK);
  });

  it('help documents the exit codes and --debug', async () => {
    const { code, stdout } = await run(['help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/exit codes: 0 ok, 1 failure, 2 usage .*\n\s+130 interrupted \(Ctrl-C, SIGTERM or SIGHUP/);
    expect(stdout).toMatch(/--debug/);
  });
});

describe('interrupts', () => {
  it('the first SIGINT, SIGTERM or SIGHUP asks the command to stop; a second exits 130 at once', () => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const seen: string[] = [];
      const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
      vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      const interrupt = handleInterrupts((s) => seen.push(s));
      try {
        expect(() => interrupt.check('before training')).not.toThrow();
        process.emit(signal, signal);
        expect(seen).toEqual([signal]);
        expect(interrupt.signal).toBe(signal);
        expect(() => interrupt.check('stopped at step 3 of 10')).toThrow(new InterruptedError(`interrupted by ${signal}: stopped at step 3 of 10`));
        expect(exit).not.toHaveBeenCalled();
        process.emit(signal, signal);
        expect(exit).toHaveBeenCalledWith(130);
        expect(seen).toEqual([signal]); // the stop request is made once
      } finally {
        interrupt.dispose();
        vi.restoreAllMocks();
      }
      expect(process.listenerCount(signal)).toBe(0);
    }
  });

  it('an InterruptedError from a command exits 130 with its message', async () => {
    const { reportError } = await import('../../src/cli/main.js');
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(reportError(new InterruptedError('interrupted by SIGTERM: stopped at step 3 of 10; the model was not saved'), false)).toBe(130);
    expect(process.stderr.write).toHaveBeenCalledWith('webtrainer: interrupted by SIGTERM: stopped at step 3 of 10; the model was not saved\n');
  });
});
