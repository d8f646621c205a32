/** Pruners on small hand-worked cases; the expected decision is derived in the comments. */
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../src/search/pruners/crc32.js';
import { HyperbandPruner } from '../../src/search/pruners/hyperband.js';
import { MedianPruner } from '../../src/search/pruners/median.js';
import { NopPruner } from '../../src/search/pruners/nop.js';
import { PatientPruner } from '../../src/search/pruners/patient.js';
import { nanPercentile, PercentilePruner } from '../../src/search/pruners/percentile.js';
import type { Pruner } from '../../src/search/pruners/pruner.js';
import { SuccessiveHalvingPruner } from '../../src/search/pruners/successive-halving.js';
import { ThresholdPruner } from '../../src/search/pruners/threshold.js';
import { RandomSampler } from '../../src/search/samplers/random.js';
import { createStudy, type Study } from '../../src/search/study.js';
import type { Trial } from '../../src/search/trial.js';

function studyWith(pruner: Pruner, completed: number[][], direction: 'minimize' | 'maximize' = 'minimize', studyName?: string): Study {
  const study = createStudy({ pruner, direction, sampler: new RandomSampler({ seed: 0 }), studyName });
  for (const curve of completed) {
    study.addTrial({ params: {}, distributions: {}, values: [curve[curve.length - 1]], intermediateValues: new Map(curve.map((v, i) => [i, v])) });
  }
  return study;
}

function reportAll(trial: Trial, curve: Array<[number, number]>): void {
  for (const [step, v] of curve) trial.report(v, step);
}

