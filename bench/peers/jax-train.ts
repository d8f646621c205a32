/**
 * Peer for `webtrainer bench train`: the spec's BERT-style classifier (train-model-spec.ts) in jax-js
 * (@jax-js/jax), on its 'webgpu' and 'wasm' backends. A step is two `jit`-compiled functions — `valueAndGrad` of the
 * loss, then global-norm clipping + AdamW — with the word-embedding gather and its scatter-add gradient run eagerly
 * between them, because jax-js 0.1.25's `jit` cannot compile a scatter. Dropout draws its masks with
 * `random.bernoulli` from per-step keys passed into the jitted loss.
 *
 * jax-js is reference counted (README "Reference counting"): every function consumes its array arguments, so an
 * array used twice is passed as `x.ref` the first time. It is lazy, so each step ends with `blockUntilReady` on the
 * new parameters and moments: on webgpu waited for quietly (webtrainer's quiet wait) so Dawn's polling does not take
 * a core; on wasm with a plain `await`, because the main thread hands each kernel to the workers and a sleeping main
 * thread would stall them.
 *
 * Wasm threads: jax-js runs wasm kernels on browser-style Web Workers made from a Blob URL, which Node 20 lacks
 * (no global `Worker`), so it would run on one thread. `installWebWorkerShim` supplies a small `Worker` on top of
 * `node:worker_threads` so it gets `navigator.hardwareConcurrency` (2) workers over its shared wasm memory.
 */
import { waitForGpu } from '../../src/gpu/quiet-wait.js';
import { installNodeNavigator, isMissingPackage } from './tfjs-webgpu.js';
import {
  initialParameters,
  parameterSpecs,
  syntheticBatch,
  trainModelSpec,
  type TrainModelSpec,
  type TrainRunner,
} from './train-model-spec.js';

type Jax = any; // eslint-disable-line @typescript-eslint/no-explicit-any
type A = any; // eslint-disable-line @typescript-eslint/no-explicit-any
type Params = Record<string, A>;

export type JaxBackend = 'webgpu' | 'wasm';

// ---------------------------------------------------------------------------------------------------------------
// A Web Worker on node:worker_threads, for jax-js's wasm thread pool

const shimWorkers = new Set<{ terminate(): Promise<number> }>();

// Runs first in every worker thread: the Web Worker globals jax-js's worker source uses (self, onmessage, postMessage).
const WORKER_PRELUDE = `
const { parentPort } = require('node:worker_threads');
globalThis.self = globalThis;
globalThis.postMessage = (data) => parentPort.postMessage(data);
parentPort.on('message', (data) => { if (typeof self.onmessage === 'function') self.onmessage({ data }); });
`;

/** Installs a minimal global `Worker` (Blob-URL source, onmessage/onerror/postMessage) where none exists. */
async function installWebWorkerShim(threads: number): Promise<void> {
  if (typeof (globalThis as { Worker?: unknown }).Worker !== 'undefined') return;
  const { Worker: NodeWorker } = await import('node:worker_threads');
  const { resolveObjectURL } = await import('node:buffer');
  class WebWorkerShim {
    onmessage: ((event: { data: unknown }) => void) | null = null;
    onerror: ((event: { message: string }) => void) | null = null;
    private worker: InstanceType<typeof NodeWorker> | null = null;
    private readonly pending: unknown[] = [];

    constructor(url: string | URL) {
      const blob = resolveObjectURL(String(url));
      if (!blob) throw new Error(`Worker shim: ${String(url)} is not a Blob URL`);
      void blob.text().then((source) => {
        const worker = new NodeWorker(WORKER_PRELUDE + source, { eval: true });
        worker.on('message', (data: unknown) => this.onmessage?.({ data }));
        worker.on('error', (error: Error) => this.onerror?.({ message: error.message }));
        shimWorkers.add(worker);
        this.worker = worker;
        for (const message of this.pending.splice(0)) worker.postMessage(message);
      });
    }

    postMessage(message: unknown): void {
      if (this.worker) this.worker.postMessage(message);
      else this.pending.push(message);
    }

    terminate(): void {
      void this.worker?.terminate();
    }
  }
  (globalThis as { Worker?: unknown }).Worker = WebWorkerShim;
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  if (nav) Object.defineProperty(globalThis, 'navigator', { value: { ...nav, hardwareConcurrency: threads }, configurable: true, writable: true });
}

