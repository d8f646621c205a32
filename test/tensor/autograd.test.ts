/**
 * The autograd engine and memory rules: accumulation, noGrad, scopes, graph freeing, a steady pool, bias gradients
 * computed together.
 */
import { describe, expect, it } from 'vitest';
import { backward, noGrad } from '../../src/tensor/autograd.js';
import { tensor } from '../../src/tensor/create.js';
import { add, mul, scale, tanh } from '../../src/tensor/ops/elementwise.js';
import { sum } from '../../src/tensor/ops/reduce.js';
import { reshape } from '../../src/tensor/ops/shape.js';
import { keep, tidy } from '../../src/tensor/scope.js';
import { useDevice } from '../helpers/gpu.js';
import { expectClose } from '../helpers/compare.js';
import { kernelsOf } from '../helpers/dispatched-kernels.js';
import { linear } from '../../src/tensor/ops/matmul.js';
import { reduceBatchCapacity } from '../../kernels/reduce/reduce.js';
import type { Tensor } from '../../src/tensor/tensor.js';

const device = useDevice();

describe('autograd', () => {
  it('computes d/dx of sum(x*y + x) by hand: y + 1', async () => {
    const x = tensor(device(), [1, 2, 3], [3], { requiresGrad: true });
    const y = tensor(device(), [4, 5, 6], [3], { requiresGrad: true });
    backward(tidy(() => sum(add(mul(x, y), x))));
    expect(Array.from(await x.grad!.toArray())).toEqual([5, 6, 7]);
    expect(Array.from(await y.grad!.toArray())).toEqual([1, 2, 3]);
  });

  it('accumulates gradients over two backward passes, as PyTorch does', async () => {
    const x = tensor(device(), [0.5, -1], [2], { requiresGrad: true });
    for (let i = 0; i < 2; i++) backward(tidy(() => sum(scale(x, 3))));
    expect(Array.from(await x.grad!.toArray())).toEqual([6, 6]);
  });

  it('sums the gradient of a tensor used twice (diamond graph)', async () => {
    const x = tensor(device(), [2], [1], { requiresGrad: true });
    // f = tanh(x) * tanh(x) → f' = 2 tanh(x) (1 - tanh²(x))
    backward(tidy(() => { const t = tanh(x); return sum(mul(t, t)); }));
    const t = Math.tanh(2);
    expect((await x.grad!.toArray())[0]).toBeCloseTo(2 * t * (1 - t * t), 5);
  });

  it('passes gradients through reshape', async () => {
    const x = tensor(device(), [1, 2, 3, 4, 5, 6], [2, 3], { requiresGrad: true });
    const w = tensor(device(), [1, 10, 100, 1000, 1e4, 1e5], [3, 2]);
    backward(tidy(() => sum(mul(reshape(x, [3, 2]), w))));
    expect(x.grad!.shape).toEqual([2, 3]);
    expect(Array.from(await x.grad!.toArray())).toEqual([1, 10, 100, 1000, 1e4, 1e5]);
  });

  it('records nothing under noGrad', () => {
    const x = tensor(device(), [1, 2], [2], { requiresGrad: true });
    const y = noGrad(() => scale(x, 2));
    expect(y.requiresGrad).toBe(false);
    expect(y.producer).toBeNull();
    expect(() => backward(y)).toThrow(/does not require a gradient/);
  });

  it('frees the graph after backward: a second backward through it has nothing to walk', async () => {
    const x = tensor(device(), [1], [1], { requiresGrad: true });
    const y = scale(x, 2);
    backward(y);
    expect(y.producer).toBeNull();
    const z = scale(x, 5);
    backward(z, { retainGraph: true });
    expect(z.producer).not.toBeNull();
    backward(z);
    expect((await x.grad!.toArray())[0]).toBe(12);
  });
});

