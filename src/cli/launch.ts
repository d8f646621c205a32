/**
 * `webtrainer launch --nproc N [--nnodes M --node-rank R --master-addr A --master-port P] -- <command> [options]`:
 * starts N ranks of `webtrainer <command>` on this machine, one device each, as torchrun does. Each rank gets
 * torchrun's variables (RANK = node rank · N + local rank, WORLD_SIZE = M · N, LOCAL_RANK, LOCAL_WORLD_SIZE,
 * MASTER_ADDR, MASTER_PORT) and a shared token (WEBTRAINER_DIST_TOKEN), which src/distributed reads, so another
 * launcher that sets them works as well. On one machine the master is 127.0.0.1 at a free port and the token is
 * random; across machines every node runs this command with the same --nnodes, --master-addr, --master-port and
 * WEBTRAINER_DIST_TOKEN, and its own --node-rank.
 *
 * Output: rank 0's stdout and stderr pass through untouched (so `--json` prints one JSON document, rank 0's);
 * the other ranks' stdout and stderr go to stderr, each line prefixed `[rank k] `.
 * Signals: Ctrl-C (SIGINT) is passed to every rank's process group, as a terminal would (each rank stops at a safe
 * point; a second Ctrl-C stops them at once); SIGTERM and SIGHUP are passed to each rank's process.
 * Exit: when a rank fails, the others normally fail within moments (the collective names the rank); any still
 * running after `graceMs` get SIGTERM, then SIGKILL after `graceMs` more. The command exits with the first failing
 * rank's code (1 for a rank killed by a signal, 130 after an interrupt), or 0 when every rank succeeds.
 * Ranks run in their own process groups (so that one Ctrl-C reaches each once): if this process is killed with
 * SIGKILL they go on, and stop on their own when their group fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { freePort } from '../distributed/free-port.js';
import { isLoopback, LAUNCH_VARIABLES, launchVariables } from '../distributed/launch-environment.js';
import { UsageError } from './args.js';
import { STDERR_TTY_ENV, SUPERVISED_ENV } from './supervisor.js';

const INTERRUPTED = 130;
const DEFAULT_GRACE_MS = 5_000;

export interface LaunchOptions {
  /** The program each rank runs, before the user's command (default: this Node and the webtrainer script running now). */
  command?: string[];
  /** Where rank 0's output and the prefixed lines go (default: this process's stdout and stderr, inherited by rank 0). */
  output?: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };
  /** How long the other ranks get to end on their own once one has failed. */
  graceMs?: number;
}

export interface LaunchPlan {
  nproc: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  /** null: pick a free port (one machine only). */
  masterPort: number | null;
  command: string[];
}

