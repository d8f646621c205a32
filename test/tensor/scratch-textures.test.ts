/**
 * ScratchTextures: reuse while big enough, growth by at least 1.5x of the sides that are too small (only those), the
 * linear layout, and errors past the limit.
 */
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../src/gpu/errors.js';
import { ScratchTextures } from '../../src/gpu/scratch-textures.js';
import { useDevice } from '../helpers/gpu.js';

describe('ScratchTextures', () => {
  const device = useDevice();

  it('reuses a texture while it is big enough and grows a side that is too small by at least 1.5x', () => {
    const retired: GPUTexture[] = [];
    const textures = new ScratchTextures(device().gpuDevice, (t) => retired.push(t));
    const first = textures.get('x', 10, 6);
    expect([first.width, first.height]).toEqual([10, 6]);
    expect(textures.get('x', 8, 6)).toBe(first);
    const grown = textures.get('x', 11, 2);
    expect([grown.width, grown.height]).toEqual([15, 6]); // the short side 1.5x (at least what was asked), the other kept
    expect(retired).toEqual([first.texture]);
    expect(textures.get('y', 1, 1)).not.toBe(grown); // roles are separate
    textures.destroy();
  });

  it('sizes a linear texture in whole rows of WIDTH texels', () => {
    const textures = new ScratchTextures(device().gpuDevice, () => undefined);
    const linear = textures.linear('x', ScratchTextures.WIDTH * 2 + 1);
    expect([linear.width, linear.height]).toEqual([ScratchTextures.WIDTH, 3]);
    expect(textures.capacity).toBe(ScratchTextures.WIDTH * device().limits.maxTextureDimension2D);
    // A larger operand adds rows; the width stays WIDTH (it once grew by 1.5x too, to 4x the texels needed).
    const grown = textures.linear('x', ScratchTextures.WIDTH * 4);
    expect([grown.width, grown.height]).toEqual([ScratchTextures.WIDTH, 5]);
    textures.destroy();
  });

  it('throws ShapeError naming the role past the device limit', () => {
    const textures = new ScratchTextures(device().gpuDevice, () => undefined);
    const max = device().limits.maxTextureDimension2D;
    expect(() => textures.get('matmul a', 4, max + 1)).toThrow(ShapeError);
    expect(() => textures.get('matmul a', 4, max + 1)).toThrow(new RegExp(`matmul a: a 4x${max + 1} texture is over`));
    expect(() => textures.linear('matmul', textures.capacity + 1)).toThrow(/texels is over this device's largest texture/);
    textures.destroy();
  });
});
