/**
 * The sequence classifier's configuration, with BERT's names (camelCase) and a small default that trains in
 * minutes on a CPU-only machine through lavapipe.
 */
export interface ModelConfig {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositionEmbeddings: number;
  numLabels: number;
  hiddenDropoutProb: number;
  attentionDropoutProb: number;
  layerNormEps: number;
}

export const defaultModelConfig: ModelConfig = {
  vocabSize: 30522, // BERT uncased WordPiece
  hiddenSize: 64,
  numLayers: 2,
  numHeads: 2,
  intermediateSize: 256,
  maxPositionEmbeddings: 128,
  numLabels: 2,
  hiddenDropoutProb: 0.1,
  attentionDropoutProb: 0.1,
  layerNormEps: 1e-12,
};

/** Validates a config, naming the key and value that is wrong. */
export function validateModelConfig(config: ModelConfig): ModelConfig {
  const positiveInts: (keyof ModelConfig)[] = [
    'vocabSize', 'hiddenSize', 'numLayers', 'numHeads', 'intermediateSize', 'maxPositionEmbeddings', 'numLabels',
  ];
  for (const key of positiveInts) {
    const value = config[key];
    if (!Number.isInteger(value) || value < 1) throw new Error(`model config: ${key} must be a positive integer, got ${value}`);
  }
  for (const key of ['hiddenDropoutProb', 'attentionDropoutProb'] as const) {
    const value = config[key];
    if (!(value >= 0 && value < 1)) throw new Error(`model config: ${key} must be in [0, 1), got ${value}`);
  }
  if (config.hiddenSize % config.numHeads !== 0) {
    throw new Error(`model config: hiddenSize (${config.hiddenSize}) must be a multiple of numHeads (${config.numHeads})`);
  }
  if (!(config.layerNormEps > 0)) throw new Error(`model config: layerNormEps must be > 0, got ${config.layerNormEps}`);
  return config;
}
