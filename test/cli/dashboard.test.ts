/**
 * `webtrainer dashboard` end to end: the real command (`node bin/webtrainer.js dashboard`, from dist/, built first
 * when older than src/), serving SQLite studies that this process writes, opened in a real browser — Debian's
 * chromium, driven by playwright-core as in report.test.ts — with every request outside the dashboard's origin
 * recorded and aborted: no console error, no outside request, every plot rendered (an svg or canvas in each plot
 * container), the studies listed, the table sorts; a trial asked, reported and told by this process while the page
 * is open shows up (RUNNING with its intermediate values, then COMPLETE) without a reload, and the sort stays.
 * Also: read-only (GET and HEAD only; the SQLite file is byte for byte unchanged), bound to 127.0.0.1 unless --host
 * says otherwise, Ctrl-C / SIGTERM stop it with exit code 130, usage and storage errors, and a PostgreSQL storage
 * (test/helpers/postgres-server.ts). Screenshots go to the test's temp directory (printed).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CategoricalDistribution } from '../../src/search/distributions.js';
import { openStudySource } from '../../src/search/report/source.js';
import { RandomSampler } from '../../src/search/samplers/random.js';
import { SqliteStorage } from '../../src/search/storage/sqlite.js';
import { createStudy, loadStudy, type Study } from '../../src/search/study.js';
import { launchChromium, needBrowser } from '../helpers/chromium.js';
import { runCli } from '../helpers/cli.js';
import { ensureBuiltDist } from '../helpers/built-dist.js';
import { startPostgres } from '../helpers/postgres-server.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;
let db: string;
let browser: Browser | null = null;


/** 6 trials of 4 steps each (trial 2 pruned after step 1) over a float, an int and a categorical parameter. */
function liveSweep(storage: string): void {
  const study = createStudy({ storage, studyName: 'live-sweep', direction: 'minimize', sampler: new RandomSampler({ seed: 3 }) });
  for (let i = 0; i < 6; i++) {
    const t = study.ask();
    const lr = t.suggestFloat('learning_rate', 1e-5, 1e-2, { log: true });
    const layers = t.suggestInt('num_layers', 1, 4);
    const act = t.suggest('activation', new CategoricalDistribution(['gelu', 'relu'])) as string;
    let loss = 1;
    for (let step = 0; step < 4; step++) {
      loss = Math.abs(Math.log10(lr) + 3.5) / 3 + 0.05 * layers + (act === 'gelu' ? 0 : 0.1) + 1 / (step + 2);
      t.report(loss, step);
      if (i === 2 && step === 1) break;
    }
    study.tell(t, i === 2 ? { state: 'PRUNED' } : loss);
  }
  study.storage.close();
}

/** Objective 0 (minimised) depends on x only, objective 1 (maximised) on y only. */
function twoObjectives(storage: string): void {
  const study = createStudy({ storage, studyName: 'two-objectives', directions: ['minimize', 'maximize'], sampler: new RandomSampler({ seed: 5 }) });
  for (let i = 0; i < 60; i++) {
    const t = study.ask();
    const x = t.suggestFloat('x', -10, 10);
    const y = t.suggestFloat('y', 1e-3, 10, { log: true });
    study.tell(t, [x * x, -((Math.log10(y) - 0.5) ** 2)]);
  }
  study.storage.close();
}

beforeAll(async () => {
  ensureBuiltDist(['dist/src/cli/main.js']);
  dir = await mkdtemp(join(tmpdir(), 'webtrainer-dashboard-'));
  db = `sqlite:${join(dir, 'study.db')}`;
  liveSweep(db);
  twoObjectives(db);
  browser = await launchChromium(); // null without one: each browser test then fails with the install command
}, 300_000);

/** Commands still running: a failed test must not leave one behind. */
const running = new Set<number>();

afterAll(async () => {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await browser?.close();
});


