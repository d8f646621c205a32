/**
 * Peer adapter: the same ops on jax-js's WebGPU backend (@jax-js/jax), for the kernel benchmark. A dev dependency
 * loaded with a dynamic `import()` of a non-literal name; when missing, the adapter says "not installed".
 *
 * jax-js is lazy and reference counted (PEERS.md): every op consumes its inputs, so held inputs are passed as
 * `x.ref`, and a timed run ends with `blockUntilReady` on the outputs, waited for quietly like webtrainer's
 * `device.sync()`. Layernorm and AdamW are `jit`-compiled so jax-js can fuse them, as a user would write them.
 */
import { waitForGpu } from '../../src/gpu/quiet-wait.js';
import type { OpCase, BenchImpl, PreparedRun } from '../kernels.js';
import { installNodeNavigator, isMissingPackage } from './tfjs-webgpu.js';

type Jax = any; // eslint-disable-line @typescript-eslint/no-explicit-any
type JaxArray = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export async function loadJaxWebgpu(): Promise<BenchImpl | string> {
  const name = '@jax-js/jax';
  let jax: Jax;
  try {
    installNodeNavigator();
    jax = await import(name);
  } catch (error) {
    if (isMissingPackage(error, name)) return 'not installed';
    return `failed to load: ${(error as Error).message}`;
  }
  const available = (await jax.init('webgpu')) as string[];
  if (!available.includes('webgpu')) return 'the webgpu backend did not initialise';
  jax.defaultDevice('webgpu');
  const np = jax.numpy;

  const prepare = async (c: OpCase, inputs: Float32Array[]): Promise<PreparedRun | string> => {
    const held: JaxArray[] = [];
    const upload = (data: Float32Array, shape: number[]) => {
      const a = np.array(data, { shape, dtype: np.float32 });
      held.push(a);
      return a;
    };
    let step: () => JaxArray[];
    switch (c.op) {
      case 'matmul': {
        const [a, b] = [upload(inputs[0], c.aShape), upload(inputs[1], c.bShape)];
        step = () => [np.matmul(a.ref, b.ref)];
        break;
      }
      case 'softmax': {
        const x = upload(inputs[0], c.shape);
        step = () => [jax.nn.softmax(x.ref, -1)];
        break;
      }
      case 'layernorm': {
        const [x, gamma, beta] = [upload(inputs[0], c.shape), upload(inputs[1], c.paramShape), upload(inputs[2], c.paramShape)];
        const layerNorm = jax.jit((x: JaxArray, g: JaxArray, b: JaxArray) =>
          jax.nn.standardize(x, -1, { epsilon: c.eps }).mul(g).add(b),
        );
        step = () => [layerNorm(x.ref, gamma.ref, beta.ref)];
        break;
      }
      case 'adamw': {
        let [p, g, m, v] = inputs.slice(0, 4).map((d) => upload(d, c.shape));
        const lr = upload(Float32Array.from(c.learningRates), [c.shape[0], 1]);
        const wd = upload(Float32Array.from(c.weightDecays), [c.shape[0], 1]);
        const { beta1: b1, beta2: b2, eps, step: t } = c;
        const [bc1, bc2] = [1 - b1 ** t, 1 - b2 ** t];
        // Each argument is consumed once; `.ref` marks the extra uses.
        const adamw = jax.jit((p: JaxArray, g: JaxArray, m: JaxArray, v: JaxArray, lr: JaxArray, wd: JaxArray) => {
          const m2 = m.mul(b1).add(g.ref.mul(1 - b1));
          const v2 = v.mul(b2).add(g.ref.mul(g).mul(1 - b2));
          const update = m2.ref.div(bc1).div(np.sqrt(v2.ref.div(bc2)).add(eps)).add(p.ref.mul(wd));
          return [p.sub(update.mul(lr)), m2, v2];
        });
        step = () => {
          [p, m, v] = adamw(p, g.ref, m, v, lr.ref, wd.ref) as JaxArray[];
          held.splice(0, 4, p, g, m, v);
          return [p, m, v];
        };
        break;
      }
    }
    return {
      run: async (times = 1) => {
        // Every output is waited for (jax-js may compute lazily); AdamW's state chains the runs already.
        const outputs = c.op === 'adamw' ? Array.from({ length: times }, () => step()).at(-1)! : Array.from({ length: times }, () => step()).flat();
        await waitForGpu(jax.blockUntilReady(outputs) as Promise<unknown>);
        if (c.op !== 'adamw') for (const out of outputs) out.dispose();
      },
      release: () => {
        for (const a of held) a.dispose();
      },
    };
  };

  return { impl: 'jax-webgpu', prepare, close: async () => undefined };
}
