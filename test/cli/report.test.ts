/**
 * `webtrainer report` end to end: small SQLite studies (COMPLETE and PRUNED trials with intermediate values; no GPU),
 * the report written through the CLI's main(), then opened in a real browser — Debian's chromium, driven by
 * playwright-core — with every http(s) request blocked: no console error, no network request, every plot rendered
 * (an svg or canvas in each plot container), and the trial table sorts on a header click. Screenshots go to the
 * test's temp directory (printed). Chromium comes from `apt-get install -y chromium` (scripts/ensure-chromium.sh,
 * run by .ci/run); without it these tests fail, naming that command.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CategoricalDistribution } from '../../src/search/distributions.js';
import { RandomSampler } from '../../src/search/samplers/random.js';
import { createStudy } from '../../src/search/study.js';
import { launchChromium, needBrowser } from '../helpers/chromium.js';
import { runCli } from '../helpers/cli.js';

let dir: string;
let browser: Browser | null = null;

/** A single-objective study: 8 trials reporting 5 steps each, every third one pruned after step 2, one FAIL. */
function singleObjectiveStudy(storage: string): void {
  const study = createStudy({ storage, studyName: 'tiny-sweep', direction: 'minimize', sampler: new RandomSampler({ seed: 3 }) });
  for (let i = 0; i < 8; i++) {
    const t = study.ask();
    const lr = t.suggestFloat('learning_rate', 1e-5, 1e-2, { log: true });
    const layers = t.suggestInt('num_layers', 1, 4);
    const act = t.suggest('activation', new CategoricalDistribution(['gelu', 'relu', 'tanh'])) as string;
    let loss = 1;
    for (let step = 0; step < 5; step++) {
      loss = Math.abs(Math.log10(lr) + 3.5) / 3 + 0.05 * layers + (act === 'gelu' ? 0 : 0.1) + 1 / (step + 2);
      t.report(loss, step);
      if (i % 3 === 2 && step === 2) break;
    }
    if (i === 7) study.tell(t, { state: 'FAIL' });
    else if (i % 3 === 2) study.tell(t, { state: 'PRUNED' });
    else study.tell(t, loss);
  }
}

/** A two-objective study (accuracy up, latency down) for the Pareto front. */
function multiObjectiveStudy(storage: string): void {
  const study = createStudy({ storage, studyName: 'two-objectives', directions: ['maximize', 'minimize'], sampler: new RandomSampler({ seed: 5 }) });
  for (let i = 0; i < 10; i++) {
    const t = study.ask();
    const width = t.suggestInt('width', 8, 256, { log: true });
    const dropout = t.suggestFloat('dropout', 0, 0.5);
    study.tell(t, [0.5 + 0.4 * Math.log2(width / 8) / 5 - dropout * 0.1, width * (1 + dropout)]);
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'webtrainer-report-'));
  singleObjectiveStudy(`sqlite:${join(dir, 'study.db')}`);
  multiObjectiveStudy(`sqlite:${join(dir, 'study.db')}`);
  browser = await launchChromium(); // null without one: each browser test then fails with the install command
});

afterAll(async () => {
  await browser?.close();
});


interface Opened {
  page: Page;
  consoleErrors: string[];
  external: string[];
}

/** Opens a report file with every http(s) request recorded and aborted. */
async function open(file: string): Promise<Opened> {
  const page = await needBrowser(browser).newPage({ viewport: { width: 1400, height: 1000 } });
  const consoleErrors: string[] = [];
  const external: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(msg.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(`uncaught: ${error.message}`));
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (/^https?:/i.test(url)) {
      external.push(url);
      return route.abort();
    }
    return route.continue();
  });
  page.on('request', (request) => {
    if (!request.url().startsWith('file:') && !request.url().startsWith('data:') && !request.url().startsWith('blob:')) external.push(request.url());
  });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  // Page code as strings: the tests typecheck without the DOM library.
  await page.waitForFunction("[...document.querySelectorAll('.plot')].every((p) => p.querySelector('svg, canvas'))", null, { timeout: 30_000 }).catch(() => undefined);
  return { page, consoleErrors, external };
}

/** Ids of the plot containers with neither svg nor canvas inside. */
async function emptyPlots(page: Page): Promise<{ all: string[]; empty: string[] }> {
  return page.evaluate<{ all: string[]; empty: string[] }>(`(() => {
    const plots = [...document.querySelectorAll('.plot')];
    return { all: plots.map((p) => p.id), empty: plots.filter((p) => !p.querySelector('svg, canvas')).map((p) => p.id) };
  })()`);
}

async function column(page: Page, index: number): Promise<string[]> {
  return page.$$eval(`#trials tbody tr td:nth-child(${index + 1})`, (tds) => tds.map((td) => td.getAttribute('data-v') ?? ''));
}

