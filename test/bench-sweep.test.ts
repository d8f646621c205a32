/**
 * `webtrainer bench sweep`'s report (quick sizes, K = 1 and 2): every K runs the same trials (the same learning
 * rates in the same order: the same sampler seed), all of them end, and the device's allocated bytes after the
 * sweep equal those before it (the pool trimmed of free buffers both times).
 */
import { describe, expect, it } from 'vitest';
import { benchSweep, formatSweepReport } from '../bench/sweep.js';

describe('bench sweep', () => {
  it('runs the same trials at every K and gives the device back', { timeout: 300_000 }, async () => {
    const report = await benchSweep({ quick: true, json: true, ks: [1, 2] });
    expect(report.device).toMatch(/\S/);
    expect(report.results.map((r) => r.k)).toEqual([1, 2]);
    const [one, two] = report.results;
    for (const r of report.results) {
      expect(r.trials).toBe(report.setup.trials);
      expect(r.learningRates).toHaveLength(report.setup.trials);
      expect(r.bytesAfter, `K=${r.k}: bytes after`).toBe(r.bytesBefore);
      // seconds is rounded to 1 ms in the report (a warm quick K takes under half a second).
      expect(Math.abs(r.trialsPerHour / ((r.trials / r.seconds) * 3600) - 1)).toBeLessThan(0.01);
      expect(r.bestObjective).toBeGreaterThanOrEqual(0);
      expect(r.bestObjective).toBeLessThanOrEqual(1);
    }
    expect(two.learningRates).toEqual(one.learningRates);
    expect(one.speedup).toBe(1);
    expect(two.speedup).toBeCloseTo(two.trialsPerHour / one.trialsPerHour, 1);
    expect(formatSweepReport(report)).toMatch(/^ {3}2 {7}8 /m);
  });
});
