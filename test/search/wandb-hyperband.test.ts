/**
 * W&B's hyperband early termination (wandb/sweeps `src/sweeps/hyperband_stopping.py`) on hand-worked cases.
 * Each expected decision is derived in the comments from the upstream rule: bands in evaluations; the threshold at
 * band b is sorted(b-th values of every run with >= b values)[int(n/eta)] (best first); a running run is judged at
 * the largest band it reached, by its value there (strict) or its best so far (not strict), and stops if worse.
 * The first four cases are wandb/sweeps' own tests (tests/test_hyperband_stopping.py), with the same expectations.
 */
import { describe, expect, it } from 'vitest';
import { WandbHyperbandPruner, wandbHyperbandBands, type WandbHyperbandOptions } from '../../src/search/pruners/wandb-hyperband.js';
import { RandomSampler } from '../../src/search/samplers/random.js';
import { createStudy, type Study } from '../../src/search/study.js';
import type { Trial } from '../../src/search/trial.js';

/** A study whose finished runs are COMPLETE trials with these histories (one value per evaluation). */
function sweep(opts: WandbHyperbandOptions, finished: number[][], direction: 'minimize' | 'maximize' = 'minimize'): Study {
  const study = createStudy({ pruner: new WandbHyperbandPruner(opts), direction, sampler: new RandomSampler({ seed: 0 }) });
  for (const h of finished) study.addTrial({ params: {}, distributions: {}, values: [h[h.length - 1]], intermediateValues: new Map(h.map((v, i) => [i, v])) });
  return study;
}

/** A running trial that has logged `history`, one evaluation every `every` steps. */
function running(study: Study, history: number[], every = 1): Trial {
  const t = study.ask();
  history.forEach((v, i) => t.report(v, i * every));
  return t;
}

describe('WandbHyperbandPruner: bands', () => {
  it('max_iter/s and min_iter bands as W&B computes them', () => {
    // max_iter 5, eta 2, s 2: 5/2 = 2.5 → 2, 2.5/2 = 1.25 → 1 → sorted [1, 2].
    expect(wandbHyperbandBands({ maxIter: 5, s: 2, eta: 2 })).toEqual([1, 2]);
    // max_iter 18, s 2, eta 3: 6, 2 → [2, 6] (upstream test_init_from_max_iter).
    expect(wandbHyperbandBands({ maxIter: 18, s: 2, eta: 3 })).toEqual([2, 6]);
    // max_iter 81, s 3, eta 3: 27, 9, 3 → [3, 9, 27] (upstream test_hyperband_max_iter_bands).
    expect(wandbHyperbandBands({ maxIter: 81, s: 3 })).toEqual([3, 9, 27]);
    // max_iter 4, s 3, eta 3: 1.33 → 1, then 0.44 < 1 stops → [1].
    expect(wandbHyperbandBands({ maxIter: 4, s: 3 })).toEqual([1]);
    // min_iter 30, eta 1.5: int(30), int(45), int(67.5) = 67 (the upstream comment "Bands: [30, 45, 67]"); 100 bands.
    const b = wandbHyperbandBands({ minIter: 30, eta: 1.5 });
    expect([b.slice(0, 3), b.length]).toEqual([[30, 45, 67], 100]);
    // Both given: max_iter and s win, as upstream checks max_iter first.
    expect(wandbHyperbandBands({ minIter: 1, maxIter: 27, s: 1 })).toEqual([9]);
  });

  it('rejects what W&B rejects, naming the option and value', () => {
    expect(() => new WandbHyperbandPruner({ minIter: 3, eta: 1 })).toThrow('early_terminate.eta (1) must be a number > 1');
    expect(() => new WandbHyperbandPruner({ minIter: 0 })).toThrow('early_terminate.min_iter (0) must be an integer >= 1');
    expect(() => new WandbHyperbandPruner({ maxIter: 2.5, s: 1 })).toThrow('early_terminate.max_iter (2.5) must be an integer');
    expect(() => new WandbHyperbandPruner({ maxIter: 9, s: 1.5 })).toThrow('early_terminate.s (1.5) must be an integer >= 0');
    // 2/3 < 1 on the first division: no band (upstream: "Bands must be an array of length at least 1").
    expect(() => new WandbHyperbandPruner({ maxIter: 2, s: 1 })).toThrow('max_iter 2, s 1, eta 3 give no band');
    expect(() => new WandbHyperbandPruner({ maxIter: 10 })).toThrow('needs min_iter, or max_iter and s');
    expect(() => new WandbHyperbandPruner({ minIter: 1, strict: 'yes' as never })).toThrow('early_terminate.strict ("yes") must be true or false');
  });
});