interface Running {
  pid: number;
  /** The dashboard's URL, from the first line of stdout. */
  url: Promise<string>;
  firstLine: Promise<string>;
  output: () => { stdout: string; stderr: string };
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the command in its own process group, so that a group signal reaches it as Ctrl-C in a terminal would. */
function start(args: string[]): Running {
  const child = spawn(process.execPath, [join(root, 'bin/webtrainer.js'), 'dashboard', ...args], { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (stdout.includes('\n')) resolve(stdout.split('\n')[0]);
    });
    void exited.then(({ code }) => reject(new Error(`dashboard exited (${code}) before printing its URL:\n${stdout}\n${stderr}`)));
  });
  child.stderr.on('data', (chunk) => (stderr += chunk));
  running.add(child.pid!);
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 120_000); // never leave a stray process
  void exited.then(() => (clearTimeout(timer), running.delete(child.pid!)));
  const url = firstLine.then((line) => {
    const m = /^dashboard: (http:\/\/\S+\/) /.exec(line);
    if (!m) throw new Error(`first line is not the URL: ${line}`);
    return m[1];
  });
  url.catch(() => {});
  return { pid: child.pid!, url, firstLine, output: () => ({ stdout, stderr }), exited };
}

interface Opened {
  page: Page;
  consoleErrors: string[];
  external: string[];
}

/** Opens the dashboard with every request outside its origin recorded and aborted. */
async function open(url: string): Promise<Opened> {
  const origin = new URL(url).origin;
  const page = await needBrowser(browser).newPage({ viewport: { width: 1400, height: 1000 } });
  const consoleErrors: string[] = [];
  const external: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(msg.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(`uncaught: ${error.message}`));
  const outside = (u: string) => !u.startsWith(`${origin}/`) && !u.startsWith('data:') && !u.startsWith('blob:');
  await page.route('**/*', (route) => {
    const u = route.request().url();
    if (outside(u)) {
      external.push(u);
      return route.abort();
    }
    return route.continue();
  });
  page.on('request', (r) => {
    if (outside(r.url())) external.push(r.url());
  });
  await page.goto(url, { waitUntil: 'load' });
  return { page, consoleErrors, external };
}

// Page code as strings: the tests typecheck without the DOM library.
const PLOTS_DRAWN = "document.querySelectorAll('.plot').length > 0 && [...document.querySelectorAll('.plot')].every((p) => p.querySelector('svg, canvas'))";

async function emptyPlots(page: Page): Promise<{ all: string[]; empty: string[] }> {
  return page.evaluate<{ all: string[]; empty: string[] }>(`(() => {
    const plots = [...document.querySelectorAll('.plot')];
    return { all: plots.map((p) => p.id), empty: plots.filter((p) => !p.querySelector('svg, canvas')).map((p) => p.id) };
  })()`);
}

async function column(page: Page, index: number): Promise<string[]> {
  return page.$$eval(`#trials tbody tr td:nth-child(${index + 1})`, (tds) => tds.map((td) => td.getAttribute('data-v') ?? ''));
}

