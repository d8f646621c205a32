/**
 * A BERT-style sequence classifier (Devlin et al. 2019): token + position embeddings, LayerNorm, N post-LN
 * encoder layers, a [CLS] pooler (dense + tanh) and a linear classification head; the loss is softmax
 * cross-entropy. Built for T trial slots; each slot is an independent model (its own initialisation seed).
 */
import { crossEntropy } from '../tensor/ops/cross-entropy.js';
import { add, tanh } from '../tensor/ops/elementwise.js';
import { embedding } from '../tensor/ops/embedding.js';
import { reshape } from '../tensor/ops/shape.js';
import type { Device } from '../gpu/device.js';
import type { Tensor } from '../tensor/tensor.js';
import { validateModelConfig, type ModelConfig } from './config.js';
import { Dropout } from './dropout.js';
import { Embedding } from './embedding.js';
import { EncoderLayer } from './encoder-layer.js';
import type { ForwardContext } from './forward-context.js';
import { SlotRandom } from './init.js';
import { LayerNorm } from './layer-norm.js';
import { Linear } from './linear.js';
import type { ModelInput } from './model-input.js';
import { Module, type BuildContext } from './module.js';

export class SequenceClassifier extends Module {
  readonly config: ModelConfig;
  readonly slots: number;
  /** Its step records the same commands for every batch of a shape (trainable-model.ts): it is replayed. */
  readonly staticStep = true;
  readonly wordEmbeddings: Embedding;
  readonly positionEmbeddings: Embedding;
  readonly embeddingNorm: LayerNorm;
  readonly layers: EncoderLayer[] = [];
  readonly pooler: Linear;
  readonly classifier: Linear;
  private readonly embeddingDropout = this.child('embedding_dropout', new Dropout('hidden'));
  private readonly poolerDropout = this.child('pooler_dropout', new Dropout('hidden'));

  /** `seeds`: one initialisation seed per trial slot (T = seeds.length). */
  constructor(device: Device, config: ModelConfig, seeds: readonly number[]) {
    super();
    this.config = validateModelConfig({ ...config });
    this.slots = seeds.length;
    const context: BuildContext = { device, slots: seeds.length, randoms: seeds.map((s) => new SlotRandom(s)) };
    const c = this.config;
    this.wordEmbeddings = this.child('word_embeddings', new Embedding(context, c.vocabSize, c.hiddenSize));
    this.positionEmbeddings = this.child('position_embeddings', new Embedding(context, c.maxPositionEmbeddings, c.hiddenSize));
    this.embeddingNorm = this.child('embedding_norm', new LayerNorm(context, c.hiddenSize, c.layerNormEps));
    for (let i = 0; i < c.numLayers; i++) {
      this.layers.push(this.child(`layer.${i}`, new EncoderLayer(context, c.hiddenSize, c.numHeads, c.intermediateSize, c.layerNormEps)));
    }
    this.pooler = this.child('pooler', new Linear(context, c.hiddenSize, c.hiddenSize));
    this.classifier = this.child('classifier', new Linear(context, c.hiddenSize, c.numLabels));
  }

  /** Logits (T, B, numLabels). */
  forward(input: ModelInput, context: ForwardContext): Tensor {
    const { dims } = input;
    const embedded = add(this.wordEmbeddings.forward(input.inputIds), this.positionEmbeddings.forward(input.positionIds));
    const tokens = [dims.batch, dims.seq, this.config.hiddenSize]; // one slot of (T, B·S, H), S as its own axis
    let hidden = this.embeddingDropout.forward(this.embeddingNorm.forward(embedded), context, tokens); // (T, B·S, H)
    for (const layer of this.layers) hidden = layer.forward(hidden, input.maskBias, dims, context);
    // The [CLS] rows, gathered as an embedding lookup into the hidden states: (T, B, H).
    const cls = embedding(hidden, input.clsIndex);
    const pooled = this.poolerDropout.forward(tanh(this.pooler.forward(cls)), context);
    return this.classifier.forward(pooled);
  }

  /** Mean cross-entropy per slot: (T). Summing it gives every slot its own gradient. */
  loss(logits: Tensor, labels: Tensor): Tensor {
    const { slots } = this;
    return crossEntropy(reshape(logits, [logits.size / this.config.numLabels, this.config.numLabels]), labels, { slots });
  }
}
