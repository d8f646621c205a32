/** Learning-rate schedules against values worked out by hand from HF's lambdas (transformers/optimization.py). */
import { describe, expect, it } from 'vitest';
import { scheduleFactor, warmupStepsFor } from '../../src/nn/schedules.js';

describe('learning-rate schedules', () => {
  it('linear with 10 warmup steps over 100', () => {
    // warmup: k/10; then (100-k)/90
    expect([0, 5, 10, 55, 100, 120].map((k) => scheduleFactor('linear', k, 10, 100))).toEqual([0, 0.5, 1, 0.5, 0, 0]);
  });
  it('cosine: half-way through the decay is 0.5, the end is 0', () => {
    expect(scheduleFactor('cosine', 4, 8, 108)).toBe(0.5);
    expect(scheduleFactor('cosine', 58, 8, 108)).toBeCloseTo(0.5, 12);
    expect(scheduleFactor('cosine', 8, 8, 108)).toBe(1);
    expect(scheduleFactor('cosine', 108, 8, 108)).toBeCloseTo(0, 12);
  });
  it('constant ignores warmup; constant_with_warmup ramps then holds', () => {
    expect(scheduleFactor('constant', 0, 10, 100)).toBe(1);
    expect(scheduleFactor('constant_with_warmup', 3, 10, 100)).toBe(0.3);
    expect(scheduleFactor('constant_with_warmup', 50, 10, 100)).toBe(1);
  });
  it('warmup steps: explicit steps win, else ceil(total * ratio)', () => {
    expect(warmupStepsFor(1000, 0, 0.06)).toBe(60);
    expect(warmupStepsFor(101, 0, 0.1)).toBe(11);
    expect(warmupStepsFor(1000, 7, 0.5)).toBe(7);
  });
});