describe('memory', () => {
  it('tidy releases what it made except its result and kept tensors', () => {
    const x = tensor(device(), [1, 2], [2]);
    let inner: ReturnType<typeof scale> | undefined;
    let kept: ReturnType<typeof scale> | undefined;
    const out = tidy(() => {
      inner = scale(x, 2);
      kept = keep(scale(x, 3));
      return add(inner, x);
    });
    expect(inner!.isReleased).toBe(true);
    expect(kept!.isReleased).toBe(false);
    expect(out.isReleased).toBe(false);
    expect(x.isReleased).toBe(false);
    expect(() => inner!.buffer).toThrow(/used after release/);
  });

  it('tidy refuses a function that returns a promise (its tensors would escape the scope)', () => {
    expect(() => tidy(async () => scale(tensor(device(), [1]), 2))).toThrow(/takes a sync function/);
  });

  it('a steady-state training step allocates no new GPU buffer and creates no new bind group', async () => {
    const w = tensor(device(), [0.1, 0.2, 0.3, 0.4], [2, 2], { requiresGrad: true });
    const x = tensor(device(), [1, 2, 3, 4], [2, 2]);
    const step = () => {
      const loss = tidy(() => sum(tanh(mul(w, x))));
      backward(loss);
      loss.release();
      w.grad!.release();
      w.grad = null;
    };
    // Warm-up: the pool's free lists rotate buffers between steps for a few steps before the pattern repeats.
    for (let i = 0; i < 8; i++) {
      step();
      await device().sync();
    }
    const before = device().poolStats();
    // Bind groups are cached by (layout, buffers): the pool hands back the same buffers, so none is made anew.
    const gpu = device().gpuDevice;
    const createBindGroup = gpu.createBindGroup.bind(gpu);
    let bindGroupsCreated = 0;
    gpu.createBindGroup = (descriptor) => {
      bindGroupsCreated++;
      return createBindGroup(descriptor);
    };
    try {
      for (let i = 0; i < 5; i++) step();
      await device().sync();
    } finally {
      gpu.createBindGroup = createBindGroup;
    }
    const after = device().poolStats();
    expect(after.created).toBe(before.created);
    expect(after.inUse).toBe(before.inUse);
    expect(bindGroupsCreated).toBe(0);
  });
});

describe('determinism', () => {
  it('a repeated computation is bit-identical', async () => {
    const run = async () => {
      const x = tensor(device(), Float32Array.from({ length: 3001 }, (_, i) => Math.sin(i)), [3001], { requiresGrad: true });
      const loss = tidy(() => sum(tanh(scale(x, 1.7))));
      backward(loss);
      return [...(await loss.toArray()), ...(await x.grad!.toArray())];
    };
    expect(await run()).toEqual(await run());
  });
});