describe('MedianPruner / PercentilePruner', () => {
  // Five completed trials report 1, 2, 3, 4, 5 at step 0: the median at step 0 is 3.
  const curves = [[1], [2], [3], [4], [5]];

  it('prunes above the median when minimising, below it when maximising', () => {
    const s = studyWith(new MedianPruner(), curves);
    const bad = s.ask();
    bad.report(3.5, 0);
    expect(bad.shouldPrune()).toBe(true); // 3.5 > 3
    const good = s.ask();
    good.report(2.5, 0);
    expect(good.shouldPrune()).toBe(false);
    const m = studyWith(new MedianPruner(), curves, 'maximize');
    const low = m.ask();
    low.report(2.5, 0);
    expect(low.shouldPrune()).toBe(true); // 2.5 < 3
  });

  it('no pruning before nStartupTrials complete, before warm-up, or with NaN only when checked', () => {
    const few = studyWith(new MedianPruner(), curves.slice(0, 4)); // 4 < 5 startup trials
    const t = few.ask();
    t.report(100, 0);
    expect(t.shouldPrune()).toBe(false);
    const warm = studyWith(new MedianPruner({ nWarmupSteps: 1 }), [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]);
    const w = warm.ask();
    w.report(100, 0);
    expect(w.shouldPrune()).toBe(false); // step 0 < 1 warm-up step
    w.report(100, 1);
    expect(w.shouldPrune()).toBe(true);
    const nan = studyWith(new MedianPruner(), curves).ask();
    nan.report(NaN, 0);
    expect(nan.shouldPrune()).toBe(true);
  });

  it('intervalSteps: only the first report of each interval is checked', () => {
    // interval 2, warm-up 0: pruning steps are 0, 2, 4…; at step 1 the previous report (0) is already in
    // the interval starting at 0, so step 1 is not checked; step 2 opens a new interval.
    const s = studyWith(new MedianPruner({ intervalSteps: 2 }), [[1, 1, 1], [2, 2, 2], [3, 3, 3], [4, 4, 4], [5, 5, 5]]);
    // Step 0 reports 50, not a value below the median: the trial is judged by its best report (Optuna 3.1
    // prints False then True for exactly this case).
    const t = s.ask();
    t.report(50, 0);
    t.report(100, 1);
    expect(t.shouldPrune()).toBe(false);
    t.report(100, 2);
    expect(t.shouldPrune()).toBe(true);
  });

  it("compares the trial's best report so far, not its latest (Optuna's _get_best_intermediate_result_over_steps)", () => {
    // Minimise. Completed trials reported 2.0 and 3.0 at step 1: the median there is 2.5. The trial reported
    // 1.0 at step 0 and 5.0 at step 1: its best is min(1, 5) = 1 <= 2.5, so it is kept. Judging the latest
    // report alone (5 > 2.5) would prune it. Real Optuna 3.1 (MedianPruner(n_startup_trials=0)) prints False.
    const s = studyWith(new MedianPruner({ nStartupTrials: 0 }), [[0.5, 2.0], [0.5, 3.0]]);
    const t = s.ask();
    t.report(1.0, 0);
    t.report(5.0, 1);
    expect(t.shouldPrune()).toBe(false);
    // Maximise, same completed curves but 9.0 at step 0; the median at step 1 is still 2.5 (percentile 100 − 50).
    // Best of (4.0, 0.5) is 4.0 >= 2.5: kept. Best of (2.0, 0.5) is 2.0 < 2.5: pruned. Optuna prints False, True.
    const m = studyWith(new MedianPruner({ nStartupTrials: 0 }), [[9.0, 2.0], [9.0, 3.0]], 'maximize');
    const kept = m.ask();
    kept.report(4.0, 0);
    kept.report(0.5, 1);
    expect(kept.shouldPrune()).toBe(false);
    const pruned = m.ask();
    pruned.report(2.0, 0);
    pruned.report(0.5, 1);
    expect(pruned.shouldPrune()).toBe(true);
    // A NaN after a finite report: the best ignores NaN (numpy.nanmin), 1.0 < median 3 at step 1 → kept (Optuna: False).
    const n = studyWith(new MedianPruner(), [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]).ask();
    n.report(1.0, 0);
    n.report(NaN, 1);
    expect(n.shouldPrune()).toBe(false);
  });

  it('25th percentile interpolates linearly (NumPy): of 1..5 it is 2', () => {
    expect(nanPercentile([5, 1, 4, 2, 3], 25)).toBe(2);
    expect(nanPercentile([1, 2], 50)).toBe(1.5);
    expect(nanPercentile([1, NaN, 3], 50)).toBe(2);
    const s = studyWith(new PercentilePruner(25), curves);
    const t = s.ask();
    t.report(2.5, 0);
    expect(t.shouldPrune()).toBe(true);
    const strict = studyWith(new PercentilePruner(25, { nMinTrials: 6 }), curves).ask();
    strict.report(2.5, 0);
    expect(strict.shouldPrune()).toBe(false); // only 5 trials reported at step 0
  });
});

