/** Failures are loud and name the kernel and shapes: compile errors, bad shapes, a lost device. */
import { describe, expect, it } from 'vitest';
import { tensor } from '../../src/tensor/create.js';
import { createDevice } from '../../src/gpu/device.js';
import { ShaderCompileError, ShapeError } from '../../src/gpu/errors.js';
import { add } from '../../src/tensor/ops/elementwise.js';
import { sum } from '../../src/tensor/ops/reduce.js';
import { reshape } from '../../src/tensor/ops/shape.js';
import { useDevice } from '../helpers/gpu.js';

const device = useDevice();

describe('errors', () => {
  it('a WGSL compile error names the kernel and shows the numbered source at the next sync', async () => {
    const d = device();
    const buffer = d.allocate(16, 'test');
    d.dispatch({
      kernel: 'broken_kernel',
      wgsl: '@group(0) @binding(0) var<storage, read_write> x: array<f32>;\n@compute @workgroup_size(1)\nfn main() { x[0] = 1u; }',
      buffers: [buffer],
      workgroups: [1],
      shapes: 'n=4',
    });
    const failure = await d.sync().then(() => null, (e: unknown) => e);
    expect(failure).toBeInstanceOf(ShaderCompileError);
    const message = (failure as Error).message;
    expect(message).toContain("WGSL kernel 'broken_kernel' failed to compile");
    expect(message).toMatch(/3 \| fn main\(\) \{ x\[0\] = 1u; \}/);
  });

  it('shapes that do not broadcast are refused before dispatch', () => {
    const a = tensor(device(), [1, 2, 3], [3]);
    const b = tensor(device(), [1, 2], [2]);
    expect(() => add(a, b)).toThrow(ShapeError);
    expect(() => add(a, b)).toThrow(/add: shapes \[3\] and \[2\] do not broadcast/);
  });

  it('bad shapes and sizes name the problem', () => {
    expect(() => tensor(device(), [1, 2, 3], [2, 2])).toThrow(/3 values do not fill shape \[2, 2\]/);
    expect(() => tensor(device(), [1], [-1])).toThrow(/bad dimension -1/);
    expect(() => reshape(tensor(device(), [1, 2, 3]), [2, 2])).toThrow(/cannot reshape \[3\] into \[2, 2\]/);
    expect(() => sum(tensor(device(), [1, 2]), 3)).toThrow(/sum: axis 3 out of range for rank 1/);
    expect(() => device().allocate(2 ** 40, 'weights [1e12]')).toThrow(/weights \[1e12\]: 1099511627776 bytes is over/);
  });

  it('too many workgroups for one dimension is refused with the kernel and shapes', () => {
    const buffer = device().allocate(16, 'test');
    expect(() =>
      device().dispatch({ kernel: 'k', wgsl: '', buffers: [buffer], workgroups: [70000], shapes: 'n=huge' }),
    ).toThrow(/k \(n=huge\): 70000x1x1 workgroups exceed/);
  });

  it('using a destroyed device throws instead of computing', async () => {
    const d = await createDevice();
    const x = tensor(d, [1, 2]);
    d.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(() => add(x, x)).toThrow(/GPU device lost/);
  });
});
