/** Metrics against the worked examples in scikit-learn's documentation and hand counts. */
import { describe, expect, it } from 'vitest';
import { accuracy, f1Binary, f1Macro, matthewsCorrelation } from '../../src/train/metrics.js';

describe('metrics', () => {
  it("scikit-learn's f1_score example: macro 0.2666…", () => {
    // sklearn.metrics.f1_score docs: y_true=[0,1,2,0,1,2], y_pred=[0,2,1,0,0,1] → macro 0.26666666666666666
    expect(f1Macro([0, 2, 1, 0, 0, 1], [0, 1, 2, 0, 1, 2])).toBeCloseTo(0.26666666666666666, 12);
    expect(accuracy([0, 2, 1, 0, 0, 1], [0, 1, 2, 0, 1, 2])).toBeCloseTo(1 / 3, 12);
  });
  it("scikit-learn's matthews_corrcoef example: -0.333…", () => {
    // docs: y_true=[+1,+1,+1,-1], y_pred=[+1,-1,+1,+1] → -0.33333333333333337
    expect(matthewsCorrelation([1, -1, 1, 1], [1, 1, 1, -1])).toBeCloseTo(-1 / 3, 12);
  });
  it('binary F1 by hand: tp=2 fp=1 fn=1 → 2·2/(2·2+1+1) = 2/3', () => {
    expect(f1Binary([1, 1, 1, 0, 0], [1, 1, 0, 1, 0])).toBeCloseTo(2 / 3, 12);
  });
  it('perfect and constant predictions', () => {
    expect(matthewsCorrelation([0, 1, 2], [0, 1, 2])).toBeCloseTo(1, 12);
    expect(matthewsCorrelation([1, 1, 1], [0, 1, 0])).toBe(0);
    expect(f1Binary([0, 0], [0, 0])).toBe(0);
  });
  it('mismatched lengths are an error', () => {
    expect(() => accuracy([1], [1, 0])).toThrow(/1 predictions for 2 labels/);
  });
});
