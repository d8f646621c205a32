/**
 * The model, optimizer and data of `webtrainer bench train`, shared by every implementation (webtrainer,
 * tfjs-webgpu, jax-js): webtrainer's default SequenceClassifier (src/nn/config.ts) with AdamW and global-norm
 * clipping, trained on one seeded synthetic batch. The parameter list below is the model's shape contract: a peer
 * builds exactly these tensors (names follow webtrainer's `namedParameters()`, without the slot axis), and the
 * benchmark's test counts them against a hand computation.
 *
 * Limits: the data are random tokens with random labels, repeated every step, so a falling loss only says the
 * model memorises one batch (a sanity check that gradients and updates are wired), not that it learns anything.
 */

export interface TrainModelSpec {
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
  /** Added to the attention scores of padding keys. */
  maskedScore: number;
  initStd: number;
  optimizer: {
    learningRate: number;
    beta1: number;
    beta2: number;
    epsilon: number;
    weightDecay: number;
    maxGradNorm: number;
  };
  batchSize: number;
  seqLength: number;
  /** Trailing positions of every row that are padding (attention mask 0). */
  paddingPerRow: number;
  /** Token ids are drawn from [low, high). */
  tokenRange: [number, number];
  dataSeed: number;
  initSeed: number;
}

export const trainModelSpec: TrainModelSpec = {
  vocabSize: 30522,
  hiddenSize: 64,
  numLayers: 2,
  numHeads: 2,
  intermediateSize: 256,
  maxPositionEmbeddings: 128,
  numLabels: 2,
  hiddenDropoutProb: 0.1,
  attentionDropoutProb: 0.1,
  layerNormEps: 1e-12,
  maskedScore: -1e9,
  initStd: 0.02,
  optimizer: { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, maxGradNorm: 1.0 },
  batchSize: 32,
  seqLength: 64,
  paddingPerRow: 16,
  tokenRange: [1000, 30000],
  dataSeed: 20261127,
  initSeed: 42,
};

export interface ParameterSpec {
  /** webtrainer's dotted name (src/nn modules), e.g. "layer.0.attention.query.weight". */
  name: string;
  shape: number[];
  init: 'normal' | 'zeros' | 'ones';
  /** Hugging Face's Trainer (and webtrainer's AdamW) decays neither biases nor LayerNorm weights. */
  decay: boolean;
}

/** Every parameter in webtrainer's creation order. Dense weights are (in, out): y = x W + b. */
export function parameterSpecs(spec: TrainModelSpec = trainModelSpec): ParameterSpec[] {
  const { hiddenSize: h, intermediateSize: f } = spec;
  const out: ParameterSpec[] = [];
  const dense = (name: string, fanIn: number, fanOut: number) => {
    out.push({ name: `${name}.weight`, shape: [fanIn, fanOut], init: 'normal', decay: true });
    out.push({ name: `${name}.bias`, shape: [fanOut], init: 'zeros', decay: false });
  };
  const norm = (name: string) => {
    out.push({ name: `${name}.weight`, shape: [h], init: 'ones', decay: false });
    out.push({ name: `${name}.bias`, shape: [h], init: 'zeros', decay: false });
  };
  out.push({ name: 'word_embeddings.weight', shape: [spec.vocabSize, h], init: 'normal', decay: true });
  out.push({ name: 'position_embeddings.weight', shape: [spec.maxPositionEmbeddings, h], init: 'normal', decay: true });
  norm('embedding_norm');
  for (let i = 0; i < spec.numLayers; i++) {
    for (const part of ['query', 'key', 'value', 'output']) dense(`layer.${i}.attention.${part}`, h, h);
    norm(`layer.${i}.attention_norm`);
    dense(`layer.${i}.intermediate`, h, f);
    dense(`layer.${i}.output`, f, h);
    norm(`layer.${i}.output_norm`);
  }
  dense('pooler', h, h);
  dense('classifier', h, spec.numLabels);
  return out;
}

