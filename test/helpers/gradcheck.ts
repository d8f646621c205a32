/**
 * One helper checks an op's forward and gradient: the GPU op against a float64 reference function, and the GPU
 * gradients against central finite differences of that same float64 reference (so the reference's own derivative
 * is never trusted). The loss is sum(output * weights) with random weights, so every output element matters.
 */
import { backward } from '../../src/tensor/autograd.js';
import { tensor } from '../../src/tensor/create.js';
import type { Device } from '../../src/gpu/device.js';
import { tidy } from '../../src/tensor/scope.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { expectClose, maxRelativeError } from './compare.js';
import { randomArray } from './random.js';

export interface GradCheckInput {
  shape: number[];
  data?: Float32Array;
  /** Integer inputs (labels, token ids) get no gradient. */
  ints?: Int32Array;
  /** Set false for float inputs that get no gradient. */
  differentiable?: boolean;
}

export interface GradCheck {
  inputs: GradCheckInput[];
  gpu: (inputs: Tensor[]) => Tensor;
  reference: (inputs: Float64Array[]) => Float64Array;
  seed?: number;
  forwardTolerance?: number;
  gradientTolerance?: number;
  what?: string;
}

/** The errors measured (compare.ts's maxRelativeError): forward, and per differentiable input (NaN where none). */
export interface GradCheckErrors {
  forward: number;
  gradients: number[];
}

export async function checkForwardAndGradients(device: Device, check: GradCheck): Promise<GradCheckErrors> {
  const seed = check.seed ?? 1;
  const what = check.what ?? 'op';
  const datas = check.inputs.map((input, k) =>
    input.ints ?? input.data ?? randomArray(input.shape.reduce((p, d) => p * d, 1), seed * 101 + k),
  );
  const referenceInputs = datas.map((d) => Float64Array.from(d, Number));
  // Evaluate the reference on the float32-rounded inputs: both sides then start from the same numbers.
  const expected = check.reference(referenceInputs);
  const weights = randomArray(expected.length, seed * 977 + 13);

  const tensors = check.inputs.map((input, k) =>
    tensor(device, datas[k], input.shape, {
      dtype: input.ints ? 'i32' : 'f32',
      requiresGrad: !input.ints && input.differentiable !== false,
    }),
  );
  const output = tidy(() => {
    const out = check.gpu(tensors);
    backward(out, { gradient: tensor(device, weights, out.shape) });
    return out;
  });
  const forward = await output.toArray();
  const errors: GradCheckErrors = { forward: maxRelativeError(forward, expected), gradients: tensors.map(() => NaN) };
  expectClose(forward, expected, check.forwardTolerance ?? 1e-4, `${what} forward`);
  output.release();

  const loss = (inputs: Float64Array[]) => {
    const out = check.reference(inputs);
    let total = 0;
    for (let i = 0; i < out.length; i++) total += out[i] * weights[i];
    return total;
  };
  for (let k = 0; k < tensors.length; k++) {
    const t = tensors[k];
    if (!t.requiresGrad) continue;
    if (!t.grad) throw new Error(`${what}: input ${k} got no gradient`);
    const gpuGrad = await t.grad.toArray();
    const numeric = new Float64Array(t.size);
    const x = referenceInputs.map((a) => Float64Array.from(a));
    for (let i = 0; i < t.size; i++) {
      const h = 1e-6 * Math.max(1, Math.abs(x[k][i]));
      const original = x[k][i];
      x[k][i] = original + h;
      const plus = loss(x);
      x[k][i] = original - h;
      const minus = loss(x);
      x[k][i] = original;
      numeric[i] = (plus - minus) / (2 * h);
    }
    errors.gradients[k] = maxRelativeError(gpuGrad, numeric);
    expectClose(gpuGrad, numeric, check.gradientTolerance ?? 1e-3, `${what} gradient of input ${k}`);
  }
  for (const t of tensors) t.release();
  return errors;
}
