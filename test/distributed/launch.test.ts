/**
 * `webtrainer launch`: its arguments (mistakes are usage errors, exit 2), and with real ranks (fixtures/launch.mjs
 * runs the launcher from dist/ with fixtures/rank.mjs as the program): torchrun's variables and a token reach every
 * rank, rank 0's stdout passes through alone while the others' lines come prefixed on stderr, a failing rank's exit
 * code becomes the command's and the others are stopped, and Ctrl-C reaches every rank once (exit 130).
 */
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/args.js';
import { parseLaunchArgs } from '../../src/cli/launch.js';
import { ensureBuilt, fixtures, killAll, start } from './processes.js';

beforeAll(() => ensureBuilt(), 300_000);
afterEach(() => killAll());

const launch = (args: string[], env: Record<string, string> = {}) => start(join(fixtures, 'launch.mjs'), args, { WEBTRAINER_DIST_TOKEN: '', ...env });

describe('arguments', () => {
  it('one machine: --nproc and the command after --', () => {
    expect(parseLaunchArgs(['--nproc', '2', '--', 'train', '--json'], {})).toEqual({
      nproc: 2, nnodes: 1, nodeRank: 0, masterAddr: '127.0.0.1', masterPort: null, command: ['train', '--json'],
    });
  });

  it('several machines: node rank, master address and port, and a token from the environment', () => {
    const args = ['--nproc', '4', '--nnodes', '2', '--node-rank', '1', '--master-addr', '10.0.0.1', '--master-port', '29500', '--', 'sweep'];
    expect(parseLaunchArgs(args, { WEBTRAINER_DIST_TOKEN: 's' })).toMatchObject({ nproc: 4, nnodes: 2, nodeRank: 1, masterAddr: '10.0.0.1', masterPort: 29500 });
  });

  it.each([
    [['--', 'train'], '--nproc N is required'],
    [['--nproc', '2'], "no command after '--'"],
    [['--nproc', '2', 'train'], "put the command after '--'"],
    [['--nproc', '0', '--', 'train'], "--nproc '0' is not an integer from 1 to 4096"],
    [['--nproc', '2', '--nnodes', '2', '--node-rank', '2', '--', 'train'], "--node-rank '2' is not an integer from 0 to 1"],
    [['--nproc', '2', '--nnodes', '2', '--', 'train'], '--nnodes 2 needs --master-addr and --master-port'],
    [['--nproc', '2', '--nnodes', '2', '--master-addr', 'h', '--master-port', '1', '--', 'train'], '--nnodes 2 needs WEBTRAINER_DIST_TOKEN'],
    [['--nproc', '2', '--master-addr', '10.0.0.1', '--', 'train'], 'is not a loopback address: set WEBTRAINER_DIST_TOKEN'],
    [['--nproc', '2', '--', 'launch'], 'cannot be launch itself'],
  ])('%j is a usage error', (args, message) => {
    expect(() => parseLaunchArgs(args, {})).toThrow(UsageError);
    expect(() => parseLaunchArgs(args, {})).toThrow(message);
  });

  it('an unknown option is a parse error (exit 2 through main)', () => {
    expect(() => parseLaunchArgs(['--nproc', '2', '--gpus', '2', '--', 'train'], {})).toThrow(expect.objectContaining({ code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }));
  });
});

describe('ranks', () => {
  it("sets torchrun's variables and a token; rank 0's stdout alone on stdout, the others prefixed on stderr", async () => {
    const run = launch(['--nproc', '3', '--', 'echo-env', 'extra']);
    const { code } = await run.exited;
    const { stdout, stderr } = run.output();
    expect(code, stderr).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1); // only rank 0's: a --json command's output stays one document
    const zero = JSON.parse(lines[0]) as { env: Record<string, string>; token: boolean; args: string[] };
    expect(zero.env).toMatchObject({ RANK: '0', WORLD_SIZE: '3', LOCAL_RANK: '0', LOCAL_WORLD_SIZE: '3', MASTER_ADDR: '127.0.0.1' });
    expect(Number(zero.env.MASTER_PORT)).toBeGreaterThan(0);
    expect(zero.token).toBe(true);
    expect(zero.args).toEqual(['extra']);
    for (const rank of [1, 2]) {
      const line = stderr.split('\n').find((l) => l.startsWith(`[rank ${rank}] {`));
      expect(line, stderr).toBeDefined();
      expect(JSON.parse(line!.slice(`[rank ${rank}] `.length)).env).toMatchObject({ RANK: String(rank), LOCAL_RANK: String(rank), MASTER_PORT: zero.env.MASTER_PORT });
      expect(stderr).toContain(`[rank ${rank}] a line on stderr from rank ${rank}\n`);
    }
    expect(stderr).toMatch(/^a line on stderr from rank 0$/m); // rank 0's stderr untouched
    expect(stderr).toMatch(/^webtrainer launch: ranks 0–2 of 3 on this machine, master 127\.0\.0\.1:\d+$/m);
  });

  it("a rank that fails: the command exits with its code, and a rank not in a collective is stopped after the grace", async () => {
    const run = launch(['--nproc', '3', '--', 'exit-3-on-rank-1'], { TEST_GRACE_MS: '500' });
    const { code, seconds } = await run.exited;
    const { stderr } = run.output();
    expect(code, stderr).toBe(3);
    expect(stderr).toContain('webtrainer launch: rank 1 exited with code 3; stopping the other ranks\n');
    expect(seconds).toBeLessThan(20); // ranks 0 and 2 sleep for 120 s: SIGTERM after 0.5 s stopped them
  });

  it('Ctrl-C reaches every rank once: they stop, and the command exits 130', async () => {
    const run = launch(['--nproc', '2', '--', 'sigint']);
    await run.waitFor(/"ready":true/);
    await run.waitFor(/\[rank 1\] \{"rank":1,"ready":true\}/);
    process.kill(-run.pid, 'SIGINT'); // the terminal's process group: the launcher, not the ranks (their own groups)
    const { code, seconds } = await run.exited;
    expect(code, run.output().stderr).toBe(130);
    expect(seconds).toBeLessThan(20);
  });

  it('the group works through the launcher: allReduce on 2 ranks', async () => {
    const run = launch(['--nproc', '2', '--', 'allreduce']);
    const { code } = await run.exited;
    expect(code, run.output().stderr).toBe(0);
    const results = run.results();
    expect(results).toHaveLength(12);
    for (const result of results) expect(result.worst).toBeLessThanOrEqual(1);
  });
});
