/**
 * A BERT-style sequence classifier (Devlin et al. 2019): token + position embeddings, LayerNorm, N post-LN
 * encoder layers, a [CLS] pooler (dense + tanh) and a linear classification head; the loss is softmax
 * cross-entropy. Built for T trial slots; each slot is an independent model (its own initialisation seed).
 */
import { crossEntropy } from '../tensor/ops/cross-entropy.js';
import { tanhDropout } from '../tensor/ops/dropout.js';
import { add, tanh } from '../tensor/ops/elementwise.js';
import { embedding } from '../tensor/ops/embedding.js';
import { embeddingsLayerNorm } from '../tensor/ops/embeddings-layernorm.js';
import { selectFirstRows, selectRows } from '../tensor/ops/select-rows.js';
import { reshape } from '../tensor/ops/shape.js';
import type { Device } from '../gpu/device.js';
import type { Tensor } from '../tensor/tensor.js';
import { validateModelConfig, type ModelConfig } from './config.js';
import { Dropout } from './dropout.js';
import { slotTokenShape } from './attention.js';
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

  /** What chooses a step's kernels besides the shapes: training mode and the fused paths (trainable-model.ts). */
  get commandsKey(): string {
    const layers = this.layers.map((layer) => `${Number(layer.fuseResidualNorm)}${Number(layer.attention.fused)}`);
    return `${Number(this.training)}${Number(this.fuseEmbeddings)}${Number(this.fusePooler)}${layers.join('')}`;
  }
  readonly wordEmbeddings: Embedding;
  readonly positionEmbeddings: Embedding;
  readonly embeddingNorm: LayerNorm;
  readonly layers: EncoderLayer[] = [];
  readonly pooler: Linear;
  readonly classifier: Linear;
  private readonly embeddingDropout = this.child('embedding_dropout', new Dropout('hidden'));
  private readonly poolerDropout = this.child('pooler_dropout', new Dropout('hidden'));
  /**
   * True (the default): the embeddings block is one embeddingsLayerNorm op (one forward dispatch for both gathers,
   * the add, LayerNorm and dropout; positions as uploadBatch lays them out, with a one-dispatch gradient) and the
   * [CLS] rows one selectRows or selectFirstRows (a one-dispatch gradient). False: the composition embedding +
   * embedding, add, LayerNorm, dropout and an embedding lookup of `clsIndex`: the same values and dropout masks, kept
   * to check the fused ops against (test/nn/embeddings-fused.test.ts). Parameters and their names are the same
   * either way.
   */
  fuseEmbeddings = true;
  /**
   * True (the default): the pooler's tanh and dropout are one tanhDropout op (one dispatch each way). False: tanh,
   * then the Dropout module; the same bits (kernels/dropout's tests), kept to check the fused op against.
   */
  fusePooler = true;

  /**
   * `seeds`: one initialisation seed per trial slot (T = seeds.length). `keptVocabulary` (ascending token ids): the
   * word embedding holds only these rows, drawn with the values the whole table would give them (as keepVocabulary
   * after building, without drawing or uploading the rest); input ids are then positions in it.
   */
  constructor(device: Device, config: ModelConfig, seeds: readonly number[], options: { keptVocabulary?: Int32Array } = {}) {
    super();
    this.config = validateModelConfig({ ...config });
    this.slots = seeds.length;
    const context: BuildContext = { device, slots: seeds.length, randoms: seeds.map((s) => new SlotRandom(s)) };
    const c = this.config;
    const kept = options.keptVocabulary;
    this.wordEmbeddings = this.child('word_embeddings', new Embedding(context, c.vocabSize, c.hiddenSize, kept));
    this.keptVocabulary = kept ? Int32Array.from(kept) : null;
    this.positionEmbeddings = this.child('position_embeddings', new Embedding(context, c.maxPositionEmbeddings, c.hiddenSize));
    this.embeddingNorm = this.child('embedding_norm', new LayerNorm(context, c.hiddenSize, c.layerNormEps));
    for (let i = 0; i < c.numLayers; i++) {
      this.layers.push(this.child(`layer.${i}`, new EncoderLayer(context, c.hiddenSize, c.numHeads, c.intermediateSize, c.layerNormEps)));
    }
    this.pooler = this.child('pooler', new Linear(context, c.hiddenSize, c.hiddenSize));
    this.classifier = this.child('classifier', new Linear(context, c.hiddenSize, c.numLabels));
  }

  /** The token ids the word embedding keeps, ascending (id kept[i] is row i), after keepVocabulary; else null. */
  keptVocabulary: Int32Array | null = null;

  /**
   * Keeps only the word embedding rows `rows` (ascending ids) in every slot; input ids are then positions in
   * `rows`. Rows no input reaches get no gradient, so the kept rows train exactly as in the full table; AdamW,
   * clipping and the embedding's gradient then cost the kept rows only. Once per model, before its optimizer.
   */
  keepVocabulary(rows: Int32Array): void {
    if (this.keptVocabulary) throw new Error('SequenceClassifier.keepVocabulary: the vocabulary was already restricted');
    this.wordEmbeddings.keepRows(rows);
    this.keptVocabulary = Int32Array.from(rows);
  }

  /**
   * True (the default): batches whose shapes every layer's fused attention takes are packed, each slot's sequences
   * end to end (model-input.ts): the same values, a third of the rows on a fused group. False: always padded.
   */
  packSequences = true;

  /** Whether a batch of these dims is uploaded packed (TrainableModel.packsSequences). */
  packsSequences(dims: { slots: number; batch: number; seq: number }): boolean {
    const padded = { ...dims, rows: dims.batch * dims.seq, packed: false };
    return this.packSequences && this.layers.every((layer) => layer.attention.takesFused(padded, this.wordEmbeddings.table.device));
  }

  /** Logits (T, B, numLabels). */
  forward(input: ModelInput, context: ForwardContext): Tensor {
    const { dims } = input;
    const tokens = slotTokenShape(dims, this.config.hiddenSize); // dropout's view of one slot of (T, rows, H)
    let hidden = this.embed(input, context, tokens); // (T, rows, H)
    for (const layer of this.layers) hidden = layer.forward(hidden, input, context);
    // The [CLS] rows, the first of each sequence: (T, B, H), each a one-dispatch gradient: row b·S padded, the
    // sequence table's first rows packed. Unfused, an embedding lookup of clsIndex into the hidden states.
    const cls = !this.fuseEmbeddings
      ? embedding(hidden, input.clsIndex)
      : dims.packed ? selectFirstRows(hidden, input.sequences) : selectRows(hidden, { stride: dims.seq });
    return this.classifier.forward(this.pool(this.pooler.forward(cls), context));
  }

  /** dropout(tanh(dense([CLS]))): one op when `fusePooler`, else tanh and the Dropout module (the same bits). */
  private pool(dense: Tensor, context: ForwardContext): Tensor {
    if (!this.fusePooler) return this.poolerDropout.forward(tanh(dense), context);
    const dropout = this.poolerDropout.settings(context); // the module's site and call number
    return dropout ? tanhDropout(dense, { ...dropout, training: true }) : tanh(dense);
  }

  /** dropout(LayerNorm(word + position embeddings)): (T, B·S, H). `tokens`: one slot's [B, S, H]. */
  private embed(input: ModelInput, context: ForwardContext, tokens: number[]): Tensor {
    if (!this.fuseEmbeddings) {
      const embedded = add(this.wordEmbeddings.forward(input.inputIds), this.positionEmbeddings.forward(input.positionIds));
      return this.embeddingDropout.forward(this.embeddingNorm.forward(embedded), context, tokens);
    }
    const norm = this.embeddingNorm;
    // The same dropout site, taken at the same point of the forward, as the unfused path's Dropout module.
    const dropout = this.embeddingDropout.settings(context, tokens);
    return embeddingsLayerNorm(
      this.wordEmbeddings.table, this.positionEmbeddings.table, input.inputIds, input.positionIds, norm.weight, norm.bias,
      // Padded, positions are row mod S (uploadBatch's): computed, not read. Packed, read, and they count up along
      // the input's sequences (the tail's rows get no gradient): the position gradient is one dispatch either way.
      { eps: norm.eps, dropout, ...(input.dims.packed ? { positionSequences: input.sequences } : { positionPeriod: input.dims.seq }) },
    );
  }

  /** Mean cross-entropy per slot: (T). Summing it gives every slot its own gradient. */
  loss(logits: Tensor, labels: Tensor): Tensor {
    const { slots } = this;
    return crossEntropy(reshape(logits, [logits.size / this.config.numLabels, this.config.numLabels]), labels, { slots });
  }
}