describe('bias gradients computed together (DeferredSum)', () => {
  // loss = sum(c ⊙ (x W + b)) over every layer: d loss / d b = column sums of c, worked by hand in float64.
  const rows = 300;
  const features = 5;
  const layers = 10;
  const data = (seed: number, n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 0.37));
  const columnSums = (c: Float32Array, scaleBy = 1) =>
    Array.from({ length: features }, (_, j) => {
      let total = 0;
      for (let r = 0; r < rows; r++) total += c[r * features + j];
      return total * scaleBy;
    });

  function layersLoss(biases: Tensor[], weights: Tensor[], x: Tensor, cs: Tensor[], biasOf = (l: number) => biases[l]): Tensor {
    return tidy(() => {
      let total: Tensor | null = null;
      for (let l = 0; l < layers; l++) {
        const term = sum(mul(linear(x, weights[l], biasOf(l)), cs[l]));
        total = total ? add(total, term) : term;
      }
      return total!;
    });
  }

  function setup() {
    const d = device();
    const x = tensor(d, data(1, rows * features), [rows, features]);
    const weights = Array.from({ length: layers }, (_, l) => tensor(d, data(10 + l, features * features), [features, features], { requiresGrad: true }));
    const biases = Array.from({ length: layers }, (_, l) => tensor(d, data(30 + l, features), [features], { requiresGrad: true }));
    const cValues = Array.from({ length: layers }, (_, l) => data(50 + l, rows * features));
    const cs = cValues.map((c) => tensor(d, c, [rows, features]));
    return { d, x, weights, biases, cValues, cs };
  }

  it('every bias gradient is right, in ⌈layers / batch capacity⌉ dispatches and no lone reduction', async () => {
    const { d, x, weights, biases, cValues, cs } = setup();
    const loss = layersLoss(biases, weights, x, cs);
    const kernels = kernelsOf(d, () => backward(loss));
    expect(kernels.filter((k) => k === 'reduce_sum_batched')).toHaveLength(Math.ceil(layers / reduceBatchCapacity(d)));
    expect(kernels.filter((k) => k.startsWith('reduce_sum') && k !== 'reduce_sum_batched').length).toBeLessThan(layers);
    for (let l = 0; l < layers; l++) {
      expectClose(await biases[l].grad!.toArray(), columnSums(cValues[l]), 1e-5, `bias ${l}`);
    }
    // A second backward adds into the gradients there, as PyTorch does.
    backward(layersLoss(biases, weights, x, cs));
    for (let l = 0; l < layers; l++) expectClose(await biases[l].grad!.toArray(), columnSums(cValues[l], 2), 1e-5, `bias ${l}, twice`);
  });

  it('a bias used by two layers, and a bias that is not a leaf, get their sums alone and right', async () => {
    const { d, x, weights, biases, cValues, cs } = setup();
    const base = tensor(d, data(70, features), [features], { requiresGrad: true });
    // Layers 0 and 1 share biases[0]; layer 2's bias is 3 · base (not a leaf); the rest their own.
    const loss = tidy(() => layersLoss(biases, weights, x, cs, (l) => (l === 1 ? biases[0] : l === 2 ? scale(base, 3) : biases[l])));
    backward(loss);
    const shared = columnSums(cValues[0]).map((v, j) => v + columnSums(cValues[1])[j]);
    expectClose(await biases[0].grad!.toArray(), shared, 1e-5, 'shared bias');
    expect(biases[1].grad).toBeNull();
    expectClose(await base.grad!.toArray(), columnSums(cValues[2], 3), 1e-5, 'bias through scale');
    for (let l = 3; l < layers; l++) expectClose(await biases[l].grad!.toArray(), columnSums(cValues[l]), 1e-5, `bias ${l}`);
  });

  it('a gradient an add hands to both its inputs is never written in place: both stay right', async () => {
    // z = y + x passes one gradient buffer to y and to x (views). Layer 0's backward then adds dx into x's gradient;
    // done in place, that would change y's gradient under the bias sum reading it (and the product reading it).
    const { d, weights, biases, cValues, cs } = setup();
    const x = tensor(d, data(1, rows * features), [rows, features], { requiresGrad: true });
    const loss = tidy(() => {
      const y = linear(x, weights[0], biases[0]);
      const z = add(y, x);
      return add(sum(mul(z, cs[0])), sum(mul(linear(z, weights[1], biases[1]), cs[1])));
    });
    backward(loss);
    // d/db0 = column sums of (c0 + c1 W1ᵀ); d/db1 = column sums of c1.
    const w1 = data(11, features * features);
    const g = cValues[0].map((v, i) => {
      const r = Math.floor(i / features);
      const j = i % features;
      let t = v;
      for (let k = 0; k < features; k++) t += cValues[1][r * features + k] * w1[j * features + k];
      return t;
    });
    expectClose(await biases[0].grad!.toArray(), columnSums(Float32Array.from(g)), 1e-4, 'bias 0');
    expectClose(await biases[1].grad!.toArray(), columnSums(cValues[1]), 1e-5, 'bias 1');
    expect(d.poolStats().inUse).toBeGreaterThan(0);
  });
});
