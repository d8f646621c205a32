/** EarlyStoppingCallback on hand-worked metric sequences (HF's patience and threshold semantics). */
import { describe, expect, it } from 'vitest';
import { EarlyStoppingCallback } from '../../src/train/trainer-callback.js';

const event = (slot = 0) => ({ slot, globalStep: 0, epoch: 0 });

describe('EarlyStoppingCallback', () => {
  it('stops after `patience` evaluations without improvement (lower is better)', () => {
    const callback = new EarlyStoppingCallback('eval_loss', false, 2);
    // 0.9 (best) → 0.8 (best) → 0.85 (wait 1) → 0.8 (equal: no improvement, wait 2 → stop)
    const decisions = [0.9, 0.8, 0.85, 0.8].map((v) => callback.onEvaluate(event(), { eval_loss: v }).shouldTrainingStop ?? false);
    expect(decisions).toEqual([false, false, false, true]);
  });
  it('needs an improvement larger than the threshold, and keeps slots apart', () => {
    const callback = new EarlyStoppingCallback('eval_accuracy', true, 1, 0.01);
    expect(callback.onEvaluate(event(0), { eval_accuracy: 0.5 }).shouldTrainingStop ?? false).toBe(false);
    expect(callback.onEvaluate(event(1), { eval_accuracy: 0.2 }).shouldTrainingStop ?? false).toBe(false);
    // +0.005 is under the threshold: slot 0 stops; slot 1 improved by 0.3 and goes on.
    expect(callback.onEvaluate(event(0), { eval_accuracy: 0.505 }).shouldTrainingStop).toBe(true);
    expect(callback.onEvaluate(event(1), { eval_accuracy: 0.5 }).shouldTrainingStop ?? false).toBe(false);
  });
  it('names a missing metric', () => {
    expect(() => new EarlyStoppingCallback('eval_f1', true).onEvaluate(event(), { eval_loss: 1 })).toThrow(/metric 'eval_f1' is not among eval_loss/);
  });
});