describe('SuccessiveHalvingPruner (ASHA), η = 2, minResource 1', () => {
  it('promotes the top 1/η at each rung, the best while fewer than η have arrived', () => {
    // Rungs at steps 1·2^0 = 1, 1·2^1 = 2, 1·2^2 = 4.
    const s = studyWith(new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 }), []);
    const [a, b, c, d] = [s.ask(), s.ask(), s.ask(), s.ask()];
    a.report(9, 0);
    expect(a.shouldPrune()).toBe(false); // step 0 < 1: no rung yet
    a.report(0.5, 1);
    expect(a.shouldPrune()).toBe(false); // rung 0 = {0.5}: 1 < η values → continue if best: yes
    b.report(0.7, 1);
    expect(b.shouldPrune()).toBe(true); // {0.5, 0.7}: floor(2/2) − 1 = 0 → must be ≤ 0.5: no
    c.report(0.3, 1);
    expect(c.shouldPrune()).toBe(false); // {0.3, 0.5, 0.7}: idx 0 → ≤ 0.3: yes
    d.report(0.4, 1);
    expect(d.shouldPrune()).toBe(false); // {0.3, 0.4, 0.5, 0.7}: idx floor(4/2) − 1 = 1 → ≤ 0.4: yes
    const e = s.ask();
    e.report(0.6, 1);
    expect(e.shouldPrune()).toBe(true); // {0.3, 0.4, 0.5, 0.6, 0.7}: idx 1 → ≤ 0.4: no
    a.report(0.45, 2);
    expect(a.shouldPrune()).toBe(false); // rung 1 = {0.45}: best so far
    c.report(0.5, 2);
    expect(c.shouldPrune()).toBe(true); // rung 1 = {0.45, 0.5}: idx 0 → ≤ 0.45: no
    expect(a.frozen().systemAttrs).toEqual({ completed_rung_0: 0.5, completed_rung_1: 0.45 });
  });

  it('minEarlyStoppingRate shifts the first rung to minResource·η^rate; bootstrapCount waits for peers', () => {
    const s = studyWith(new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2, minEarlyStoppingRate: 2 }), []);
    const t = s.ask();
    reportAll(t, [[0, 9], [1, 9], [2, 9], [3, 9]]);
    expect(t.shouldPrune()).toBe(false); // first rung at step 4
    const boot = studyWith(new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2, bootstrapCount: 2 }), []);
    const u = boot.ask();
    u.report(0.1, 1);
    expect(u.shouldPrune()).toBe(true); // 1 value at the rung ≤ bootstrapCount 2 → prune
  });

  it("minResource 'auto' = max(1, floor(longest completed last step / 100))", () => {
    // A completed trial reported up to step 399 → minResource 3: the first rung is at step 3.
    const s = studyWith(new SuccessiveHalvingPruner({ reductionFactor: 2 }), [Array.from({ length: 400 }, () => 1)]);
    const p = s.ask();
    reportAll(p, [[0, 1], [1, 1], [2, 1], [3, 1]]);
    expect(p.shouldPrune()).toBe(false); // rung 0 (step 3) = {1}: best → continue; p now holds completed_rung_0 = 1
    const t = s.ask();
    reportAll(t, [[0, 5], [1, 5], [2, 5]]);
    // Had minResource been 1, step ≥ 1 would meet rung 0 = {1, 5} and prune; with 3 it is not judged yet.
    expect(t.shouldPrune()).toBe(false);
    t.report(5, 3);
    expect(t.shouldPrune()).toBe(true); // rung 0 = {1, 5}: idx 0 → 5 ≤ 1 is false
  });
});

describe('HyperbandPruner', () => {
  it('brackets and budgets: minResource 1, maxResource 9, η 3', () => {
    // n = floor(log_3 9) + 1 = 3; budget(b) = ceil(3 · 3^s / (s+1)), s = 2 − b → 9, 5, 3.
    const h = new HyperbandPruner({ minResource: 1, maxResource: 9, reductionFactor: 3 });
    expect(h.nBrackets).toBe(3);
    expect(h.trialAllocationBudgets).toEqual([9, 5, 3]);
    // Bracket = crc32("name_number") mod 17 walked through [9, 5, 3] (checked with zlib's crc32).
    for (let n = 0; n < 30; n++) {
      const r = zlibCrc32(`hb_${n}`) % 17;
      expect(h.bracketOf('hb', n)).toBe(r < 9 ? 0 : r < 14 ? 1 : 2);
    }
  });

  it('each bracket prunes like ASHA with its own early-stopping rate, among its own trials', () => {
    const h = new HyperbandPruner({ minResource: 1, maxResource: 9, reductionFactor: 3 });
    const s = studyWith(h, [], 'minimize', 'hb');
    const trials = Array.from({ length: 30 }, () => s.ask());
    const inBracket = (b: number): Trial[] => trials.filter((t) => h.bracketOf('hb', t.number) === b);
    // Bracket 0: rung 0 at step 1. The first trial sets the rung (best → continue); a worse second one is pruned.
    const [b0a, b0b] = inBracket(0);
    b0a.report(0.1, 1);
    expect(b0a.shouldPrune()).toBe(false);
    b0b.report(0.9, 1);
    expect(b0b.shouldPrune()).toBe(true);
    // Bracket 2: first rung at 1·3² = 9, so the same bad value at step 1 is not judged yet.
    const [b2a] = inBracket(2);
    b2a.report(0.9, 1);
    expect(b2a.shouldPrune()).toBe(false);
    // Bracket 1 has its own rungs: a first trial there is the best of its rung at step 3 even if worse than bracket 0's.
    const [b1a] = inBracket(1);
    b1a.report(0.95, 3);
    expect(b1a.shouldPrune()).toBe(false);
  });

  it("maxResource 'auto' = last step + 1 of the longest completed trial; no pruning before one exists", () => {
    const h = new HyperbandPruner({ minResource: 1, reductionFactor: 3 });
    const empty = studyWith(h, []);
    const t = empty.ask();
    t.report(1e9, 5);
    expect(t.shouldPrune()).toBe(false);
    expect(h.nBrackets).toBe(0);
    // A completed trial reported steps 0..8 → maxResource 9 → floor(log_3 9) + 1 = 3 brackets.
    const s = studyWith(h, [Array.from({ length: 9 }, () => 1)]);
    const u = s.ask();
    u.report(1, 0);
    u.shouldPrune();
    expect(h.nBrackets).toBe(3);
    expect(h.trialAllocationBudgets).toEqual([9, 5, 3]);
  });

  it('crc32 check value', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
  });
});

