/**
 * `webtrainer bench allreduce`: the TCP collective's all-reduce (src/distributed) on loopback, next to raw socket
 * throughput measured in the same run. Sizes 1, 4, 16 and 64 MiB of float32 (sum), 2 and 3 local processes.
 *
 * Figures, as nccl-tests defines them: algorithm bandwidth = bytes / time; bus bandwidth = 2·(W − 1)/W · bytes /
 * time, the rate each link must carry for a ring all-reduce to take that time, so it compares with one link's
 * capacity: here the raw socket, one process streaming the same number of bytes to another over loopback with
 * Node's fastest reads (onread into a reused buffer, as the collective reads). GB = 10⁹ bytes. Each figure is the
 * median of its timed repetitions, each started after a barrier (time measured on rank 0). The raw socket is
 * measured before and after the all-reduces, and the better of the two is kept (a conservative ratio).
 *
 * Processes: this file, run by Node as a worker (`node dist/bench/allreduce.js --worker …`); from the TypeScript
 * sources (the tests) the compiled copy in dist/ runs, so `npm run build` must have run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../src/distributed/free-port.js';
import { initCollective } from '../src/distributed/init-collective.js';
import { launchVariables } from '../src/distributed/launch-environment.js';

const MiB = 1 << 20;

export interface AllReduceBenchOptions {
  quick?: boolean;
  json?: boolean;
  /** Sizes in MiB (default 1, 4, 16, 64; quick: 1, 4). */
  sizesMiB?: number[];
  /** Group sizes (default 2 and 3; quick: 2). */
  worldSizes?: number[];
}

export interface SocketResult {
  mebibytes: number;
  bytes: number;
  seconds: number;
  gigabytesPerSecond: number;
}

export interface AllReduceResult {
  worldSize: number;
  mebibytes: number;
  bytes: number;
  repetitions: number;
  /** Median time of one all-reduce. */
  seconds: number;
  algorithmGBps: number;
  busGBps: number;
  /** busGBps over the raw socket's GB/s at the same size. */
  ratioToSocket: number;
}

export interface AllReduceReport {
  machine: { cpus: number; cpuModel: string; platform: string; release: string; node: string; memoryGiB: number };
  date: string;
  quick: boolean;
  op: 'sum';
  socket: SocketResult[];
  results: AllReduceResult[];
}

export async function benchAllReduce(options: AllReduceBenchOptions = {}): Promise<AllReduceReport> {
  const quick = options.quick ?? false;
  const sizes = options.sizesMiB ?? (quick ? [1, 4] : [1, 4, 16, 64]);
  const worldSizes = options.worldSizes ?? (quick ? [2] : [2, 3]);
  const log = (line: string) => {
    if (!options.json) process.stderr.write(`${line}\n`);
  };
  log('raw socket (before)…');
  const before = await measureSocket(sizes, quick);
  const results: Omit<AllReduceResult, 'ratioToSocket'>[] = [];
  for (const worldSize of worldSizes) {
    log(`all-reduce, ${worldSize} processes…`);
    results.push(...(await measureAllReduce(worldSize, sizes, quick)));
  }
  log('raw socket (after)…');
  const after = await measureSocket(sizes, quick);
  const socket = before.map((b, i) => (after[i].gigabytesPerSecond > b.gigabytesPerSecond ? after[i] : b));
  const cpu = os.cpus();
  return {
    machine: {
      cpus: cpu.length,
      cpuModel: cpu[0]?.model ?? 'unknown',
      platform: os.platform(),
      release: os.release(),
      node: process.versions.node,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    },
    date: new Date().toISOString(),
    quick,
    op: 'sum',
    socket,
    results: results.map((r) => ({ ...r, ratioToSocket: r.busGBps / socket.find((s) => s.mebibytes === r.mebibytes)!.gigabytesPerSecond })),
  };
}

