/**
 * The package as another project consumes it (issue 11): `npm pack`, the tarball unpacked into a fresh consumer
 * project, type-checked with `strict` and without `skipLibCheck`, then run. The consumer uses the root entry (a
 * tensor op and its gradient, a Trainer, a TPE study) and `webtrainer/search` (which must not load Dawn), and
 * compiles the README's TypeScript examples, so they cannot rot. The tarball's file list must hold no test code.
 *
 * Needs a built dist/ (`npm ci` builds it). The consumer's dependencies are links to this checkout's installed
 * ones: the registry is not asked again, and better-sqlite3 is not rebuilt.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
let consumer: string;
let files: string[];

/** The README's ```ts blocks, in order, as one module (later blocks use names the earlier ones define). */
function readmeExamples(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  if (blocks.length === 0) throw new Error('README.md has no ```ts examples');
  return `${blocks.join('\n')}\nexport {};\n`;
}

const consumerProgram = `
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createDevice, tensor, matmul, mean, backward, tidy, Trainer, SequenceClassifier, defaultModelConfig, createStudy, TPESampler, type EncodedExample } from 'webtrainer';

const device = await createDevice();
// mean(a @ b) for a (1, 2), b (2, 1): d/da = b^T, d/db = a^T (hand-worked).
const a = tensor(device, [1, 2], [1, 2], { requiresGrad: true });
const b = tensor(device, [3, -4], [2, 1], { requiresGrad: true });
const loss = tidy(() => mean(matmul(a, b)));
backward(loss);
assert.equal(await loss.item(), 1 * 3 + 2 * -4);
assert.deepEqual(Array.from(await a.grad!.toArray()), [3, -4]);
assert.deepEqual(Array.from(await b.grad!.toArray()), [1, 2]);

const study = createStudy({ sampler: new TPESampler({ seed: 1 }), direction: 'minimize' });
await study.optimize((trial) => (trial.suggestFloat('x', -10, 10) - 2) ** 2, { nTrials: 30 });
assert.ok(study.bestValue < 1, 'TPE finds (x - 2)^2 near 0 in 30 trials: ' + study.bestValue);

const examples: EncodedExample[] = Array.from({ length: 8 }, (_, i) => ({ inputIds: [1, 2 + (i % 3)], attentionMask: [1, 1], label: i % 2 }));
const trainer = new Trainer({
  device,
  modelInit: (d, seeds) => new SequenceClassifier(d, { ...defaultModelConfig, vocabSize: 16, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 8 }, seeds),
  args: { learning_rate: 1e-3, per_device_train_batch_size: 4, max_steps: 2, eval_strategy: 'no', save_strategy: 'no' },
  trainDataset: examples,
});
// @ts-expect-error a misspelt training argument does not type-check
void (() => new Trainer({ modelInit: () => { throw new Error(); }, args: { learnig_rate: 1 } }));
const output = await trainer.train();
assert.equal(output.globalStep, 2);
trainer.release();
device.destroy();
console.log('consumer: ok');
`;

const searchOnlyProgram = `
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createStudy, TPESampler } from 'webtrainer/search';

const study = createStudy({ sampler: new TPESampler({ seed: 2 }), storage: 'sqlite:' + process.argv[2] });
await study.optimize((trial) => trial.suggestInt('n', 0, 9) ** 2, { nTrials: 12 });
assert.equal(study.trials.length, 12);
// Dawn's native module is mapped into the process only when the GPU layer loads.
assert.ok(!readFileSync('/proc/self/maps', 'utf8').includes('dawn.node'), 'webtrainer/search loaded Dawn');
console.log('search-only: ok');
`;

beforeAll(() => {
  if (!existsSync(join(root, 'dist/src/index.d.ts'))) throw new Error('dist/ is missing: run `npm run build` first');
  consumer = mkdtempSync(join(tmpdir(), 'webtrainer-consumer-'));
  const packed = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', consumer], { cwd: root, encoding: 'utf8' }));
  files = (packed[0].files as { path: string }[]).map((f) => f.path);
  const installed = join(consumer, 'node_modules/webtrainer');
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', join(consumer, packed[0].filename), '-C', installed, '--strip-components=1']);
  for (const dependency of [...Object.keys(manifest.dependencies), '@types/node']) {
    const link = join(consumer, 'node_modules', dependency);
    mkdirSync(join(link, '..'), { recursive: true });
    symlinkSync(join(root, 'node_modules', dependency), link, 'dir');
  }
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false, types: ['node'], outDir: 'out' },
    include: ['*.ts'],
  }));
  writeFileSync(join(consumer, 'consumer.ts'), consumerProgram);
  writeFileSync(join(consumer, 'search-only.ts'), searchOnlyProgram);
  writeFileSync(join(consumer, 'readme-examples.ts'), readmeExamples());
}, 120_000);

describe('the packed package in a consumer project', () => {
  it('ships what the product runs and no test code', () => {
    for (const needed of ['bin/webtrainer.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/search/index.js', 'dist/bench/cli.js', 'dist/src/cli/main.js']) {
      expect(files).toContain(needed);
    }
    const testCode = files.filter((f) => /(^|\/)test\/|\.test\.|\.bench\.|vitest/.test(f) || readFileSync(join(consumer, 'node_modules/webtrainer', f), 'utf8').includes("from 'vitest'"));
    expect(testCode).toEqual([]);
  });

  it('type-checks strictly without skipLibCheck, README examples included', { timeout: 120_000 }, () => {
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    try {
      execFileSync(process.execPath, [tsc, '-p', consumer], { encoding: 'utf8' });
    } catch (error) {
      throw new Error(`tsc failed in the consumer project:\n${(error as { stdout?: string }).stdout}`);
    }
  });

  it('runs: a tensor op with its gradient, a TPE study, a Trainer; and the search entry alone', { timeout: 120_000 }, () => {
    const run = (script: string, ...args: string[]) => execFileSync(process.execPath, [join(consumer, 'out', script), ...args], { cwd: consumer, encoding: 'utf8' });
    expect(run('consumer.js')).toContain('consumer: ok');
    expect(run('search-only.js', join(consumer, 'study.db'))).toContain('search-only: ok');
  });
});
