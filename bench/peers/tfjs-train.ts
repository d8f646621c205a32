/**
 * Peer for `webtrainer bench train`: the spec's BERT-style classifier (train-model-spec.ts) written with
 * TensorFlow.js ops on its WebGPU backend, trained with AdamW + global-norm clipping written out as tf ops (tfjs has
 * `tf.train.adam` but no AdamW). Gradients come from `tf.variableGrads`. Dropout is `tf.dropout` (inverted, as
 * webtrainer's). Loaded with a dynamic `import()`: a production install without the dev dependency reports
 * "not installed".
 *
 * Waiting: each step ends the tfjs compute pass, submits, and waits for `onSubmittedWorkDone` with webtrainer's
 * quiet wait (PEERS.md), so the loss is never read inside the timed loop.
 */
import { waitForGpu } from '../../src/gpu/quiet-wait.js';
import { loadTf } from './tfjs-webgpu.js';
import {
  initialParameters,
  parameterSpecs,
  syntheticBatch,
  trainModelSpec,
  type TrainModelSpec,
  type TrainRunner,
} from './train-model-spec.js';

type T = any; // eslint-disable-line @typescript-eslint/no-explicit-any


/** A tfjs training runner for `spec`, or the reason there is none. */
export async function loadTfjsTrainer(spec: TrainModelSpec = trainModelSpec): Promise<TrainRunner | string> {
  const tf = await loadTf();
  if (typeof tf === 'string') return tf;
  const backend = tf.backend();
  const flush = async () => {
    backend.endComputePassEncoder(); // Skipping this leaves invalid command buffers (PEERS.md).
    if (backend.commandEncoder) backend.submitQueue(); // Nothing recorded since the last flush: nothing to submit.
    await waitForGpu(backend.device.queue.onSubmittedWorkDone() as Promise<void>);
  };

  const specs = parameterSpecs(spec);
  const initial = initialParameters(spec);
  const params = new Map<string, T>();
  const m = new Map<string, T>();
  const v = new Map<string, T>();
  for (const p of specs) {
    params.set(p.name, tf.variable(tf.tensor(initial.get(p.name)!, p.shape, 'float32'), true));
    m.set(p.name, tf.variable(tf.zeros(p.shape), false));
    v.set(p.name, tf.variable(tf.zeros(p.shape), false));
  }
  const P = (name: string) => params.get(name)!;
  const { hiddenSize: H, numHeads: heads, numLabels } = spec;
  const d = H / heads;
  const data = syntheticBatch(spec);
  const { batch: B, seq: S } = data;
  const hiddenRate = spec.hiddenDropoutProb;
  const attentionRate = spec.attentionDropoutProb;

  const dense = (x: T, name: string) => tf.add(tf.matMul(x, P(`${name}.weight`)), P(`${name}.bias`));
  const layerNorm = (x: T, name: string) => {
    const { mean, variance } = tf.moments(x, -1, true);
    const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, spec.layerNormEps)));
    return tf.add(tf.mul(normed, P(`${name}.weight`)), P(`${name}.bias`));
  };
  // GELU, tanh form: 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))).
  const gelu = (x: T) =>
    tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))));
  const dropout = (x: T, rate: number) => (rate > 0 ? tf.dropout(x, rate) : x);

  /** ids (B·S) i32, maskBias (B, 1, 1, S), labels (B) i32 → mean cross-entropy (scalar). */
  const lossOf = (ids: T, maskBias: T, labels: T): T => {
    const words = tf.gather(P('word_embeddings.weight'), ids); // (B·S, H)
    const positions = tf.slice(P('position_embeddings.weight'), [0, 0], [S, H]); // (S, H)
    const embedded = tf.reshape(tf.add(tf.reshape(words, [B, S, H]), positions), [B * S, H]);
    let hidden = dropout(layerNorm(embedded, 'embedding_norm'), hiddenRate); // (B·S, H)
    const split = (t: T) => tf.transpose(tf.reshape(t, [B, S, heads, d]), [0, 2, 1, 3]); // (B, heads, S, d)
    for (let i = 0; i < spec.numLayers; i++) {
      const at = `layer.${i}.attention`;
      const q = split(tf.mul(dense(hidden, `${at}.query`), 1 / Math.sqrt(d)));
      const k = split(dense(hidden, `${at}.key`));
      const vv = split(dense(hidden, `${at}.value`));
      const scores = tf.add(tf.matMul(q, k, false, true), maskBias); // (B, heads, S, S)
      const probabilities = dropout(tf.softmax(scores), attentionRate);
      const mixed = tf.reshape(tf.transpose(tf.matMul(probabilities, vv), [0, 2, 1, 3]), [B * S, H]);
      const attended = dense(mixed, `${at}.output`);
      const h = layerNorm(tf.add(hidden, dropout(attended, hiddenRate)), `layer.${i}.attention_norm`);
      const expanded = dense(gelu(dense(h, `layer.${i}.intermediate`)), `layer.${i}.output`);
      hidden = layerNorm(tf.add(h, dropout(expanded, hiddenRate)), `layer.${i}.output_norm`);
    }
    const cls = tf.reshape(tf.slice(tf.reshape(hidden, [B, S, H]), [0, 0, 0], [B, 1, H]), [B, H]);
    const pooled = dropout(tf.tanh(dense(cls, 'pooler')), hiddenRate);
    const logits = dense(pooled, 'classifier'); // (B, numLabels)
    const picked = tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(labels, numLabels)), -1);
    return tf.neg(tf.mean(picked));
  };

  const o = spec.optimizer;
  const varList = specs.map((p) => P(p.name));
  let stepCount = 0;
  let keepNext = false;
  const kept: T[] = [];

  const step = async () => {
    stepCount++;
    // Upload the batch every step, as a training loop over a data set would.
    const ids = tf.tensor(data.inputIds, [B * S], 'int32');
    const maskBias = tf.tensor(data.maskBias, [B, 1, 1, S], 'float32');
    const labels = tf.tensor(data.labels, [B], 'int32');
    const bc1 = 1 - o.beta1 ** stepCount;
    const bc2 = 1 - o.beta2 ** stepCount;
    const loss = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => lossOf(ids, maskBias, labels), varList);
      // Global-norm clipping as torch.nn.utils.clip_grad_norm_: scale = min(1, max / (norm + 1e-6)), on the GPU.
      const squares = specs.map((p) => tf.sum(tf.square(grads[P(p.name).name])));
      // Pairwise adds: one addN over every parameter exceeds the adapter's storage-buffer bindings.
      const norm = tf.sqrt(squares.reduce((a: T, b: T) => tf.add(a, b)));
      const scale = tf.minimum(1, tf.div(o.maxGradNorm, tf.add(norm, 1e-6)));
      for (const p of specs) {
        const param = P(p.name);
        const g = tf.mul(grads[param.name], scale);
        const m2 = tf.add(tf.mul(m.get(p.name)!, o.beta1), tf.mul(g, 1 - o.beta1));
        const v2 = tf.add(tf.mul(v.get(p.name)!, o.beta2), tf.mul(tf.square(g), 1 - o.beta2));
        // Decoupled decay first (PyTorch's AdamW: p *= 1 - lr·wd), then the Adam step with bias corrections.
        const decayed = p.decay ? tf.mul(param, 1 - o.learningRate * o.weightDecay) : param;
        const update = tf.div(tf.div(m2, bc1), tf.add(tf.sqrt(tf.div(v2, bc2)), o.epsilon));
        param.assign(tf.sub(decayed, tf.mul(update, o.learningRate)));
        m.get(p.name)!.assign(m2);
        v.get(p.name)!.assign(v2);
      }
      return value;
    });
    for (const t of [ids, maskBias, labels]) t.dispose();
    if (keepNext) {
      kept.push(loss);
      keepNext = false;
    } else {
      loss.dispose();
    }
    await flush();
  };

  return {
    impl: 'tfjs-webgpu',
    notes: [
      `tfjs ${(tf.version?.['tfjs-core'] as string | undefined) ?? '?'}: every spec op, dropout included (tf.dropout)`,
      'AdamW and clipping written as tf ops; each step waited for (endComputePassEncoder + submitQueue + quiet wait on onSubmittedWorkDone)',
    ],
    step,
    sync: flush,
    keepNextLoss: () => {
      keepNext = true;
    },
    readKeptLosses: async () => {
      const values: number[] = [];
      for (const t of kept.splice(0)) {
        values.push(((await t.data()) as Float32Array)[0]);
        t.dispose();
      }
      return values;
    },
    parameterCount: () => varList.reduce((sum: number, p: T) => sum + (p.size as number), 0),
    release: async () => {
      for (const t of kept.splice(0)) t.dispose();
      for (const map of [params, m, v]) for (const t of map.values()) t.dispose();
    },
  };
}
