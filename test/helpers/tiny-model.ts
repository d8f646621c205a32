/** The tiny classifier and data the search tests train (seconds on lavapipe): vocabulary 30, hidden 8, one layer. */
import type { ModelConfig } from '../../src/nn/config.js';
import type { EncodedExample } from '../../src/train/data/collator.js';
import { randomInts } from './random.js';

export const tinyModelConfig: ModelConfig = {
  vocabSize: 30, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 8, maxPositionEmbeddings: 8,
  numLabels: 2, hiddenDropoutProb: 0, attentionDropoutProb: 0, layerNormEps: 1e-12,
};

/** `count` examples of 4 random tokens in 5..29, labels alternating 0, 1. */
export function tinyExamples(count: number, seed: number): EncodedExample[] {
  const ids = randomInts(count * 6, seed, 5, 30);
  return Array.from({ length: count }, (_, i) => ({ inputIds: Array.from(ids.subarray(i * 6, i * 6 + 4)), attentionMask: [1, 1, 1, 1], label: i % 2 }));
}