/** Parses the launch options and the command after `--`; throws UsageError on a mistake. */
export function parseLaunchArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): LaunchPlan {
  const separator = argv.indexOf('--');
  const own = separator >= 0 ? argv.slice(0, separator) : argv;
  const command = separator >= 0 ? argv.slice(separator + 1) : [];
  const { values, positionals } = parseArgs({
    args: own,
    options: {
      nproc: { type: 'string' },
      nnodes: { type: 'string', default: '1' },
      'node-rank': { type: 'string', default: '0' },
      'master-addr': { type: 'string' },
      'master-port': { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(`launch: put the command after '--' (webtrainer launch --nproc N -- ${positionals.join(' ')} …)`);
  if (values.nproc === undefined) throw new UsageError('launch: --nproc N is required (the number of ranks to start on this machine)');
  if (command.length === 0) throw new UsageError("launch: no command after '--' (e.g. webtrainer launch --nproc 2 -- train)");
  if (command[0] === 'launch') throw new UsageError('launch: the command cannot be launch itself');
  const nproc = integerOption('--nproc', values.nproc, 1, 4096);
  const nnodes = integerOption('--nnodes', values.nnodes!, 1, 4096);
  const nodeRank = integerOption('--node-rank', values['node-rank']!, 0, nnodes - 1);
  const masterPort = values['master-port'] === undefined ? null : integerOption('--master-port', values['master-port'], 1, 65535);
  const masterAddr = values['master-addr'] ?? '127.0.0.1';
  if (nnodes > 1) {
    if (values['master-addr'] === undefined || masterPort === null) {
      throw new UsageError(`launch: --nnodes ${nnodes} needs --master-addr and --master-port (node 0's address, the same on every node)`);
    }
    if (!env[LAUNCH_VARIABLES.token]) {
      throw new UsageError(`launch: --nnodes ${nnodes} needs ${LAUNCH_VARIABLES.token} set to the same secret on every node (e.g. openssl rand -hex 16)`);
    }
  } else if (!isLoopback(masterAddr) && !env[LAUNCH_VARIABLES.token]) {
    throw new UsageError(`launch: --master-addr ${masterAddr} is not a loopback address: set ${LAUNCH_VARIABLES.token} (a shared secret)`);
  }
  return { nproc, nnodes, nodeRank, masterAddr, masterPort, command };
}

/** `webtrainer launch …`: starts the ranks and resolves to the command's exit code once they have all ended. */
export async function runLaunch(argv: string[], options: LaunchOptions = {}): Promise<number> {
  const plan = parseLaunchArgs(argv);
  const { nproc, nnodes, nodeRank, masterAddr, command } = plan;
  const masterPort = plan.masterPort ?? (await freePort(masterAddr));
  const token = process.env[LAUNCH_VARIABLES.token] || randomBytes(16).toString('hex');
  const worldSize = nnodes * nproc;
  const program = options.command ?? [process.execPath, ...process.execArgv, process.argv[1]];
  const stdout = options.output?.stdout ?? process.stdout;
  const stderr = options.output?.stderr ?? process.stderr;
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  stderr.write(
    `webtrainer launch: ranks ${nodeRank * nproc}–${nodeRank * nproc + nproc - 1} of ${worldSize} on this machine` +
      `${nnodes > 1 ? ` (node ${nodeRank} of ${nnodes})` : ''}, master ${masterAddr}:${masterPort}\n`,
  );

  const children: { rank: number; child: ChildProcess; ended: boolean }[] = [];
  for (let localRank = 0; localRank < nproc; localRank++) {
    const rank = nodeRank * nproc + localRank;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...launchVariables({ rank, worldSize, localRank, localWorldSize: nproc, masterAddr, masterPort, token }),
      GROUP_RANK: String(nodeRank), // torchrun's name for the node rank
    };
    delete env[SUPERVISED_ENV]; // each rank is a full webtrainer command, with its own crash supervisor
    delete env[STDERR_TTY_ENV];
    const passThrough = rank === 0 && !options.output;
    const child = spawn(program[0], [...program.slice(1), ...command], {
      env,
      detached: true, // its own process group: the terminal's Ctrl-C reaches it once, through this process
      stdio: ['ignore', passThrough ? 'inherit' : 'pipe', passThrough ? 'inherit' : 'pipe'],
    });
    if (rank === 0 && options.output) {
      child.stdout!.pipe(stdout, { end: false });
      child.stderr!.pipe(stderr, { end: false });
    } else if (rank !== 0) {
      prefixLines(child.stdout!, `[rank ${rank}] `, stderr);
      prefixLines(child.stderr!, `[rank ${rank}] `, stderr);
    }
    children.push({ rank, child, ended: false });
  }

  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    for (const c of children) if (!c.ended) signalGroup(c.child, 'SIGINT');
  };
  const onOther = (signal: NodeJS.Signals) => {
    interrupted = true;
    for (const c of children) if (!c.ended) c.child.kill(signal);
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onOther);
  process.on('SIGHUP', onOther);

  let firstFailure: { rank: number; code: number } | null = null;
  const timers: NodeJS.Timeout[] = [];
  const stopTheOthers = () => {
    timers.push(
      setTimeout(() => {
        for (const c of children) if (!c.ended) c.child.kill('SIGTERM');
        timers.push(setTimeout(() => children.forEach((c) => !c.ended && signalGroup(c.child, 'SIGKILL')), graceMs));
      }, graceMs),
    );
  };
  try {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            const ended = (code: number | null, signal: NodeJS.Signals | null) => {
              if (c.ended) return;
              c.ended = true;
              const exitCode = code ?? (signal === 'SIGINT' || signal === 'SIGTERM' || signal === 'SIGHUP' ? INTERRUPTED : 1);
              if (exitCode !== 0 && !firstFailure) {
                firstFailure = { rank: c.rank, code: exitCode };
                if (!interrupted && children.some((other) => !other.ended)) {
                  stderr.write(`webtrainer launch: rank ${c.rank} exited with code ${exitCode}${signal ? ` (${signal})` : ''}; stopping the other ranks\n`);
                  stopTheOthers();
                }
              }
              resolve();
            };
            c.child.once('error', (error) => {
              stderr.write(`webtrainer launch: could not start rank ${c.rank} (${program[0]}): ${error.message}\n`);
              if (c.child.pid === undefined) ended(1, null);
            });
            c.child.once('close', ended);
          }),
      ),
    );
  } finally {
    timers.forEach(clearTimeout);
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onOther);
    process.off('SIGHUP', onOther);
  }
  const failure = firstFailure as { rank: number; code: number } | null;
  return failure ? failure.code : interrupted ? INTERRUPTED : 0;
}

/** Sends `signal` to the child's process group (the rank's supervisor and the command it runs). */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    child.kill(signal); // the group is gone already, or never formed
  }
}

/** Copies `input` to `output` line by line, each line prefixed (a last line without a newline gets one). */
function prefixLines(input: NodeJS.ReadableStream, prefix: string, output: NodeJS.WritableStream): void {
  let partial = '';
  input.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    if (lines.length > 0) output.write(lines.map((line) => `${prefix}${line}\n`).join(''));
  });
  input.on('end', () => {
    if (partial) output.write(`${prefix}${partial}\n`);
  });
}

function integerOption(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) throw new UsageError(`launch: ${name} '${raw}' is not an integer from ${min} to ${max}`);
  return value;
}
