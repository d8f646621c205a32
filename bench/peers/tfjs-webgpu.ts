/**
 * Peer adapter: the same ops on TensorFlow.js's WebGPU backend (@tensorflow/tfjs-backend-webgpu), for the kernel
 * benchmark. The packages are dev dependencies, loaded with a dynamic `import()` of a non-literal name so neither
 * the build nor a production install needs them; when they are missing the adapter says "not installed".
 *
 * Node shims (PEERS.md): `webgpu`'s globals and a `navigator.gpu` must exist before tfjs-backend-webgpu is
 * imported (it registers itself only then), and `@tensorflow/tfjs` (not tfjs-core alone) is imported so its
 * gradients are registered. tfjs-webgpu batches work in its own encoder: a timed run ends the compute pass, submits
 * and waits, with the same quiet wait webtrainer uses so both leave the CPU cores to lavapipe alike.
 */
import { create, globals } from 'webgpu';
import { waitForGpu } from '../../src/gpu/quiet-wait.js';
import type { OpCase, BenchImpl, PreparedRun } from '../kernels.js';

// Kept for the life of the process: when Dawn's instance was garbage-collected, later waits crashed (PEERS.md).
let nodeGpu: GPU | null = null;

/**
 * Installs WebGPU's globals and a `navigator` with `gpu` (plus what jax-js reads) for browser-minded libraries.
 * An existing `navigator.gpu` is kept.
 */
export function installNodeNavigator(): void {
  Object.assign(globalThis, globals);
  const current = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (current?.gpu) return;
  nodeGpu ??= create([]) as GPU;
  Object.defineProperty(globalThis, 'navigator', {
    value: { ...(current ?? {}), gpu: nodeGpu, userAgent: 'Node.js', hardwareConcurrency: 2 },
    configurable: true,
    writable: true,
  });
}

/** True when `error` says the package itself could not be found (as opposed to failing inside it). */
export function isMissingPackage(error: unknown, name: string): boolean {
  const e = error as { code?: string; message?: string };
  return (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && (e.message ?? '').includes(name);
}

// The little of tfjs's API used here, typed loosely: the package may be absent at build time.
interface TfTensor {
  dispose(): void;
  [op: string]: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}
type Tf = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** tfjs with its webgpu backend ready on Dawn, or why not ('not installed' where the dev dependency is absent). */
export async function loadTf(): Promise<Tf | string> {
  const tfName = '@tensorflow/tfjs';
  const backendName = '@tensorflow/tfjs-backend-webgpu';
  let tf: Tf;
  try {
    installNodeNavigator();
    tf = await import(tfName);
    tf = tf.default ?? tf; // CommonJS bundle seen through ESM.
    await import(backendName);
  } catch (error) {
    if (isMissingPackage(error, tfName) || isMissingPackage(error, backendName)) return 'not installed';
    return `failed to load: ${(error as Error).message}`;
  }
  if (!(await tf.setBackend('webgpu'))) return 'the webgpu backend did not initialise';
  await tf.ready();
  return tf;
}

export async function loadTfjsWebgpu(): Promise<BenchImpl | string> {
  const tf = await loadTf();
  if (typeof tf === 'string') return tf;
  const backend = tf.backend();

  const finish = async () => {
    backend.endComputePassEncoder(); // Skipping this leaves invalid command buffers (PEERS.md).
    backend.submitQueue();
    await waitForGpu(backend.device.queue.onSubmittedWorkDone() as Promise<void>);
  };

  const prepare = async (c: OpCase, inputs: Float32Array[]): Promise<PreparedRun | string> => {
    const held: TfTensor[] = [];
    const upload = (data: Float32Array, shape: number[]) => {
      const t = tf.tensor(data, shape, 'float32') as TfTensor;
      held.push(t);
      return t;
    };
    let step: () => TfTensor[];
    switch (c.op) {
      case 'matmul': {
        const [a, b] = [upload(inputs[0], c.aShape), upload(inputs[1], c.bShape)];
        step = () => [tf.matMul(a, b)];
        break;
      }
      case 'softmax': {
        const x = upload(inputs[0], c.shape);
        step = () => [tf.softmax(x)];
        break;
      }
      case 'layernorm': {
        const [x, gamma, beta] = [upload(inputs[0], c.shape), upload(inputs[1], c.paramShape), upload(inputs[2], c.paramShape)];
        step = () => [
          tf.tidy(() => {
            const { mean, variance } = tf.moments(x, -1, true);
            return x.sub(mean).mul(tf.rsqrt(variance.add(c.eps))).mul(gamma).add(beta);
          }),
        ];
        break;
      }
      case 'adamw': {
        // The update written out as tfjs ops (tfjs has no AdamW): per-trial lr and weight decay broadcast.
        let [p, g, m, v] = inputs.slice(0, 4).map((d) => upload(d, c.shape));
        const lr = upload(Float32Array.from(c.learningRates), [c.shape[0], 1]);
        const wd = upload(Float32Array.from(c.weightDecays), [c.shape[0], 1]);
        const { beta1: b1, beta2: b2, eps, step: t } = c;
        const [bc1, bc2] = [1 - b1 ** t, 1 - b2 ** t];
        step = () => {
          const next = tf.tidy(() => {
            const m2 = m.mul(b1).add(g.mul(1 - b1));
            const v2 = v.mul(b2).add(g.square().mul(1 - b2));
            const update = m2.div(bc1).div(v2.div(bc2).sqrt().add(eps)).add(p.mul(wd));
            return [p.sub(update.mul(lr)), m2, v2];
          }) as TfTensor[];
          for (const old of [p, m, v]) old.dispose();
          [p, m, v] = next;
          held.splice(0, 4, p, g, m, v);
          return [];
        };
        break;
      }
    }
    return {
      run: async (times = 1) => {
        const outputs = Array.from({ length: times }, () => step()).flat();
        await finish();
        for (const out of outputs) out.dispose();
      },
      release: () => {
        for (const t of held) t.dispose();
      },
    };
  };

  return { impl: 'tfjs-webgpu', prepare, close: async () => undefined };
}
