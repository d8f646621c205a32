/**
 * Evaluation batches examples of similar length (slot-batches.ts, `evaluationBatches`): worked by hand; and what makes
 * that safe, checked on the GPU: an example's logits have the same bits whatever batch it is in (here: alone, against
 * a batch of examples of other lengths), and predict() hands every example's logits back at its own index.
 */
import { describe, expect, it } from 'vitest';
import { AdamW } from '../../src/nn/adamw.js';
import type { ModelConfig } from '../../src/nn/config.js';
import { SequenceClassifier } from '../../src/nn/sequence-classifier.js';
import type { EncodedExample } from '../../src/train/data/collator.js';
import { evaluationBatches } from '../../src/train/slot-batches.js';
import { optimizerSettings, trainingArgumentsFrom } from '../../src/train/training-arguments.js';
import { TrainingGroup } from '../../src/train/training-group.js';
import { useDevice } from '../helpers/gpu.js';
import { randomInts } from '../helpers/random.js';

const device = useDevice();

const base = { vocabSize: 40, numHeads: 2, maxPositionEmbeddings: 32, numLabels: 3, hiddenDropoutProb: 0.1, attentionDropoutProb: 0.1, layerNormEps: 1e-12 };
// Odd sizes (scalar kernel paths), and the bench sweep's model (vec4 paths).
const configs: [string, ModelConfig][] = [
  ['hidden 8, 2 layers', { ...base, hiddenSize: 8, numLayers: 2, intermediateSize: 12 }],
  ['hidden 32, 1 layer', { ...base, hiddenSize: 32, numLayers: 1, intermediateSize: 64 }],
];

describe('evaluation batches', () => {
  it('order examples by length, ties in dataset order', () => {
    expect(evaluationBatches([5, 2, 5, 1, 3], 2)).toEqual([[3, 1], [4, 0], [2]]);
    expect(evaluationBatches([4, 4, 4], 2)).toEqual([[0, 1], [2]]); // pre-padded data: the dataset's order
    expect(evaluationBatches([], 2)).toEqual([]);
  });

  it.each(configs)('give every example the logits it gets alone, at its own index, in every slot (%s)', async (_, config) => {
    const d = device();
    const lengths = [9, 2, 17, 5, 5, 30, 1, 12, 3, 22, 7];
    const ids = randomInts(lengths.length * 32, 3, 1, 40);
    const examples: EncodedExample[] = lengths.map((length, i) => ({
      inputIds: Array.from(ids.subarray(i * 32, i * 32 + length)),
      attentionMask: new Array(length).fill(1),
      label: i % 3,
    }));
    const slotArgs = [1, 2].map((seed) => trainingArgumentsFrom({ per_device_eval_batch_size: 4, seed }));
    const model = new SequenceClassifier(d, config, [1, 2]);
    const optimizer = new AdamW(d, model.namedParameters(), slotArgs.map(optimizerSettings));
    const group = new TrainingGroup({ device: d, model, optimizer, slotArgs, trainExamples: examples });
    try {
      const together = await group.predict(examples);
      for (const [i, example] of examples.entries()) {
        const alone = await group.predict([example]);
        for (let t = 0; t < 2; t++) {
          const row = together[t].logits.subarray(i * 3, i * 3 + 3);
          expect(Buffer.from(row.slice().buffer).equals(Buffer.from(alone[t].logits.buffer)), `example ${i} (length ${lengths[i]}), slot ${t}`).toBe(true);
        }
      }
      // The mean loss is the examples' mean, batch by batch (HF's per-sample mean over the set).
      for (let t = 0; t < 2; t++) {
        const single = await Promise.all(examples.map(async (e) => (await group.predict([e]))[t].loss));
        expect(together[t].loss).toBeCloseTo(single.reduce((a, b) => a + b, 0) / single.length, 6);
      }
    } finally {
      group.release();
      optimizer.release();
      model.release();
    }
  });
});
