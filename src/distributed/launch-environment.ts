/**
 * The launch variables, torchrun's names, so that `webtrainer launch`, torchrun or a user's own launcher (a job
 * scheduler, a shell loop) can start the ranks: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
 * MASTER_PORT; plus webtrainer's own: the shared token that rejects strangers and the two timeouts.
 * No WORLD_SIZE means a process that was not launched as a group: it runs alone (a group of one).
 */
import { isIP } from 'node:net';
import { LaunchEnvironmentError } from './errors.js';

export const LAUNCH_VARIABLES = {
  rank: 'RANK',
  worldSize: 'WORLD_SIZE',
  localRank: 'LOCAL_RANK',
  localWorldSize: 'LOCAL_WORLD_SIZE',
  masterAddr: 'MASTER_ADDR',
  masterPort: 'MASTER_PORT',
  /** A secret every rank shares; a connection that cannot prove it is refused. Required off loopback. */
  token: 'WEBTRAINER_DIST_TOKEN',
  /** Seconds one collective may take, waiting for the slowest rank included (default 600, as torch's NCCL). */
  timeout: 'WEBTRAINER_DIST_TIMEOUT',
  /** Seconds the ranks have to find each other at start (default 300). */
  connectTimeout: 'WEBTRAINER_DIST_CONNECT_TIMEOUT',
  /** The address this rank's ring listener binds to and advertises (default: the interface that reaches the master). */
  bindAddr: 'WEBTRAINER_DIST_BIND_ADDR',
} as const;

export const DEFAULT_MASTER_ADDR = '127.0.0.1';
export const DEFAULT_TIMEOUT_MS = 600_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 300_000;

export interface LaunchEnvironment {
  rank: number;
  worldSize: number;
  /** The rank among the processes of this machine: picks the GPU adapter where a machine has several. */
  localRank: number;
  localWorldSize: number;
  masterAddr: string;
  masterPort: number;
  /** '' where none was given (allowed only on loopback). */
  token: string;
  timeoutMs: number;
  connectTimeoutMs: number;
  /** null: bind to the interface that reaches the master (127.0.0.1 on one machine). */
  bindAddr: string | null;
}

/** Reads the launch variables; null when WORLD_SIZE is unset (a process not launched as a group). */
export function readLaunchEnvironment(env: NodeJS.ProcessEnv = process.env): LaunchEnvironment | null {
  const v = LAUNCH_VARIABLES;
  if (env[v.worldSize] === undefined || env[v.worldSize] === '') return null;
  const worldSize = integer(env, v.worldSize, { min: 1 });
  const rank = integer(env, v.rank, { min: 0, fallback: worldSize === 1 ? 0 : undefined });
  if (rank >= worldSize) throw new LaunchEnvironmentError(`${v.rank}: ${rank} must be less than ${v.worldSize} (${worldSize})`);
  const localWorldSize = integer(env, v.localWorldSize, { min: 1, fallback: worldSize });
  const localRank = integer(env, v.localRank, { min: 0, fallback: rank % localWorldSize });
  if (localRank >= localWorldSize) {
    throw new LaunchEnvironmentError(`${v.localRank}: ${localRank} must be less than ${v.localWorldSize} (${localWorldSize})`);
  }
  const masterAddr = (env[v.masterAddr] ?? '').trim() || DEFAULT_MASTER_ADDR;
  const masterPort = integer(env, v.masterPort, { min: 1, max: 65535, fallback: worldSize === 1 ? 29500 : undefined });
  const token = env[v.token] ?? '';
  if (token === '' && worldSize > 1 && !isLoopback(masterAddr)) {
    throw new LaunchEnvironmentError(
      `${v.token} is not set, and ${v.masterAddr} (${masterAddr}) is not a loopback address: every rank must share a secret ` +
        `off one machine (e.g. ${v.token}=$(openssl rand -hex 16) on every node)`,
    );
  }
  const bindAddr = (env[v.bindAddr] ?? '').trim() || null;
  if (bindAddr !== null && isIP(bindAddr) === 0) throw new LaunchEnvironmentError(`${v.bindAddr}: '${bindAddr}' is not an IP address`);
  return {
    rank,
    worldSize,
    localRank,
    localWorldSize,
    masterAddr,
    masterPort,
    token,
    timeoutMs: seconds(env, v.timeout, DEFAULT_TIMEOUT_MS),
    connectTimeoutMs: seconds(env, v.connectTimeout, DEFAULT_CONNECT_TIMEOUT_MS),
    bindAddr,
  };
}

/** The variables that make a process rank `rank` of a group (what a launcher sets). */
export function launchVariables(e: Omit<LaunchEnvironment, 'timeoutMs' | 'connectTimeoutMs' | 'bindAddr'>): Record<string, string> {
  const v = LAUNCH_VARIABLES;
  return {
    [v.rank]: String(e.rank),
    [v.worldSize]: String(e.worldSize),
    [v.localRank]: String(e.localRank),
    [v.localWorldSize]: String(e.localWorldSize),
    [v.masterAddr]: e.masterAddr,
    [v.masterPort]: String(e.masterPort),
    ...(e.token ? { [v.token]: e.token } : {}),
  };
}

export function isLoopback(address: string): boolean {
  return address === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(address) || address === '::1' || /^::ffff:127\./i.test(address);
}

function integer(env: NodeJS.ProcessEnv, name: string, { min, max, fallback }: { min: number; max?: number; fallback?: number }): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') {
    if (fallback !== undefined) return fallback;
    throw new LaunchEnvironmentError(`${name} is not set (WORLD_SIZE is ${env.WORLD_SIZE}: a launched rank needs ${name} too)`);
  }
  const value = Number(raw.trim());
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || (max !== undefined && value > max)) {
    throw new LaunchEnvironmentError(`${name}: '${raw}' is not an integer ${max !== undefined ? `from ${min} to ${max}` : `≥ ${min}`}`);
  }
  return value;
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallbackMs: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallbackMs;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new LaunchEnvironmentError(`${name}: '${raw}' is not a positive number of seconds`);
  return value * 1000;
}