describe('ThresholdPruner, PatientPruner, NopPruner', () => {
  it('threshold prunes outside [lower, upper] and on NaN, after warm-up', () => {
    const s = studyWith(new ThresholdPruner({ lower: 0, upper: 1, nWarmupSteps: 1 }), []);
    const t = s.ask();
    t.report(5, 0);
    expect(t.shouldPrune()).toBe(false); // warm-up
    t.report(0.5, 1);
    expect(t.shouldPrune()).toBe(false);
    t.report(1.5, 2);
    expect(t.shouldPrune()).toBe(true);
    const u = s.ask();
    u.report(NaN, 3);
    expect(u.shouldPrune()).toBe(true);
    expect(() => new ThresholdPruner({})).toThrow('needs lower or upper');
  });

  it('patient: no improvement over patience steps → prune', () => {
    // patience 2: before = all but the last 3 reports, after = the last 3.
    // [5, 4, 4.5, 4.2, 4.1]: min(before) = 4 < min(after) = 4.1 → no improvement → prune.
    const s = studyWith(new PatientPruner(null, 2), []);
    const t = s.ask();
    reportAll(t, [[0, 5], [1, 4], [2, 4.5], [3, 4.2]]);
    expect(t.shouldPrune()).toBe(false); // before = [5], after = [4, 4.5, 4.2]: 5 < 4 is false → improving
    t.report(4.1, 4);
    expect(t.shouldPrune()).toBe(true);
    // [5, 4, 4.5, 4.2, 3.9]: 4 < 3.9 is false → keep.
    const u = s.ask();
    reportAll(u, [[0, 5], [1, 4], [2, 4.5], [3, 4.2], [4, 3.9]]);
    expect(u.shouldPrune()).toBe(false);
    // minDelta 0.2 with [5, 4, 4.5, 4.3, 4.25]: min(before) + 0.2 = 4.2 < min(after) = 4.25 → prune.
    const v = studyWith(new PatientPruner(null, 2, 0.2), []).ask();
    reportAll(v, [[0, 5], [1, 4], [2, 4.5], [3, 4.3], [4, 4.25]]);
    expect(v.shouldPrune()).toBe(true);
    // Wrapped: defers to the wrapped pruner (Nop → never).
    const w = studyWith(new PatientPruner(new NopPruner(), 0), []).ask();
    reportAll(w, [[0, 1], [1, 2]]);
    expect(w.shouldPrune()).toBe(false);
  });
});
