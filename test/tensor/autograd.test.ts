/** The autograd engine and memory rules: accumulation, noGrad, scopes, graph freeing, a steady pool. */
import { describe, expect, it } from 'vitest';
import { backward, noGrad } from '../../src/tensor/autograd.js';
import { tensor } from '../../src/tensor/create.js';
import { add, mul, scale, tanh } from '../../src/tensor/ops/elementwise.js';
import { sum } from '../../src/tensor/ops/reduce.js';
import { reshape } from '../../src/tensor/ops/shape.js';
import { keep, tidy } from '../../src/tensor/scope.js';
import { useDevice } from '../helpers/gpu.js';

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
