/** The launch variables (torchrun's names plus webtrainer's token and timeouts): what is read, and each mistake named. */
import { describe, expect, it } from 'vitest';
import { LaunchEnvironmentError } from '../../src/distributed/errors.js';
import { launchVariables, readLaunchEnvironment } from '../../src/distributed/launch-environment.js';

const base = { RANK: '1', WORLD_SIZE: '4', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: '29500' };

describe('readLaunchEnvironment', () => {
  it('returns null where WORLD_SIZE is unset: a process that runs alone', () => {
    expect(readLaunchEnvironment({})).toBeNull();
    expect(readLaunchEnvironment({ RANK: '3' })).toBeNull();
  });

  it('reads what a launcher sets, with the defaults for the rest', () => {
    expect(readLaunchEnvironment({ ...base, WEBTRAINER_DIST_TOKEN: 's3cret', WEBTRAINER_DIST_TIMEOUT: '1.5' })).toEqual({
      rank: 1,
      worldSize: 4,
      localRank: 1,
      localWorldSize: 2,
      masterAddr: '127.0.0.1',
      masterPort: 29500,
      token: 's3cret',
      timeoutMs: 1500,
      connectTimeoutMs: 300_000,
      bindAddr: null,
    });
    // Without LOCAL_*: one machine (LOCAL_RANK = RANK), MASTER_ADDR 127.0.0.1.
    const minimal = readLaunchEnvironment({ RANK: '2', WORLD_SIZE: '3', MASTER_PORT: '1234' })!;
    expect(minimal).toMatchObject({ localRank: 2, localWorldSize: 3, masterAddr: '127.0.0.1', token: '', timeoutMs: 600_000 });
  });

  it('is the inverse of launchVariables', () => {
    const env = { rank: 3, worldSize: 4, localRank: 1, localWorldSize: 2, masterAddr: '10.0.0.1', masterPort: 4000, token: 'x' };
    expect(readLaunchEnvironment(launchVariables(env))).toMatchObject(env);
  });

  it.each([
    [{ ...base, RANK: '4' }, 'RANK: 4 must be less than WORLD_SIZE (4)'],
    [{ ...base, RANK: undefined }, 'RANK is not set'],
    [{ ...base, WORLD_SIZE: 'two' }, "WORLD_SIZE: 'two' is not an integer ≥ 1"],
    [{ ...base, MASTER_PORT: '70000' }, "MASTER_PORT: '70000' is not an integer from 1 to 65535"],
    [{ ...base, MASTER_PORT: undefined }, 'MASTER_PORT is not set'],
    [{ ...base, LOCAL_RANK: '2' }, 'LOCAL_RANK: 2 must be less than LOCAL_WORLD_SIZE (2)'],
    [{ ...base, MASTER_ADDR: '10.1.2.3' }, 'WEBTRAINER_DIST_TOKEN is not set, and MASTER_ADDR (10.1.2.3) is not a loopback address'],
    [{ ...base, WEBTRAINER_DIST_TIMEOUT: '0' }, "WEBTRAINER_DIST_TIMEOUT: '0' is not a positive number of seconds"],
    [{ ...base, WEBTRAINER_DIST_BIND_ADDR: 'eth0' }, "WEBTRAINER_DIST_BIND_ADDR: 'eth0' is not an IP address"],
  ])('names the variable and its value: %j', (env, message) => {
    expect(() => readLaunchEnvironment(env)).toThrow(LaunchEnvironmentError);
    expect(() => readLaunchEnvironment(env)).toThrow(message);
  });
});
