/**
 * `webtrainer dashboard`'s server (node:http): the report's views of every study in a storage, live. The page
 * (page.ts) polls two JSON routes and draws again what changed:
 *   GET /                    the page           GET /plotly.min.js, /views.js, /dashboard.js   its scripts
 *   GET /api/studies         { storage, studies: [{ name, directions, nTrials }] }
 *   GET /api/studies/NAME    the study's ReportData (src/search/report/data.ts), importance included
 * Read-only: the storage is opened for reading (src/search/report/source.ts) and read afresh on every request
 * (nothing is cached, so new trials and intermediate values show at the next poll); only GET and HEAD are answered
 * (any other method: 405). Local by default: bound to 127.0.0.1, and while bound to a loopback address it answers
 * only requests whose Host is that address or localhost, so a web page elsewhere cannot read it through DNS
 * rebinding. The page's Content-Security-Policy allows nothing but this server.
 * Limits: storage reads are synchronous (as the storage layer is), so a request waits for the one before it; a
 * study of many thousands of trials costs a read of all of them per poll and per open page.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StudyError } from '../errors.js';
import { openStudySource, plotlyPath, readStudyData, VIEW_SCRIPT, type StudySource } from '../report/index.js';
import { DASHBOARD_SCRIPT, dashboardHtml } from './page.js';

export interface DashboardOptions {
  /** sqlite:PATH, sqlite:///PATH or postgresql://… */
  storage: string;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 8080; 0 picks a free one). */
  port?: number;
}

export interface Dashboard {
  /** http://HOST:PORT/ */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The storage URL without its password. */
  readonly storage: string;
  /** How many studies the storage held when the dashboard started. */
  readonly studies: number;
  /** Stops listening, ends open connections and closes the storage. */
  close(): Promise<void>;
}

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8080;

const CSP = "default-src 'none'; script-src 'self' 'unsafe-eval'; connect-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src data:; worker-src blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Opens the storage and starts serving; resolves once listening. Throws StudyError for a bad storage. */
export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const host = opts.host ?? DEFAULT_HOST;
  const port = opts.port ?? DEFAULT_PORT;
  const source = openStudySource(opts.storage);
  let server: Server;
  let studies: number;
  // The Host names this server answers to, known once it listens (its port); null: any.
  let allowedHosts: Set<string> | null = new Set();
  try {
    studies = source.studies().length;
    const files = staticFiles(source.shown);
    server = createServer((req, res) => handle(req, res, source, files, allowedHosts));
    await listen(server, host, port);
  } catch (error) {
    source.close();
    throw error;
  }
  const bound = (server.address() as AddressInfo).port;
  allowedHosts = loopback(host) ? new Set([host, 'localhost', '127.0.0.1', '[::1]'].map((h) => `${hostForUrl(h)}:${bound}`.toLowerCase())) : null;
  let closed: Promise<void> | null = null;
  return {
    url: `http://${hostForUrl(host)}:${bound}/`,
    host,
    port: bound,
    storage: source.shown,
    studies,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }).finally(() => source.close());
      return closed;
    },
  };
}

interface StaticFile {
  type: string;
  body: Buffer;
  /** The page revalidates its files (no-cache); an unchanged one costs a 304, not Plotly's 4.7 MB again. */
  etag: string;
}

function staticFiles(shown: string): Map<string, StaticFile> {
  const js = 'text/javascript; charset=utf-8';
  const file = (type: string, body: Buffer): StaticFile => ({ type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  return new Map([
    ['/', file('text/html; charset=utf-8', Buffer.from(dashboardHtml(shown)))],
    ['/plotly.min.js', file(js, readFileSync(plotlyPath()))],
    ['/views.js', file(js, Buffer.from(VIEW_SCRIPT))],
    ['/dashboard.js', file(js, Buffer.from(DASHBOARD_SCRIPT))],
  ]);
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const why =
        error.code === 'EADDRINUSE'
          ? `port ${port} is in use; choose another with --port (0 picks a free one)`
          : error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND'
            ? `${host} is not an address of this machine`
            : error.code === 'EACCES'
              ? `not allowed to listen on port ${port}`
              : error.message;
      reject(new Error(`dashboard: cannot listen on ${hostForUrl(host)}:${port}: ${why}`));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function loopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function hostForUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function handle(req: IncomingMessage, res: ServerResponse, source: StudySource, files: Map<string, StaticFile>, allowedHosts: Set<string> | null): void {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return send(res, 405, { error: `${req.method} not allowed: the dashboard is read-only` });
  }
  if (allowedHosts && !allowedHosts.has((req.headers.host ?? '').toLowerCase())) {
    return send(res, 403, { error: `Host "${req.headers.host ?? ''}" is not this dashboard's address` });
  }
  const path = (req.url ?? '/').split('?')[0];
  const file = files.get(path);
  if (file) {
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, { ETag: file.etag, 'Cache-Control': 'no-cache' });
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': file.type, 'Content-Length': file.body.length, ETag: file.etag, 'Cache-Control': 'no-cache' });
    res.end(file.body);
    return;
  }
  if (path === '/favicon.ico') {
    res.writeHead(204);
    res.end();
    return;
  }
  try {
    if (path === '/api/studies') {
      const studies = source.studies().map((s) => ({ name: s.studyName, directions: s.directions, nTrials: s.nTrials }));
      return send(res, 200, { storage: source.shown, studies });
    }
    const study = /^\/api\/studies\/([^/]+)$/.exec(path);
    if (study) {
      let name: string;
      try {
        name = decodeURIComponent(study[1]);
      } catch {
        return send(res, 400, { error: `bad study name in ${path}` });
      }
      return send(res, 200, readStudyData(source, name));
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return send(res, error instanceof StudyError && /^no study named/.test(message) ? 404 : 503, { error: message });
  }
  send(res, 404, { error: `no such page: ${path}` });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': json.length, 'Cache-Control': 'no-store' });
  res.end(json);
}
