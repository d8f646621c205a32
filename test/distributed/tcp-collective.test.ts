/**
 * The collective's calls with every rank in this one process (fast, and the TypeScript sources themselves): sums
 * and means of many lengths (fewer elements than ranks included) within the stated bound and identical on every
 * rank, queued calls, the packed-array helpers, a rank that leaves, and the group of one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Collective } from '../../src/distributed/collective.js';
import { CollectiveError } from '../../src/distributed/errors.js';
import { freePort } from '../../src/distributed/free-port.js';
import { initCollective } from '../../src/distributed/init-collective.js';
import { allReduceArrays, broadcastArrays } from '../../src/distributed/packed-arrays.js';
import { SoloCollective } from '../../src/distributed/solo-collective.js';
import { TcpCollective } from '../../src/distributed/tcp-collective.js';

let groups: Collective[][] = [];
afterEach(async () => {
  await Promise.all(groups.flat().map((member) => member.close()));
  groups = [];
});

async function group(worldSize: number, timeoutMs = 20_000): Promise<TcpCollective[]> {
  const masterPort = await freePort();
  const members = await Promise.all(
    Array.from({ length: worldSize }, (_, rank) =>
      TcpCollective.connect({ rank, worldSize, localRank: rank, localWorldSize: worldSize, masterAddr: '127.0.0.1', masterPort, token: 't', timeoutMs, connectTimeoutMs: 20_000, bindAddr: null }),
    ),
  );
  groups.push(members);
  return members;
}

/** Deterministic inputs over many magnitudes, signs and exact zeros. */
function input(rank: number, length: number): Float32Array {
  let state = 12345 + rank * 7919;
  const next = () => ((state = (state * 1103515245 + 12345) >>> 0), state / 2 ** 32);
  return Float32Array.from({ length }, (_, i) => (i % 13 === 0 ? 0 : (next() - 0.5) * 2 ** Math.floor(next() * 30 - 15)));
}

describe.each([2, 3, 4])('%i ranks in one process', (worldSize) => {
  it('allReduce sum and avg: within γ(W−1)·Σ|x| of the float64 sum (mean: over W, plus one rounding), the same bits everywhere', async () => {
    const members = await group(worldSize);
    const u = 2 ** -24;
    const gamma = ((worldSize - 1) * u) / (1 - (worldSize - 1) * u);
    for (const op of ['sum', 'avg'] as const) {
      // The last length gives each segment two chunks (of 2¹⁸ floats), the second one short.
      for (const length of [0, 1, worldSize - 1, worldSize + 1, 1000, (1 << 18) * worldSize + 5 * worldSize]) {
        const inputs = members.map((m) => input(m.rank, length));
        const outputs = inputs.map((x) => x.slice());
        await Promise.all(members.map((m, rank) => m.allReduce(outputs[rank], op)));
        for (let i = 0; i < length; i++) {
          let exact = 0;
          let magnitude = 0;
          for (const x of inputs) (exact += x[i], (magnitude += Math.abs(x[i])));
          const bound = op === 'sum' ? gamma * magnitude : (gamma * magnitude) / worldSize + u * Math.abs(exact / worldSize);
          const error = Math.abs(outputs[0][i] - (op === 'sum' ? exact : exact / worldSize));
          if (error > bound) expect.fail(`${op} of ${length}, element ${i}: error ${error} > bound ${bound}`);
        }
        for (const output of outputs) expect(Buffer.compare(Buffer.from(output.buffer), Buffer.from(outputs[0].buffer)), `${op} of ${length}`).toBe(0);
      }
    }
  });
});

describe('calls', () => {
  it('queue: calls made without waiting run in order', async () => {
    const members = await group(3);
    const results = await Promise.all(
      members.map(async (m) => {
        const a = new Float32Array([m.rank + 1]);
        const calls = [m.allReduce(a), m.barrier(), m.broadcastObject(m.rank === 2 ? { from: 2 } : null, 2), m.allReduce(a, 'avg')];
        const [, , object] = await Promise.all(calls);
        return { object, value: a[0] };
      }),
    );
    for (const result of results) expect(result).toEqual({ object: { from: 2 }, value: 6 }); // (1 + 2 + 3), then its mean
  });

  it('broadcastArrays and allReduceArrays: many arrays in one call, each back in place', async () => {
    const members = await group(2);
    const shapes = [3, 1, 5];
    const arrays = members.map((m) => shapes.map((n, j) => Float32Array.from({ length: n }, (_, i) => m.rank * 100 + j * 10 + i)));
    await Promise.all(members.map((m, rank) => broadcastArrays(m, arrays[rank], 1)));
    expect(arrays[0]).toEqual(arrays[1]);
    expect(Array.from(arrays[0][2])).toEqual([120, 121, 122, 123, 124]);
    await Promise.all(members.map((m, rank) => allReduceArrays(m, arrays[rank], 'sum')));
    expect(Array.from(arrays[0][1])).toEqual([220]);
    expect(arrays[1]).toEqual(arrays[0]);
  });

  it('a wrong root or op fails at once, before anything is sent', async () => {
    const [zero] = await group(2);
    await expect(zero.broadcast(new Uint8Array(4), 2)).rejects.toThrow('root: 2 is not a rank of this group (0 to 1)');
    await expect(zero.allReduce(new Float32Array(1), 'max' as 'sum')).rejects.toThrow("allReduce: op 'max' is not 'sum' or 'avg'");
  });

  it('a rank that closes: the others calls fail naming it; its own calls fail as closed', async () => {
    const [zero, one] = await group(2);
    await one.close();
    const error = await zero.barrier().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CollectiveError);
    expect((error as CollectiveError).kind).toBe('left');
    expect((error as CollectiveError).failedRank).toBe(1);
    expect((error as Error).message).toMatch(/rank 1 (has left the group|closed its collective)/);
    await expect(one.barrier()).rejects.toMatchObject({ kind: 'closed' });
  });
});

describe('a group of one', () => {
  it('initCollective without launch variables: every call completes at once and keeps the data', async () => {
    const solo = await initCollective({ environment: null });
    expect(solo).toBeInstanceOf(SoloCollective);
    expect([solo.rank, solo.worldSize]).toEqual([0, 1]);
    const data = new Float32Array([1.5, -2]);
    await solo.allReduce(data, 'avg');
    await solo.broadcast(data);
    await solo.barrier();
    expect(Array.from(data)).toEqual([1.5, -2]);
    const value = { a: [1, 2] };
    const copy = await solo.broadcastObject(value);
    expect(copy).toEqual(value);
    expect(copy).not.toBe(value); // a copy, as on several ranks
    await expect(solo.broadcast(data, 1)).rejects.toThrow(RangeError);
    await solo.close();
    await expect(solo.barrier()).rejects.toMatchObject({ kind: 'closed' });
  });
});