/** Ends the shim's worker threads (they would otherwise keep Node running). jax-js's wasm pool is unusable after. */
export async function stopWasmWorkers(): Promise<void> {
  await Promise.all([...shimWorkers].map((w) => w.terminate()));
  shimWorkers.clear();
}

// ---------------------------------------------------------------------------------------------------------------
// The model

let jaxModule: Jax | null = null;

async function loadJax(backend: JaxBackend, threads: number): Promise<Jax | string> {
  const name = '@jax-js/jax';
  try {
    installNodeNavigator();
    if (backend === 'wasm' && threads > 1) await installWebWorkerShim(threads);
    jaxModule ??= await import(name);
  } catch (error) {
    if (isMissingPackage(error, name)) return 'not installed';
    return `failed to load: ${(error as Error).message}`;
  }
  const jax = jaxModule;
  const available = (await jax.init(backend)) as string[];
  if (!available.includes(backend)) return `the ${backend} backend did not initialise`;
  jax.defaultDevice(backend);
  return jax;
}

export interface JaxTrainerOptions {
  /**
   * Wasm worker threads (default 2, the dev machine's cores). 1 installs no Worker shim: kernels then run on the
   * main thread. Decided at the first wasm `init` in the process; later runners share that pool.
   */
  threads?: number;
}

