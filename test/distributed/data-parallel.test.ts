/**
 * Data parallelism end to end (issue 15), with real processes on lavapipe:
 * - 2 ranks with per-device batch 4 end with bit-identical parameters (each built its model from another seed:
 *   rank 0's broadcast made them equal), and equal a single process trained on the combined batch of 8: logged
 *   losses within 1e-5 (relative), parameters within 1e-4 of a 1e-3 scale (float32 sums in another order: the
 *   all-reduce adds two ranks' mean gradients, the single process one mean over 8 rows);
 * - a launched sweep: trial parameters come from rank 0 only (rank 1 writes no study), every rank trains the same
 *   trials at the same steps, and a trial rank 0 prunes stops on every rank at the same step.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/distributed/free-port.js';
import { loadStudy } from '../../src/search/study.js';
import { expectClose } from '../helpers/compare.js';
import { ensureBuilt, fixtures, killAll, start, type Running } from './processes.js';

const script = join(fixtures, 'data-parallel.mjs');

async function launchVariables(worldSize: number): Promise<(rank: number) => Record<string, string>> {
  const port = await freePort();
  return (rank) => ({
    RANK: String(rank), WORLD_SIZE: String(worldSize), LOCAL_RANK: String(rank), LOCAL_WORLD_SIZE: String(worldSize),
    MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), WEBTRAINER_DIST_TOKEN: 'test-token',
    WEBTRAINER_DIST_CONNECT_TIMEOUT: '60', WEBTRAINER_DIST_TIMEOUT: '120',
  });
}

async function finished(run: Running): Promise<Record<string, unknown>> {
  const exit = await run.exited;
  expect(exit.code, run.output().stderr).toBe(0);
  return run.results()[0];
}

beforeAll(() => ensureBuilt(), 300_000);
afterEach(() => killAll());

describe('data parallel', () => {
  it('2 ranks end bit-identical, and equal one process on the combined batch', { timeout: 300_000 }, async () => {
    const env = await launchVariables(2);
    const ranks = [0, 1].map((rank) => start(script, ['train', '4', '6'], env(rank)));
    const [r0, r1] = await Promise.all(ranks.map(finished));
    const single = await finished(start(script, ['train', '8', '6']));
    expect(r0.steps).toBe(6);
    const p0 = r0.params as Record<string, number[]>;
    const p1 = r1.params as Record<string, number[]>;
    for (const name of Object.keys(p0)) expect(p1[name], name).toEqual(p0[name]);
    expect(r1.losses).toEqual(r0.losses);
    expectClose(r0.losses as number[], single.losses as number[], 1e-5, 'logged losses');
    const ps = single.params as Record<string, number[]>;
    for (const name of Object.keys(ps)) expectClose(p0[name], ps[name], 1e-4, name, 1e-3);
  });

  it('a launched sweep trains rank 0\'s trials on every rank, pruned together', { timeout: 300_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webtrainer-dp-sweep-'));
    const storage = `sqlite:${join(dir, 'study.db')}`;
    const env = await launchVariables(2);
    const ranks = [0, 1].map((rank) => start(script, ['sweep', '4', '6', storage], env(rank)));
    const [r0, r1] = await Promise.all(ranks.map(finished));
    const study = loadStudy({ studyName: 'data-parallel', storage });
    expect(study.trials.map((t) => t.state)).toEqual(['COMPLETE', 'PRUNED', 'COMPLETE']);
    // Rank 1 built its models for the trials rank 0 sampled, with rank 0's values.
    const sampled = study.trials.map((t) => ({ number: t.number, params: t.params }));
    const seen = (r: Record<string, unknown>) => [...new Map((r.trialsSeen as { number: number }[]).map((t) => [t.number, t])).values()].sort((a, b) => a.number - b.number);
    expect(seen(r1)).toEqual(sampled);
    expect(seen(r0)).toEqual(sampled);
    // The same trials at the same steps on both ranks; trial 1 stopped at step 2 (its first evaluation) on both.
    expect(r1.stepsSeen).toEqual(r0.stepsSeen);
    const steps = (r: Record<string, unknown>, trial: number) => (r.stepsSeen as [number, number][]).filter(([t]) => t === trial).map(([, s]) => s);
    expect(steps(r1, 1)).toEqual([1, 2]);
    expect(steps(r1, 0)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(r1.best).toEqual(r0.best);
  });
});