describe('WandbHyperbandPruner: decisions (upstream cases)', () => {
  it('test_5runs_band1_stop_2: max_iter 5, eta 2, s 2 → bands [1, 2]', () => {
    // Finished a [10, 9], e [10, 6, 6]; running b [10, 10], c [10, 8, 8], d [10, 7, 7].
    // Band 2 values: a 9, b 10, c 8, d 7, e 6 → sorted [6, 7, 8, 9, 10], index int(5/2) = 2 → threshold 8.
    // b: band 2, 10 > 8 → stop. c: 8 > 8 no. d: 7 no. Same with strict (value at band 2) and not (best so far).
    for (const strict of [true, false]) {
      const s = sweep({ maxIter: 5, eta: 2, s: 2, strict }, [[10, 9], [10, 6, 6]]);
      const [b, c, d] = [running(s, [10, 10]), running(s, [10, 8, 8]), running(s, [10, 7, 7])];
      expect([b.shouldPrune(), c.shouldPrune(), d.shouldPrune()]).toEqual([true, false, false]);
    }
  });

  it('test_5runs_band1_stop_2_1stnoband: a run judged at band 1, another at band 2', () => {
    // Finished a [10], e [10, 6, 6]; running b [11], c [10, 8, 8], d [10, 7, 7].
    // Band 1: [10, 11, 10, 10, 10] → sorted [10, 10, 10, 10, 11], index 2 → 10. b: 11 > 10 → stop.
    // Band 2: c 8, d 7, e 6 → sorted [6, 7, 8], index int(3/2) = 1 → 7. c: 8 > 7 → stop; d: 7 > 7 no.
    const s = sweep({ maxIter: 5, eta: 2, s: 2 }, [[10], [10, 6, 6]]);
    const [b, c, d] = [running(s, [11]), running(s, [10, 8, 8]), running(s, [10, 7, 7])];
    expect([b.shouldPrune(), c.shouldPrune(), d.shouldPrune()]).toEqual([true, true, false]);
  });

  it('test_eta_3 (strict false): max_iter 9, eta 3, s 2 → bands [1, 3]', () => {
    // Finished a [9, 8]; running b [11, 11], c [10, 8, 3], d [10, 7, 4], e [10, 6, 6].
    // Band 1: [9, 11, 10, 10, 10] → sorted [9, 10, 10, 10, 11], index int(5/3) = 1 → 10. b (best 11) > 10 → stop.
    // Band 3: c 3, d 4, e 6 → index int(3/3) = 1 → 4. c best 3, d best 4: kept; e best 6 > 4 → stop.
    const s = sweep({ maxIter: 9, eta: 3, s: 2, strict: false }, [[9, 8]]);
    const runs = [running(s, [11, 11]), running(s, [10, 8, 3]), running(s, [10, 7, 4]), running(s, [10, 6, 6])];
    expect(runs.map((r) => r.shouldPrune())).toEqual([true, false, false, true]);
  });

  it('test_eta_3_max (strict false, maximize): the same rule on negated values', () => {
    // Negated: a [10, 9], b [11, 11], c [10, 8, 5, 3], d [10, 6, 2], e [10, 6, 6, 6].
    // Band 1: sorted [10, 10, 10, 10, 11], index 1 → 10: b (11) stops. Band 3: c 5, d 2, e 6 → sorted [2, 5, 6],
    // index 1 → 5: c best 3 and d best 2 kept, e best 6 > 5 → stop.
    const s = sweep({ maxIter: 9, eta: 3, s: 2, strict: false }, [[-10, -9]], 'maximize');
    const runs = [running(s, [-11, -11]), running(s, [-10, -8, -5, -3]), running(s, [-10, -6, -2]), running(s, [-10, -6, -6, -6])];
    expect(runs.map((r) => r.shouldPrune())).toEqual([true, false, false, true]);
  });
});

