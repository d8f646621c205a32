/**
 * Processes for the distributed tests: ranks of a group (fixtures/rank.mjs, which runs the collective from dist/,
 * built here first when older than its sources), each with its output captured, its exit timed, and all of them
 * killed after each test even when it fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/distributed/free-port.js';
import { ensureBuiltDist } from '../helpers/built-dist.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const fixtures = join(root, 'test/distributed/fixtures');


/** Builds dist/ when it lacks the distributed layer, the launcher or the benchmark, or predates a source file. */
export function ensureBuilt(): void {
  ensureBuiltDist(['dist/src/distributed/index.js', 'dist/src/cli/launch.js', 'dist/bench/allreduce.js']);
}

export interface Running {
  pid: number;
  output: () => { stdout: string; stderr: string };
  /** Parsed JSON lines of stdout. */
  results: () => Record<string, unknown>[];
  waitFor: (pattern: RegExp) => Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; seconds: number }>;
}

const live = new Set<ChildProcess>();

/** Kills every process started here that is still running (call in afterEach). */
export function killAll(): void {
  for (const child of live) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }
  live.clear();
}

/** Starts `node script args` in its own process group with `env` added. */
export function start(script: string, args: string[], env: Record<string, string> = {}): Running {
  const started = performance.now();
  const child = spawn(process.execPath, [script, ...args], { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  live.add(child);
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) if (w.pattern.test(stdout) || w.pattern.test(stderr)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
  };
  child.stdout!.on('data', (chunk) => ((stdout += chunk), check()));
  child.stderr!.on('data', (chunk) => ((stderr += chunk), check()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; seconds: number }>((resolve) => {
    child.on('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal, seconds: (performance.now() - started) / 1000 });
    });
  });
  return {
    pid: child.pid!,
    output: () => ({ stdout, stderr }),
    results: () => stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>),
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve });
        check();
        void exited.then(() => reject(new Error(`exited before printing ${pattern}:\n${stdout}\n${stderr}`)));
      }),
    exited,
  };
}

export interface GroupOptions {
  /** Variables for one rank (added to the launch variables, or replacing them). */
  env?: (rank: number) => Record<string, string>;
  /** Start only these ranks (default all). */
  ranks?: number[];
  port?: number;
}

/** Starts ranks of a group of `worldSize` running `scenario`, with the launch variables a launcher would set. */
export async function startGroup(worldSize: number, scenario: string, options: GroupOptions = {}): Promise<{ ranks: Running[]; port: number }> {
  const port = options.port ?? (await freePort());
  const ranks = (options.ranks ?? Array.from({ length: worldSize }, (_, rank) => rank)).map((rank) =>
    start(join(fixtures, 'rank.mjs'), [scenario], {
      RANK: String(rank),
      WORLD_SIZE: String(worldSize),
      LOCAL_RANK: String(rank),
      LOCAL_WORLD_SIZE: String(worldSize),
      MASTER_ADDR: '127.0.0.1',
      MASTER_PORT: String(port),
      WEBTRAINER_DIST_TOKEN: 'test-token',
      WEBTRAINER_DIST_CONNECT_TIMEOUT: '20',
      WEBTRAINER_DIST_TIMEOUT: '30',
      ...options.env?.(rank),
    }),
  );
  return { ranks, port };
}