export function parameterCount(spec: TrainModelSpec = trainModelSpec): number {
  return parameterSpecs(spec).reduce((sum, p) => sum + p.shape.reduce((a, b) => a * b, 1), 0);
}

/** xorshift32 in [0, 1): small, seeded, the same in every implementation. */
export function seededUniform(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

export interface SyntheticBatch {
  batch: number;
  seq: number;
  /** (B, S) token ids; padding positions hold 0. */
  inputIds: Int32Array;
  /** (B, S) 1 for tokens, 0 for padding. */
  attentionMask: Int32Array;
  /** (B) class ids. */
  labels: Int32Array;
  /** (B, S) 0 for tokens, `maskedScore` for padding: what attention adds to the scores of each key. */
  maskBias: Float32Array;
}

export function syntheticBatch(spec: TrainModelSpec = trainModelSpec): SyntheticBatch {
  const { batchSize: batch, seqLength: seq, paddingPerRow, tokenRange: [low, high] } = spec;
  if (paddingPerRow >= seq) throw new Error(`train spec: paddingPerRow (${paddingPerRow}) must be < seqLength (${seq})`);
  const random = seededUniform(spec.dataSeed);
  const inputIds = new Int32Array(batch * seq);
  const attentionMask = new Int32Array(batch * seq);
  const maskBias = new Float32Array(batch * seq);
  for (let b = 0; b < batch; b++) {
    for (let s = 0; s < seq; s++) {
      const i = b * seq + s;
      const token = s < seq - paddingPerRow;
      inputIds[i] = token ? low + Math.floor(random() * (high - low)) : 0;
      attentionMask[i] = token ? 1 : 0;
      maskBias[i] = token ? 0 : spec.maskedScore;
    }
  }
  const labels = Int32Array.from({ length: batch }, () => Math.floor(random() * spec.numLabels));
  return { batch, seq, inputIds, attentionMask, labels, maskBias };
}

/**
 * Initial values for the peers (Box-Muller on xorshift32, normal(0, initStd), zero biases, LayerNorm 1/0).
 * webtrainer initialises from its own per-slot generator with the same distributions, so the starting points
 * differ in their draws, not in their statistics.
 */
export function initialParameters(spec: TrainModelSpec = trainModelSpec): Map<string, Float32Array> {
  const random = seededUniform(spec.initSeed);
  const normal = () => {
    let u = 0;
    while (u === 0) u = random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  };
  const values = new Map<string, Float32Array>();
  for (const p of parameterSpecs(spec)) {
    const data = new Float32Array(p.shape.reduce((a, b) => a * b, 1));
    if (p.init === 'ones') data.fill(1);
    else if (p.init === 'normal') for (let i = 0; i < data.length; i++) data[i] = spec.initStd * normal();
    values.set(p.name, data);
  }
  return values;
}

/** One implementation's training loop, made ready to time. */
export interface TrainRunner {
  impl: TrainImpl;
  /** What this implementation leaves out or does differently, and how it waits for the device. */
  notes: string[];
  /** Records one full training step (forward, loss, backward, clip, AdamW) and, for peers, waits for it. */
  step(): Promise<void>;
  /** Waits until every recorded step has finished on the device. */
  sync(): Promise<void>;
  /** Starts keeping the loss of the next step, read later by `readKeptLosses` (no sync now). */
  keepNextLoss(): void;
  /** The kept losses, in order (a sync point). */
  readKeptLosses(): Promise<number[]>;
  /** Parameter count of the model as built (the test compares it with the spec's). */
  parameterCount(): number;
  /** webtrainer: how many steps were captured, replayed, or recorded in full (captured-training-step.ts). */
  replayCounts?(): { captured: number; replayed: number; uncaptured: number };
  /** webtrainer: records one step in full through the tensor layer, never replayed (the recording peer). */
  stepInFull?(): Promise<void>;
  release(): Promise<void>;
}

export type TrainImpl = 'webtrainer' | 'tfjs-webgpu' | 'jax-webgpu' | 'jax-wasm';
