/**
 * A user's own model trains with the same Trainer (issue 11): anything with the TrainableModel shape. Here a
 * first-token classifier (an embedding of each sequence's first token, then a linear layer) on data whose label is
 * the first token's parity: a linearly separable task, so training must reach 100% accuracy on it.
 */
import { describe, expect, it } from 'vitest';
import type { Device } from '../../src/gpu/device.js';
import { Embedding } from '../../src/nn/embedding.js';
import type { ForwardContext } from '../../src/nn/forward-context.js';
import { SlotRandom } from '../../src/nn/init.js';
import { Linear } from '../../src/nn/linear.js';
import type { ModelInput } from '../../src/nn/model-input.js';
import { Module } from '../../src/nn/module.js';
import type { TrainableModel, TrainableModelConfig } from '../../src/nn/trainable-model.js';
import { crossEntropy } from '../../src/tensor/ops/cross-entropy.js';
import { embedding } from '../../src/tensor/ops/embedding.js';
import { reshape } from '../../src/tensor/ops/shape.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import type { EncodedExample } from '../../src/train/data/collator.js';
import { Trainer } from '../../src/train/trainer.js';
import { accuracy } from '../../src/train/metrics.js';
import { useDevice } from '../helpers/gpu.js';

const device = useDevice();

class FirstTokenClassifier extends Module implements TrainableModel {
  readonly slots: number;
  readonly config: TrainableModelConfig = { numLabels: 2, maxPositionEmbeddings: 16, hiddenDropoutProb: 0, attentionDropoutProb: 0 };
  private readonly tokens: Embedding;
  private readonly head: Linear;

  constructor(d: Device, seeds: number[]) {
    super();
    this.slots = seeds.length;
    const context = { device: d, slots: seeds.length, randoms: seeds.map((s) => new SlotRandom(s)) };
    this.tokens = this.child('tokens', new Embedding(context, 10, 8));
    this.head = this.child('head', new Linear(context, 8, 2));
  }

  forward(input: ModelInput, _context: ForwardContext): Tensor {
    const first = embedding(this.tokens.forward(input.inputIds), input.clsIndex); // (T, B, 8)
    return this.head.forward(first); // (T, B, 2)
  }

  loss(logits: Tensor, labels: Tensor): Tensor {
    return crossEntropy(reshape(logits, [logits.size / 2, 2]), labels, { slots: this.slots });
  }
}

describe('a model of the user\'s own', () => {
  it('trains with the Trainer to 100% on a separable task', async () => {
    const examples: EncodedExample[] = Array.from({ length: 40 }, (_, i) => {
      const first = i % 10;
      const length = 2 + (i % 5);
      return { inputIds: [first, ...Array.from({ length: length - 1 }, (_, j) => (i + j) % 10)], attentionMask: new Array(length).fill(1), label: first % 2 };
    });
    const trainer = new Trainer({
      device: device(),
      modelInit: (d, seeds) => new FirstTokenClassifier(d, seeds),
      args: { learning_rate: 0.05, per_device_train_batch_size: 8, per_device_eval_batch_size: 40, num_train_epochs: 15, eval_strategy: 'no', save_strategy: 'no', weight_decay: 0 },
      trainDataset: examples,
      evalDataset: examples,
      computeMetrics: ({ predictions, labelIds }) => ({ accuracy: accuracy(predictions, labelIds) }),
    });
    await trainer.train();
    const metrics = await trainer.evaluate();
    trainer.release();
    expect(metrics.eval_accuracy).toBe(1);
  });
});