/** Resolves once the table has a row for trial `n` in `state`. */
function rowInState(page: Page, n: number, state: string): Promise<unknown> {
  return page.waitForFunction(
    `[...document.querySelectorAll('#trials tbody tr')].some((tr) => tr.cells[0].getAttribute('data-v') === '${n}' && tr.cells[1].getAttribute('data-v') === '${state}')`,
    null,
    { timeout: 20_000 },
  );
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** A plain HTTP request (fetch cannot set Host): status, headers and body. */
function httpRequest(url: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; allow?: string; etag?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, allow: res.headers.allow, etag: res.headers.etag, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('webtrainer dashboard', () => {
  it('shows every study of a SQLite storage live in a browser: plots, a sortable table, a trial finishing while open', async () => {
    const dashboard = start(['--storage', db, '--port', '0']);
    expect(await dashboard.firstLine).toMatch(/^dashboard: http:\/\/127\.0\.0\.1:\d+\/ \(storage sqlite:.*study\.db, 2 studies\); Ctrl-C stops$/);
    const url = await dashboard.url;
    const { page, consoleErrors, external } = await open(url);
    await page.waitForFunction(PLOTS_DRAWN, null, { timeout: 30_000 });
    await page.evaluate('window.notReloaded = true');

    // Every study listed; the first one shown, every plot drawn.
    expect(await page.$$eval('#studies tbody tr a', (a) => a.map((x) => x.textContent))).toEqual(['live-sweep', 'two-objectives']);
    expect(await page.$$eval('#studies tr.selected a', (a) => a.map((x) => x.textContent))).toEqual(['live-sweep']);
    expect(await page.textContent('#study-title')).toBe('Study live-sweep');
    const plots = await emptyPlots(page);
    expect(plots.all).toEqual(expect.arrayContaining(['plot-history-0', 'plot-importance-0', 'plot-parallel', 'plot-slice-0', 'plot-slice-1', 'plot-slice-2', 'plot-intermediate']));
    expect(plots.empty).toEqual([]);
    expect(await page.$$eval('#plot-importance-0 .bars .point', (b) => b.length)).toBe(3);

    // The table sorts: by value ascending, as the report's.
    expect(await column(page, 0)).toEqual(['0', '1', '2', '3', '4', '5']);
    await page.click('#trials th:nth-child(3)');
    const sorted = (await column(page, 2)).filter((v) => v !== '').map(Number);
    expect(sorted).toEqual([...sorted].sort((a, b) => a - b));
    await page.screenshot({ path: join(dir, 'dashboard.png'), fullPage: true });

    // A trial starts and reports while the page is open (this process writes the same SQLite file as a sweep would).
    const study: Study = loadStudy({ storage: db, studyName: 'live-sweep', sampler: new RandomSampler({ seed: 9 }) });
    try {
      const t = study.ask();
      t.suggestFloat('learning_rate', 1e-5, 1e-2, { log: true });
      t.suggestInt('num_layers', 1, 4);
      t.suggest('activation', new CategoricalDistribution(['gelu', 'relu']));
      t.report(0.9, 0);
      t.report(0.6, 1);
      await rowInState(page, t.number, 'RUNNING');
      await page.waitForFunction(`[...document.querySelectorAll('#plot-intermediate .legendtext')].some((l) => l.textContent === 'trial ${t.number} (RUNNING)')`, null, { timeout: 20_000 });
      await page.screenshot({ path: join(dir, 'dashboard-running.png'), fullPage: true });

      // It finishes with the best value: COMPLETE, first in the still ascending table, bold, its line blue.
      t.report(0.3, 2);
      study.tell(t, 0.01);
      await rowInState(page, t.number, 'COMPLETE');
      await page.waitForFunction(`[...document.querySelectorAll('#plot-intermediate .legendtext')].some((l) => l.textContent === 'trial ${t.number} (COMPLETE)')`, null, { timeout: 20_000 });
      expect(await page.evaluate('window.notReloaded')).toBe(true);
      expect(await page.getAttribute('#trials th:nth-child(3)', 'class')).toBe('asc');
      expect((await column(page, 0))[0]).toBe(String(t.number));
      expect((await column(page, 2))[0]).toBe('0.01');
      expect(await page.getAttribute('#trials tbody tr:first-child', 'class')).toBe('state-complete best');
      expect(await page.$$eval('#plot-intermediate .legendtext', (l) => l.length)).toBe(7);
      await page.screenshot({ path: join(dir, 'dashboard-finished.png'), fullPage: true });
    } finally {
      study.storage.close();
    }

    // The other study: a Pareto front, and the importance to each objective (x for the first, y for the second).
    await page.click('#studies a:text-is("two-objectives")');
    await page.waitForFunction(`document.querySelector('#study-title')?.textContent === 'Study two-objectives' && (${PLOTS_DRAWN})`, null, { timeout: 30_000 });
    const multi = await emptyPlots(page);
    expect(multi.all).toEqual(expect.arrayContaining(['plot-history-0', 'plot-history-1', 'plot-pareto', 'plot-importance-0', 'plot-importance-1', 'plot-parallel']));
    expect(multi.empty).toEqual([]);
    expect(await page.$$eval('#plot-importance-1 .bars .point', (b) => b.length)).toBe(2);
    const api = (await (await fetch(`${url}api/studies/two-objectives`)).json()) as { importance: { ranking: [string, number][] }[] };
    expect(api.importance.map((e) => e.ranking[0][0])).toEqual(['x', 'y']);
    await page.screenshot({ path: join(dir, 'dashboard-two-objectives.png'), fullPage: true });
    console.log(`dashboard screenshots: ${join(dir, 'dashboard*.png')}`);

    expect(consoleErrors).toEqual([]);
    expect(external).toEqual([]);
    await page.close();

    // Ctrl-C (SIGINT to the process group, as a terminal sends it) stops it: exit 130, no stack.
    process.kill(-dashboard.pid, 'SIGINT');
    expect(await dashboard.exited).toEqual({ code: 130, signal: null });
    expect(dashboard.output().stderr).toBe('webtrainer: interrupted by SIGINT: dashboard stopped\n');
  });

  it('is read-only: GET and HEAD only, and the SQLite file stays byte for byte the same', async () => {
    const path = join(dir, 'read-only.db');
    liveSweep(`sqlite:${path}`);
    const before = sha256(path);
    const dashboard = start(['--storage', `sqlite:${path}`, '--port', '0']);
    const url = await dashboard.url;
    for (const route of ['', 'plotly.min.js', 'views.js', 'dashboard.js', 'api/studies', 'api/studies/live-sweep']) {
      expect((await httpRequest(url + route)).status, route).toBe(200);
    }
    expect((await httpRequest(url, { method: 'HEAD' })).status).toBe(200);
    const { etag } = await httpRequest(`${url}plotly.min.js`);
    expect((await httpRequest(`${url}plotly.min.js`, { headers: { 'If-None-Match': etag! } })).status).toBe(304); // not 4.7 MB again
    const missing = await httpRequest(`${url}api/studies/nope`);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body).error).toBe(`no study named "nope" in storage sqlite:${path}; it holds "live-sweep"`);
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const r = await httpRequest(`${url}api/studies/live-sweep`, { method });
      expect([method, r.status, r.allow]).toEqual([method, 405, 'GET, HEAD']);
    }
    // SIGTERM to the command (the supervising process, as `kill PID` does) stops it too.
    process.kill(dashboard.pid, 'SIGTERM');
    expect(await dashboard.exited).toEqual({ code: 130, signal: null });
    expect(sha256(path)).toBe(before);

    // The read-only reader and SqliteStorage read the same trials.
    const source = openStudySource(`sqlite:${path}`);
    const storage = new SqliteStorage(path);
    try {
      expect(source.study('live-sweep').trials).toEqual(storage.getAllTrials(storage.getStudyIdFromName('live-sweep')));
    } finally {
      source.close();
      storage.close();
    }
  });

  it('listens on 127.0.0.1 only unless --host says otherwise, and answers only to its own Host', async () => {
    const local = start(['--storage', db, '--port', '0']);
    const other = start(['--storage', db, '--port', '0', '--host', '127.0.0.2']);
    try {
      const url = new URL(await local.url);
      expect(url.hostname).toBe('127.0.0.1');
      expect((await httpRequest(url.href)).status).toBe(200);
      // Another loopback address of this machine reaches nothing: the socket is bound to 127.0.0.1 alone.
      await expect(httpRequest(`http://127.0.0.2:${url.port}/`)).rejects.toThrow(/ECONNREFUSED/);
      expect((await httpRequest(url.href, { headers: { Host: `localhost:${url.port}` } })).status).toBe(200);
      expect((await httpRequest(url.href, { headers: { Host: `rebound.example:${url.port}` } })).status).toBe(403);

      const url2 = new URL(await other.url);
      expect(url2.hostname).toBe('127.0.0.2');
      expect((await httpRequest(url2.href)).status).toBe(200);
      await expect(httpRequest(`http://127.0.0.1:${url2.port}/`)).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      process.kill(local.pid, 'SIGTERM');
      process.kill(other.pid, 'SIGTERM');
    }
    expect((await local.exited).code).toBe(130);
    expect((await other.exited).code).toBe(130);
  });

  it('says what is wrong with the options (exit 2) and the storage or the port (exit 1)', async () => {
    expect((await runCli(['dashboard'])).stderr).toMatch(/^webtrainer: dashboard needs --storage/);
    for (const args of [[], ['--storage', 'mysql://x'], ['--storage', db, '--port', 'http'], ['--storage', db, '--port', '70000'], ['--storage', db, '--bogus', '1']]) {
      expect((await runCli(['dashboard', ...args])).code, args.join(' ')).toBe(2);
    }
    const absent = join(dir, 'absent.db');
    const noFile = await runCli(['dashboard', '--storage', `sqlite:${absent}`]);
    expect([noFile.code, noFile.stderr]).toEqual([1, `webtrainer: storage sqlite:${absent}: no such file ${absent}\n`]);
    expect(existsSync(absent)).toBe(false);
    writeFileSync(join(dir, 'empty.db'), '');
    const notStudy = await runCli(['dashboard', '--storage', `sqlite:${join(dir, 'empty.db')}`]);
    expect([notStudy.code, notStudy.stderr]).toEqual([1, `webtrainer: storage sqlite:${join(dir, 'empty.db')}: the file holds no webtrainer study (no "version" table)\n`]);

    const taken = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => taken.once('listening', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const busy = await runCli(['dashboard', '--storage', db, '--port', String(port)]);
      expect([busy.code, busy.stderr]).toEqual([1, `webtrainer: dashboard: cannot listen on 127.0.0.1:${port}: port ${port} is in use; choose another with --port (0 picks a free one)\n`]);
    } finally {
      taken.close();
    }
  });

  it('serves a PostgreSQL storage, read afresh on every request, and creates no table in an empty one', async () => {
    const server = await startPostgres();
    try {
      const url = await server.createSchema();
      const study = createStudy({ storage: url, studyName: 'pg-sweep', sampler: new RandomSampler({ seed: 1 }) });
      try {
        for (let i = 0; i < 3; i++) {
          const t = study.ask();
          study.tell(t, t.suggestFloat('x', 0, 1));
        }
        const dashboard = start(['--storage', url, '--port', '0']);
        expect(await dashboard.firstLine).toMatch(/^dashboard: http:\/\/127\.0\.0\.1:\d+\/ \(storage postgresql:\/\/webtrainer@127\.0\.0\.1:\d+\/postgres\?options=.*, 1 study\); Ctrl-C stops$/);
        const base = await dashboard.url;
        const read = async () => (await (await fetch(`${base}api/studies/pg-sweep`)).json()) as { trials: { state: string; intermediate: [number, number][] }[] };
        expect((await read()).trials.map((t) => t.state)).toEqual(['COMPLETE', 'COMPLETE', 'COMPLETE']);
        const t = study.ask();
        t.suggestFloat('x', 0, 1);
        t.report(0.5, 7);
        const again = await read();
        expect(again.trials.map((x) => x.state)).toEqual(['COMPLETE', 'COMPLETE', 'COMPLETE', 'RUNNING']);
        expect(again.trials[3].intermediate).toEqual([[7, 0.5]]);
        process.kill(dashboard.pid, 'SIGTERM');
        expect((await dashboard.exited).code).toBe(130);
      } finally {
        study.storage.close();
      }

      const empty = await server.createSchema();
      const refused = await runCli(['dashboard', '--storage', empty, '--port', '0']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/holds no webtrainer study \(no table webtrainer_version in its search_path\)/);
      const pg = createRequire(import.meta.url)('pg') as { Client: new (c: { connectionString: string }) => { connect(): Promise<void>; query(q: string): Promise<{ rows: { n: string }[] }>; end(): Promise<void> } };
      const client = new pg.Client({ connectionString: empty });
      await client.connect();
      try {
        const { rows } = await client.query("SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = current_schema()");
        expect(rows[0].n).toBe('0');
      } finally {
        await client.end();
      }
    } finally {
      server.stop();
    }
  });
});