export function formatAllReduceReport(report: AllReduceReport): string {
  const m = report.machine;
  const lines = [
    `all-reduce (float32 ${report.op}) over loopback TCP — ${m.cpus} × ${m.cpuModel}, ${m.platform} ${m.release}, Node ${m.node}, ${report.date}`,
    `raw socket (one process streaming to another): ${report.socket.map((s) => `${s.mebibytes} MiB ${s.gigabytesPerSecond.toFixed(2)} GB/s`).join(' · ')}`,
    '',
    'ranks  size      time        algbw GB/s  busbw GB/s  busbw / socket',
    ...report.results.map(
      (r) =>
        `${String(r.worldSize).padEnd(7)}${`${r.mebibytes} MiB`.padEnd(10)}${`${(r.seconds * 1000).toFixed(1)} ms`.padEnd(12)}` +
        `${r.algorithmGBps.toFixed(3).padEnd(12)}${r.busGBps.toFixed(3).padEnd(12)}${(r.ratioToSocket * 100).toFixed(0)}%`,
    ),
    '',
    'busbw = 2·(ranks − 1)/ranks · bytes / time (nccl-tests); medians of repetitions after a barrier.',
  ];
  return lines.join('\n') + '\n';
}

function repetitions(mebibytes: number, quick: boolean): number {
  const full = mebibytes >= 64 ? 7 : mebibytes >= 16 ? 11 : 21;
  return quick ? Math.min(5, full) : full;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

// --- the coordinator --------------------------------------------------------------------------------------------

/** The compiled worker: this file itself, or its copy in dist/ when running from the TypeScript sources. */
function workerScript(): string {
  const here = fileURLToPath(import.meta.url);
  if (!here.endsWith('.ts')) return here;
  const built = join(dirname(here), '../dist/bench/allreduce.js');
  if (!existsSync(built)) throw new Error(`bench allreduce runs its ranks from ${built}: run \`npm run build\` first`);
  return built;
}

interface Worker {
  child: ChildProcess;
  lines: AsyncIterator<string>;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startWorker(args: string[], env: Record<string, string> = {}): Worker {
  const child = spawn(process.execPath, [workerScript(), '--worker', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  return { child, lines: lineReader(child), stderr: () => stderr, exited };
}

async function* lineStream(child: ChildProcess): AsyncGenerator<string> {
  let buffered = '';
  for await (const chunk of child.stdout!) {
    buffered += String(chunk);
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
    }
  }
}

function lineReader(child: ChildProcess): AsyncIterator<string> {
  return lineStream(child)[Symbol.asyncIterator]();
}

async function nextLine(worker: Worker, what: string): Promise<string> {
  const { value, done } = await worker.lines.next();
  if (done) {
    const code = await worker.exited;
    throw new Error(`bench allreduce: the ${what} process ended (exit code ${code}) before reporting:\n${worker.stderr()}`);
  }
  return value;
}

async function withWorkers<T>(workers: Worker[], body: () => Promise<T>): Promise<T> {
  try {
    const result = await body();
    const codes = await Promise.all(workers.map((w) => w.exited));
    const failed = codes.findIndex((code) => code !== 0);
    if (failed >= 0) throw new Error(`bench allreduce: a process exited with code ${codes[failed]}:\n${workers[failed].stderr()}`);
    return result;
  } finally {
    for (const worker of workers) if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
  }
}

async function measureSocket(sizes: number[], quick: boolean): Promise<SocketResult[]> {
  const sender = startWorker(['socket-send', '']);
  return withWorkers([sender], async () => {
    const port = await nextLine(sender, 'socket sender');
    const receiver = startWorker(['socket-receive', JSON.stringify({ port: Number(port), sizes, quick })]);
    return withWorkers([receiver], async () => JSON.parse(await nextLine(receiver, 'socket receiver')) as SocketResult[]);
  });
}

async function measureAllReduce(worldSize: number, sizes: number[], quick: boolean): Promise<Omit<AllReduceResult, 'ratioToSocket'>[]> {
  const masterPort = await freePort();
  const token = randomBytes(16).toString('hex');
  const workers = Array.from({ length: worldSize }, (_, rank) =>
    startWorker(
      ['allreduce', JSON.stringify({ sizes, quick })],
      launchVariables({ rank, worldSize, localRank: rank, localWorldSize: worldSize, masterAddr: '127.0.0.1', masterPort, token }),
    ),
  );
  return withWorkers(workers, async () => JSON.parse(await nextLine(workers[0], 'rank 0')) as Omit<AllReduceResult, 'ratioToSocket'>[]);
}

// --- the workers ------------------------------------------------------------------------------------------------

async function runWorker([mode, argument]: string[]): Promise<void> {
  if (mode === 'socket-send') return socketSender();
  if (mode === 'socket-receive') return socketReceiver(JSON.parse(argument) as { port: number; sizes: number[]; quick: boolean });
  if (mode === 'allreduce') return allReduceRank(JSON.parse(argument) as { sizes: number[]; quick: boolean });
  throw new Error(`unknown worker mode '${mode}'`);
}

/** All-reduces each size (1 warm-up, then the timed repetitions); rank 0 prints the results as one JSON line. */
async function allReduceRank({ sizes, quick }: { sizes: number[]; quick: boolean }): Promise<void> {
  const group = await initCollective();
  const { rank, worldSize } = group;
  const results: Omit<AllReduceResult, 'ratioToSocket'>[] = [];
  for (const mebibytes of sizes) {
    const bytes = mebibytes * MiB;
    const data = new Float32Array(bytes / 4);
    const times: number[] = [];
    const count = repetitions(mebibytes, quick);
    for (let i = -1; i < count; i++) {
      data.fill(rank + 1);
      await group.barrier();
      const started = performance.now();
      await group.allReduce(data, 'sum');
      if (i >= 0) times.push((performance.now() - started) / 1000);
    }
    const expected = (worldSize * (worldSize + 1)) / 2;
    if (data[0] !== expected || data[data.length - 1] !== expected) throw new Error(`rank ${rank}: the sum is ${data[0]}, not ${expected}`);
    const seconds = median(times);
    results.push({
      worldSize,
      mebibytes,
      bytes,
      repetitions: count,
      seconds,
      algorithmGBps: bytes / seconds / 1e9,
      busGBps: ((2 * (worldSize - 1)) / worldSize) * (bytes / seconds / 1e9),
    });
  }
  await group.barrier();
  if (rank === 0) process.stdout.write(JSON.stringify(results) + '\n');
  await group.close();
}

/** Listens, prints its port, and for each request (a uint32: MiB) streams that many bytes from one buffer. */
async function socketSender(): Promise<void> {
  const server = net.createServer();
  await new Promise<void>((done) => server.listen({ host: '127.0.0.1', port: 0 }, done));
  process.stdout.write(`${(server.address() as net.AddressInfo).port}\n`);
  const socket = await new Promise<net.Socket>((done) => server.once('connection', (accepted: net.Socket) => done(accepted)));
  server.close();
  socket.setNoDelay(true);
  const source = Buffer.alloc(64 * MiB, 0x5a);
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    for (; pending.length >= 4; pending = pending.subarray(4)) {
      const bytes = pending.readUInt32LE(0) * MiB;
      for (let sent = 0; sent < bytes; sent += source.length) socket.write(source.subarray(0, Math.min(source.length, bytes - sent)));
    }
  });
  await new Promise<void>((done) => socket.once('close', () => done()));
}

/**
 * Connects to the sender and, for each size, asks for that many bytes and times their arrival, read with onread
 * into a reused 4 MiB buffer (the collective reads the same way). Prints the results as one JSON line.
 */
async function socketReceiver({ port, sizes, quick }: { port: number; sizes: number[]; quick: boolean }): Promise<void> {
  let expecting = 0;
  let arrived: (() => void) | null = null;
  const socket = net.connect({
    host: '127.0.0.1',
    port,
    onread: {
      buffer: new Uint8Array(4 * MiB),
      callback: (n: number) => {
        expecting -= n;
        if (expecting === 0) arrived?.();
        return true;
      },
    },
  });
  await new Promise<void>((done) => socket.once('connect', () => done()));
  socket.setNoDelay(true);
  const results: SocketResult[] = [];
  for (const mebibytes of sizes) {
    const bytes = mebibytes * MiB;
    const times: number[] = [];
    const count = repetitions(mebibytes, quick);
    for (let i = -1; i < count; i++) {
      expecting = bytes;
      const done = new Promise<void>((resolve) => (arrived = resolve));
      const request = Buffer.alloc(4);
      request.writeUInt32LE(mebibytes, 0);
      const started = performance.now();
      socket.write(request);
      await done;
      if (i >= 0) times.push((performance.now() - started) / 1000);
    }
    const seconds = median(times);
    results.push({ mebibytes, bytes, seconds, gigabytesPerSecond: bytes / seconds / 1e9 });
  }
  process.stdout.write(JSON.stringify(results) + '\n');
  socket.destroy();
}

// The worker entry: `node allreduce.js --worker <mode> <argument>`.
if (process.argv[2] === '--worker' && process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await runWorker(process.argv.slice(3));
  } catch (error) {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  }
}
