/**
 * `webtrainer bench allreduce` at its smallest (1 MiB, 2 ranks): the report carries the raw socket and the
 * all-reduce of the same run, the bus bandwidth follows nccl-tests' definition, and the table prints them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { benchAllReduce, formatAllReduceReport } from '../../bench/allreduce.js';
import { ensureBuilt } from './processes.js';

beforeAll(() => ensureBuilt(), 300_000);

describe('bench allreduce', () => {
  it('measures the all-reduce and the raw socket in one run, and prints both', async () => {
    const report = await benchAllReduce({ quick: true, json: true, sizesMiB: [1], worldSizes: [2, 3] });
    expect(report.socket).toEqual([expect.objectContaining({ mebibytes: 1, bytes: 1 << 20 })]);
    expect(report.socket[0].gigabytesPerSecond).toBeGreaterThan(0);
    expect(report.results.map((r) => r.worldSize)).toEqual([2, 3]);
    for (const result of report.results) {
      expect(result.algorithmGBps).toBeCloseTo(result.bytes / result.seconds / 1e9, 9);
      expect(result.busGBps).toBeCloseTo(((2 * (result.worldSize - 1)) / result.worldSize) * result.algorithmGBps, 9);
      expect(result.ratioToSocket).toBeCloseTo(result.busGBps / report.socket[0].gigabytesPerSecond, 9);
    }
    expect(report.machine.cpus).toBeGreaterThan(0);
    const text = formatAllReduceReport(report);
    expect(text).toMatch(/^raw socket \(one process streaming to another\): 1 MiB \d+\.\d+ GB\/s$/m);
    expect(text).toMatch(/^3 {6}1 MiB {5}\d+\.\d ms/m);
  });
});