describe('WandbHyperbandPruner: decisions (hand cases)', () => {
  it('strict compares the value at the band, not strict the best so far', () => {
    // min_iter 2, eta 3: bands 2, 6, 18. Finished A [5, 4], B [5, 3], C [5, 6]; running T [1, 5].
    // Band 2: A 4, B 3, C 6, T 5 → sorted [3, 4, 5, 6], index int(4/3) = 1 → 4.
    // strict: T's value at band 2 is 5 > 4 → stop. Not strict: T's best is 1 <= 4 → keep.
    const strict = sweep({ minIter: 2 }, [[5, 4], [5, 3], [5, 6]]);
    expect(running(strict, [1, 5]).shouldPrune()).toBe(true);
    const relaxed = sweep({ minIter: 2, strict: false }, [[5, 4], [5, 3], [5, 6]]);
    expect(running(relaxed, [1, 5]).shouldPrune()).toBe(false);
  });

  it('maximize: the threshold is the int(n/eta)-th best, running trials count too', () => {
    // min_iter 1, eta 2: bands 1, 2, 4, … Finished accuracies 0.5, 0.7, 0.9.
    // T reports 0.6: band 1 values [0.5, 0.7, 0.9, 0.6], best first [0.9, 0.7, 0.6, 0.5], index int(4/2) = 2 → 0.6:
    // 0.6 is not worse → keep. T2 reports 0.55: five values (T's included), best first [0.9, 0.7, 0.6, 0.55, 0.5],
    // index int(5/2) = 2 → 0.6: 0.55 is worse → stop.
    const s = sweep({ minIter: 1, eta: 2 }, [[0.5], [0.7], [0.9]], 'maximize');
    expect(running(s, [0.6]).shouldPrune()).toBe(false);
    expect(running(s, [0.55]).shouldPrune()).toBe(true);
  });

  it('counts evaluations, not steps: the {max_iter: 10, s: 2, eta: 3} sweep', () => {
    // Bands [1, 3] (10/3 = 3.33 → 3, 1.11 → 1). Finished A [4, 3, 2], B [4, 3, 1]; running T reports 5 at step 500.
    // T has one evaluation: band 1 values [4, 4, 5], index int(3/3) = 1 → 4; 5 > 4 → stop (step 500 is irrelevant).
    const s = sweep({ maxIter: 10, s: 2, eta: 3 }, [[4, 3, 2], [4, 3, 1]]);
    expect(running(s, [5], 500).shouldPrune()).toBe(true);
    // U reports 4 then 2.5 at steps 500, 1000: two evaluations, still judged at band 1 (band 3 needs three):
    // band 1 values [4, 4, 5, 4] → sorted [4, 4, 4, 5], index 1 → 4; U's value there, 4, is not worse → keep.
    expect(running(s, [4, 2.5], 500).shouldPrune()).toBe(false);
  });

  it("min_iter 50 with four evaluations never reaches a band (the README's sweep: 200 steps, eval every 50)", () => {
    // The first band is the 50th evaluation; ASHA over steps would have judged this trial at step 50.
    const s = sweep({ minIter: 50 }, [[0.1, 0.1, 0.1, 0.1], [0.2, 0.2, 0.2, 0.2]]);
    expect(running(s, [9, 9, 9, 9], 50).shouldPrune()).toBe(false);
  });

  it('NaN and infinite values are not evaluations (W&B filters invalid metric values)', () => {
    // min_iter 2: T logs NaN, 1, Inf → its history is [1]: no band reached → keep, however bad the NaN.
    const s = sweep({ minIter: 2 }, [[5, 4], [5, 3]]);
    expect(running(s, [NaN, 1, Infinity]).shouldPrune()).toBe(false);
    // V logs NaN, 9, 9 → history [9, 9]: band 2 values A 4, B 3, V 9 (T has only one) → sorted [3, 4, 9],
    // index int(3/3) = 1 → 4; 9 > 4 → stop.
    expect(running(s, [NaN, 9, 9]).shouldPrune()).toBe(true);
  });
});
