/**
 * `webtrainer bench sweep`'s report (quick sizes, K = 1 and 2, two rounds): every K runs the same trials (the same
 * learning rates in the same order: the same sampler seed), all of them end, the device's allocated bytes after the
 * last round equal those before the first (the pool trimmed of free buffers both times), and each K's seconds are
 * the median of its rounds'.
 */
import { describe, expect, it } from 'vitest';
import { benchSweep, formatSweepReport } from '../bench/sweep.js';

describe('bench sweep', () => {
  it('runs the same trials at every K and gives the device back', { timeout: 300_000 }, async () => {
    const report = await benchSweep({ quick: true, json: true, ks: [1, 2], rounds: 2 });
    expect(report.setup.rounds).toBe(2);
    expect(report.device).toMatch(/\S/);
    expect(report.results.map((r) => r.k)).toEqual([1, 2]);
    const [one, two] = report.results;
    for (const r of report.results) {
      expect(r.trials).toBe(report.setup.trials);
      expect(r.learningRates).toHaveLength(report.setup.trials);
      expect(r.bytesAfter, `K=${r.k}: bytes after`).toBe(r.bytesBefore);
      expect(r.roundSeconds).toHaveLength(2);
      expect(r.seconds).toBeCloseTo((r.roundSeconds[0] + r.roundSeconds[1]) / 2, 3); // the median of two
      // seconds is rounded to 1 ms in the report (a warm quick K takes under half a second).
      expect(Math.abs(r.trialsPerHour / ((r.trials / r.seconds) * 3600) - 1)).toBeLessThan(0.01);
      expect(r.bestObjective).toBeGreaterThanOrEqual(0);
      expect(r.bestObjective).toBeLessThanOrEqual(1);
    }
    expect(two.learningRates).toEqual(one.learningRates);
    expect(one.speedup).toBe(1);
    expect(two.speedup).toBeCloseTo(two.trialsPerHour / one.trialsPerHour, 1);
    expect(formatSweepReport(report)).toMatch(/^ {3}2 {7}8 /m);
    expect(formatSweepReport(report)).toMatch(/the median of 2 rounds/);
  });
});
