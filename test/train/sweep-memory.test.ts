/**
 * A sweep gives back what it takes on the device (issue 14, "memory"): after 50 trials in fused groups of 4, the
 * buffers in use are where they were after the first group, and the pooled bytes where they were after the second. A leak of
 * one tensor per trial would leave 50 buffers in use.
 */
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/nn/config.js';
import { SequenceClassifier } from '../../src/nn/sequence-classifier.js';
import { Trainer } from '../../src/train/trainer.js';
import { useDevice } from '../helpers/gpu.js';
import { tinyExamples, tinyModelConfig } from '../helpers/tiny-model.js';

const device = useDevice();

const config: ModelConfig = { ...tinyModelConfig, hiddenDropoutProb: 0.1, attentionDropoutProb: 0.1 };

const examples = tinyExamples;

describe('a sweep of 50 trials', () => {
  it('leaves the device as it found it after the first group', { timeout: 300_000 }, async () => {
    const d = device();
    d.poisonAllocations = false;
    const before = d.poolStats().inUse;
    const afterGroups: { inUse: number; bytesLive: number }[] = [];
    const trainer = new Trainer({
      device: d,
      modelInit: (dev, seeds) => new SequenceClassifier(dev, config, seeds),
      args: { per_device_train_batch_size: 4, max_steps: 3, eval_strategy: 'steps', eval_steps: 3, save_strategy: 'no' },
      trainDataset: examples(8, 1),
      evalDataset: examples(4, 2),
    });
    let ended = 0;
    await trainer.hyperparameterSearch({
      nTrials: 50,
      slots: 4,
      hpSpace: (trial) => ({ learning_rate: trial.suggestFloat('learning_rate', 1e-4, 1e-2, { log: true }) }),
      onTrialEnd: () => {
        // A group's four trials end together; sample once the whole group is done.
        if (++ended % 4 === 0) afterGroups.push({ inUse: d.poolStats().inUse, bytesLive: d.poolStats().bytesLive });
      },
    });
    trainer.release();
    expect(ended).toBe(50);
    // The pool's bytes settle by the second group (the first group's captured step holds its intermediates out of
    // the pool, so the second group's evaluation takes a few new ones: 5 KB here), then stay flat for 10 more.
    const [first, second] = afterGroups;
    const last = afterGroups[afterGroups.length - 1];
    expect(last.inUse).toBe(first.inUse);
    expect(last.bytesLive).toBe(second.bytesLive);
    expect(second.bytesLive - first.bytesLive).toBeLessThan(first.bytesLive / 10);
    expect(d.poolStats().inUse).toBe(before);
  });
});