/** A jax-js training runner on `backend`, or the reason there is none. */
export async function loadJaxTrainer(
  backend: JaxBackend,
  spec: TrainModelSpec = trainModelSpec,
  options: JaxTrainerOptions = {},
): Promise<TrainRunner | string> {
  const threads = options.threads ?? 2;
  const jax = await loadJax(backend, threads);
  if (typeof jax === 'string') return jax;
  const np = jax.numpy;
  const nn = jax.nn;
  const random = jax.random;
  const device = backend;

  const specs = parameterSpecs(spec);
  const initial = initialParameters(spec);
  const upload = (data: Float32Array | Int32Array, shape: number[], dtype = np.float32) =>
    np.array(data, { shape, dtype, device });
  let params: Params = {};
  let m: Params = {};
  let v: Params = {};
  for (const p of specs) {
    params[p.name] = upload(initial.get(p.name)!, p.shape);
    m[p.name] = np.zeros(p.shape, { dtype: np.float32, device });
    v[p.name] = np.zeros(p.shape, { dtype: np.float32, device });
  }
  const { hiddenSize: H, numHeads: heads, numLabels } = spec;
  const d = H / heads;
  const data = syntheticBatch(spec);
  const { batch: B, seq: S } = data;
  // Dropout sites in forward order: embeddings, 3 per layer (attention probabilities, attention out, FFN out), pooler.
  const dropoutSites = 2 + 3 * spec.numLayers;

  // Every helper consumes its array arguments once (jax-js ownership).
  const dense = (x: A, p: Params, name: string) => np.matmul(x, p[`${name}.weight`]).add(p[`${name}.bias`]);
  const layerNorm = (x: A, p: Params, name: string) =>
    nn.standardize(x, -1, { epsilon: spec.layerNormEps }).mul(p[`${name}.weight`]).add(p[`${name}.bias`]);
  const dropout = (x: A, key: A, rate: number) => {
    if (rate === 0) {
      key.dispose();
      return x;
    }
    const keepMask = random.bernoulli(key, 1 - rate, x.shape).astype(np.float32);
    return x.mul(keepMask.mul(1 / (1 - rate)));
  };

  /**
   * The loss from the gathered word embeddings on: `words` (B·S, H) is an input, because jax-js's `jit` cannot
   * compile the scatter that a gather's gradient needs ("routine primitive scatter input is not imm"); the gather
   * and its scatter-add gradient run eagerly around the jitted parts. maskBias (B, 1, 1, S), labels (B) i32,
   * keys: one per dropout site.
   */
  const lossFn = (p: Params, words: A, maskBias: A, labels: A, keys: A[]) => {
    let site = 0;
    const positions = p['position_embeddings.weight'].slice([0, S], []); // (S, H): a slice, not a gather
    const embedded = words.reshape([B, S, H]).add(positions).reshape([B * S, H]);
    let hidden = dropout(layerNorm(embedded, p, 'embedding_norm'), keys[site++], spec.hiddenDropoutProb);
    const split = (t: A) => t.reshape([B, S, heads, d]).transpose([0, 2, 1, 3]); // (B, heads, S, d)
    for (let i = 0; i < spec.numLayers; i++) {
      const at = `layer.${i}.attention`;
      const q = split(dense(hidden.ref, p, `${at}.query`).mul(1 / Math.sqrt(d)));
      const k = split(dense(hidden.ref, p, `${at}.key`));
      const vv = split(dense(hidden.ref, p, `${at}.value`));
      const scores = np.matmul(q, k.transpose([0, 1, 3, 2])).add(maskBias.ref); // (B, heads, S, S)
      const probabilities = dropout(nn.softmax(scores, -1), keys[site++], spec.attentionDropoutProb);
      const mixed = np.matmul(probabilities, vv).transpose([0, 2, 1, 3]).reshape([B * S, H]);
      const attended = dropout(dense(mixed, p, `${at}.output`), keys[site++], spec.hiddenDropoutProb);
      const h = layerNorm(hidden.add(attended), p, `layer.${i}.attention_norm`);
      const inner = nn.gelu(dense(h.ref, p, `layer.${i}.intermediate`), { approximate: true });
      const expanded = dropout(dense(inner, p, `layer.${i}.output`), keys[site++], spec.hiddenDropoutProb);
      hidden = layerNorm(h.add(expanded), p, `layer.${i}.output_norm`);
    }
    maskBias.dispose();
    const cls = hidden.reshape([B, S, H]).slice([], 0, []); // (B, H)
    const pooled = dropout(np.tanh(dense(cls, p, 'pooler')), keys[site++], spec.hiddenDropoutProb);
    const logits = dense(pooled, p, 'classifier'); // (B, numLabels)
    const picked = nn.logSoftmax(logits, -1).mul(nn.oneHot(labels, numLabels)).sum(-1);
    return picked.mean().neg();
  };

  const o = spec.optimizer;
  const WORDS = 'word_embeddings.weight';
  const denseSpecs = specs.filter((s) => s.name !== WORDS);
  // Jit 1: loss and gradients of every parameter but the word table, and of the gathered word rows.
  const lossAndGrads = jax.jit((p: Params, words: A, maskBias: A, labels: A, keys: A[]) =>
    jax.valueAndGrad(lossFn, { argnums: [0, 1] })(p, words, maskBias, labels, keys),
  );
  // Jit 2: global-norm clipping (torch.nn.utils.clip_grad_norm_: scale = min(1, max / (norm + 1e-6))) and AdamW.
  const update = jax.jit((p: Params, mState: Params, vState: Params, grads: Params, bc1: A, bc2: A) => {
    const total = specs.map((s) => grads[s.name].ref.mul(grads[s.name].ref).sum()).reduce((a: A, b: A) => a.add(b));
    const scale = np.minimum(1, np.reciprocal(np.sqrt(total).add(1e-6)).mul(o.maxGradNorm));
    const next: Params = {};
    const nextM: Params = {};
    const nextV: Params = {};
    for (const s of specs) {
      const g = grads[s.name].mul(scale.ref);
      const m2 = mState[s.name].mul(o.beta1).add(g.ref.mul(1 - o.beta1));
      const v2 = vState[s.name].mul(o.beta2).add(g.ref.mul(g).mul(1 - o.beta2));
      // Decoupled decay first (PyTorch's AdamW: p *= 1 - lr·wd), then the Adam step with bias corrections.
      const decayed = s.decay ? p[s.name].mul(1 - o.learningRate * o.weightDecay) : p[s.name];
      const step = m2.ref.div(bc1.ref).div(np.sqrt(v2.ref.div(bc2.ref)).add(o.epsilon));
      next[s.name] = decayed.sub(step.mul(o.learningRate));
      nextM[s.name] = m2;
      nextV[s.name] = v2;
    }
    scale.dispose();
    bc1.dispose();
    bc2.dispose();
    return [next, nextM, nextV];
  });

  /** The word table's gradient: the gather's VJP (a scatter-add of `dWords` (B·S, H) into (vocab, H)), eager. */
  const wordTableGrad = (table: A, ids: A, dWords: A): A => {
    const [gathered, vjpFn] = jax.vjp((t: A) => np.take(t, ids, 0), [table]);
    gathered.dispose();
    const [dTable] = vjpFn(dWords);
    vjpFn.dispose?.();
    return dTable;
  };

  let stepCount = 0;
  let keepNext = false;
  const kept: A[] = [];
  const seed = spec.dataSeed % 1_000_000;

  const step = async () => {
    stepCount++;
    // Upload the batch every step, as a training loop over a data set would.
    const ids = upload(data.inputIds, [B * S], np.int32);
    const maskBias = upload(data.maskBias, [B, 1, 1, S]);
    const labels = upload(data.labels, [B], np.int32);
    const keys = Array.from({ length: dropoutSites }, (_, i) => random.key(seed + stepCount * 64 + i));
    const bc1 = np.array(1 - o.beta1 ** stepCount, { dtype: np.float32, device });
    const bc2 = np.array(1 - o.beta2 ** stepCount, { dtype: np.float32, device });
    const words = np.take(params[WORDS].ref, ids.ref, 0); // (B·S, H), eager gather
    const rest: Params = {};
    for (const s of denseSpecs) rest[s.name] = params[s.name].ref;
    const [loss, [grads, dWords]] = lossAndGrads(rest, words, maskBias, labels, keys) as [A, [Params, A]];
    grads[WORDS] = wordTableGrad(params[WORDS].ref, ids, dWords);
    [params, m, v] = update(params, m, v, grads, bc1, bc2) as [Params, Params, Params];
    if (keepNext) {
      kept.push(loss);
      keepNext = false;
    } else {
      loss.dispose();
    }
    await sync();
  };

  const sync = async () => {
    const ready = jax.blockUntilReady([params, m, v]) as Promise<unknown>;
    await (backend === 'webgpu' ? waitForGpu(ready) : ready);
  };

  return {
    impl: backend === 'webgpu' ? 'jax-webgpu' : 'jax-wasm',
    notes: [
      `jax-js 0.1.25 on ${backend}${backend === 'wasm' ? (threads > 1 ? ` (${threads} worker threads through a node:worker_threads Web Worker shim)` : ' (main thread only)') : ''}: every spec op, dropout included (random.bernoulli)`,
      `two jits per step (valueAndGrad; clipping + AdamW) with the word-embedding gather and its scatter-add gradient eager between them (jax-js jit cannot compile scatter); each step waited for (blockUntilReady on parameters and moments; ${backend === 'webgpu' ? 'quiet wait' : 'plain await'})`,
    ],
    step,
    sync,
    keepNextLoss: () => {
      keepNext = true;
    },
    readKeptLosses: async () => {
      const values: number[] = [];
      for (const t of kept.splice(0)) values.push(((await t.data()) as Float32Array)[0]);
      return values;
    },
    parameterCount: () => specs.reduce((sum, s) => sum + (params[s.name].size as number), 0),
    release: async () => {
      for (const t of kept.splice(0)) t.dispose();
      for (const tree of [params, m, v]) for (const a of Object.values(tree)) a.dispose();
      lossAndGrads.dispose?.();
      update.dispose?.();
    },
  };
}