describe('webtrainer report', () => {
  it('writes a self-contained report of a single-objective study that renders offline and sorts', async () => {
    const out = join(dir, 'report.html');
    const t0 = performance.now();
    const { code, stdout, stderr } = await runCli(['report', '--storage', `sqlite:${join(dir, 'study.db')}`, '--study-name', 'tiny-sweep', '--out', out]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/study "tiny-sweep" \(8 trials\) written to/);
    const html = readFileSync(out, 'utf8');
    expect(html).not.toMatch(/<script[^>]+src=/i); // the library is inlined, not linked
    expect(html).not.toMatch(/<link[^>]+href=/i);
    console.log(`report: ${(statSync(out).size / 1e6).toFixed(1)} MB written in ${(performance.now() - t0).toFixed(0)} ms`);

    const { page, consoleErrors, external } = await open(out);
    const plots = await emptyPlots(page);
    expect(plots.all).toEqual(expect.arrayContaining(['plot-history-0', 'plot-importance-0', 'plot-parallel', 'plot-slice-0', 'plot-slice-1', 'plot-slice-2', 'plot-intermediate']));
    expect(plots.all).not.toContain('plot-pareto'); // one objective: no Pareto front
    expect(plots.all).not.toContain('plot-importance-1');
    expect(plots.empty).toEqual([]);
    // The parallel coordinates are drawn; the importance has one bar per parameter; pruned trials have their own lines.
    expect(await page.$$eval('#plot-importance-0 .bars .point', (b) => b.length)).toBe(3);
    expect(await page.$$eval('#plot-intermediate .legendtext', (l) => l.map((x) => x.textContent))).toEqual(expect.arrayContaining(['trial 2 (PRUNED)', 'trial 5 (PRUNED)', 'trial 0 (COMPLETE)']));

    // Sorting: number ascending at first; click "value" → ascending values (the FAIL trial's empty one last); again →
    // descending. PRUNED trials keep their last intermediate value, as in Optuna.
    expect(await column(page, 0)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    await page.click('#trials th:nth-child(3)');
    const asc = (await column(page, 2)).filter((v) => v !== '').map(Number);
    expect(asc.length).toBe(7);
    expect(asc).toEqual([...asc].sort((a, b) => a - b));
    expect((await column(page, 2)).at(-1)).toBe('');
    expect((await column(page, 0)).at(-1)).toBe('7');
    await page.click('#trials th:nth-child(3)');
    const desc = (await column(page, 2)).filter((v) => v !== '').map(Number);
    expect(desc).toEqual([...asc].reverse());
    await page.click('#trials th:nth-child(2)'); // state, as text
    const states = await column(page, 1);
    expect(states).toEqual([...states].sort());
    await page.screenshot({ path: join(dir, 'report.png'), fullPage: true });
    console.log(`report screenshot: ${join(dir, 'report.png')}`);
    expect(consoleErrors).toEqual([]);
    expect(external).toEqual([]);
    await page.close();
  });

  it('shows the Pareto front and the importance to each objective of a two-objective study', async () => {
    const out = join(dir, 'pareto.html');
    const { code, stderr } = await runCli(['report', '--storage', `sqlite:${join(dir, 'study.db')}`, '--study-name', 'two-objectives', '--out', out]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const { page, consoleErrors, external } = await open(out);
    const plots = await emptyPlots(page);
    expect(plots.all).toEqual(expect.arrayContaining(['plot-history-0', 'plot-history-1', 'plot-pareto', 'plot-parallel', 'plot-importance-0', 'plot-importance-1', 'plot-intermediate']));
    expect(plots.empty).toEqual([]);
    // One importance plot per objective, each with a bar per parameter.
    expect(await page.$$eval('#plot-importance-0 .bars .point', (b) => b.length)).toBe(2);
    expect(await page.$$eval('#plot-importance-1 .bars .point', (b) => b.length)).toBe(2);
    expect(await page.$$eval('#plot-pareto .legendtext', (l) => l.map((x) => x.textContent))).toEqual(['dominated', 'Pareto front']);
    await page.screenshot({ path: join(dir, 'pareto.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
    expect(external).toEqual([]);
    await page.close();
  });

  it('names the study and the storage when the study is missing (exit 1), and wants --storage and --out (exit 2)', async () => {
    const db = `sqlite:${join(dir, 'study.db')}`;
    const missing = await runCli(['report', '--storage', db, '--study-name', 'nope', '--out', join(dir, 'x.html')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`webtrainer: no study named "nope" in storage ${db}; it holds "tiny-sweep", "two-objectives"\n`);
    expect(existsSync(join(dir, 'x.html'))).toBe(false);

    const several = await runCli(['report', '--storage', db, '--out', join(dir, 'x.html')]);
    expect(several.code).toBe(1);
    expect(several.stderr).toMatch(/holds 2 studies; choose one with --study-name/);

    const noFile = await runCli(['report', '--storage', `sqlite:${join(dir, 'absent.db')}`, '--study-name', 's', '--out', join(dir, 'x.html')]);
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toMatch(/no such file .*absent\.db \(looking for study "s"\)/);
    expect(existsSync(join(dir, 'absent.db'))).toBe(false);

    expect((await runCli(['report', '--out', join(dir, 'x.html')])).code).toBe(2);
    expect((await runCli(['report', '--storage', db])).code).toBe(2);
    expect((await runCli(['report', '--storage', 'mysql://x', '--out', 'x.html'])).code).toBe(2);
    expect((await runCli(['report', '--storage', db, '--out', 'x.html', '--bogus', '1'])).code).toBe(2);
  });
});
