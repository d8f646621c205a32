/**
 * What the Trainer, a TrainingGroup and a sweep need of a model: any module with this shape trains with the same
 * loop and searches with the same search. `SequenceClassifier` is one; a user's own classifier is another.
 */
import type { Tensor } from '../tensor/tensor.js';
import type { ForwardContext } from './forward-context.js';
import type { ModelInput } from './model-input.js';

export interface TrainableModelConfig {
  /** Classes: logits are (T, B, numLabels). */
  numLabels: number;
  /** Longest sequence the model takes (positions): batches are never padded past it. */
  maxPositionEmbeddings: number;
  /** Default per-slot dropout rates, unless a group or trial sets its own. */
  hiddenDropoutProb: number;
  attentionDropoutProb: number;
}

export interface TrainableModel {
  /** Trial slots T: every parameter has a leading T axis (ARCHITECTURE.md). */
  readonly slots: number;
  /** Saved as a checkpoint's config.json. */
  readonly config: TrainableModelConfig;
  /**
   * True when a training step records the same GPU commands for every batch of one shape: the forward and loss make
   * no choice on the data in JavaScript and upload nothing (its inputs arrive in ModelInput). Such a step is
   * captured once and replayed (src/train/captured-training-step.ts); leave it unset when unsure.
   */
  readonly staticStep?: boolean;
  /**
   * With `staticStep`: what else chooses the commands of a step (training mode, switches between kernel paths); a
   * captured step is replayed only while it is unchanged.
   */
  readonly commandsKey?: string;
  /**
   * Optional: keep only the token embedding rows `rows` (ascending token ids); from then on the model takes token
   * id rows[i] as i. A sweep whose data reaches a few thousand ids of a 30,522-id vocabulary trains each slot's
   * table at that size (src/train/data/reached-vocabulary.ts). `keptVocabulary` is what it kept, if anything.
   */
  keepVocabulary?(rows: Int32Array): void;
  readonly keptVocabulary?: Int32Array | null;
  /**
   * Optional: true when the model takes a batch of these dims packed, each slot's sequences end to end
   * (ModelInput.dims.packed, model-input.ts); absent or false, every batch comes padded.
   */
  packsSequences?(dims: { slots: number; batch: number; seq: number }): boolean;
  /** Logits (T, B, numLabels). */
  forward(input: ModelInput, context: ForwardContext): Tensor;
  /** Mean loss per slot (T): summing it gives every slot its own gradient. */
  loss(logits: Tensor, labels: Tensor): Tensor;
  /** Parameters by stable name (checkpoints, weight decay rules). */
  namedParameters(): [string, Tensor][];
  parameters(): Tensor[];
  train(on?: boolean): unknown;
  eval(): unknown;
  release(): void;
}
