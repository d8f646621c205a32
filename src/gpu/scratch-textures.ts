/**
 * Textures that kernels stage operands in, one per role (matmul v5's 'matmul' holds packed A and B; 'matmul a' and
 * 'matmul b' hold A and B as they are), made on first use and replaced by a larger one when a bigger operand comes.
 * Reusing one texture for every matmul is safe because WebGPU orders each command after the ones recorded before
 * it. Kernels read these textures; `Device.copyToTexture` fills them. rgba32float: one texel holds 4 floats.
 *
 * A linear texture (`linear`) is addressed by a texel index: texel t is at (t % WIDTH, t / WIDTH), so a kernel needs
 * neither the height nor a second index, and a buffer of whole rows of texels copies into it as it is.
 */
import { ShapeError } from './errors.js';

// GPUTextureUsage.COPY_DST | STORAGE_BINDING (the `webgpu` package does not type its globals).
const USAGE = 0x02 | 0x08;

export interface ScratchTexture {
  texture: GPUTexture;
  view: GPUTextureView;
  width: number;
  height: number;
}

export class ScratchTextures {
  /** Texels per row of a linear texture (a power of two, so the kernels' division by it is a shift). */
  static readonly WIDTH = 4096;
  private readonly textures = new Map<string, ScratchTexture>();

  constructor(
    private readonly device: GPUDevice,
    /** Called with a replaced texture; destroy it only once the work recorded so far is submitted. */
    private readonly retire: (texture: GPUTexture) => void,
  ) {}

  /** Largest width or height of a texture on this device. */
  get maxDimension(): number {
    return this.device.limits.maxTextureDimension2D;
  }

  /** Most texels a linear texture can hold on this device. */
  get capacity(): number {
    return ScratchTextures.WIDTH * this.maxDimension;
  }

  /** The linear `role` texture, with room for at least `texels` texels. */
  linear(role: string, texels: number): ScratchTexture {
    if (texels > this.capacity) {
      throw new ShapeError(`${role}: ${texels} texels is over this device's largest texture (${this.capacity} texels)`);
    }
    return this.get(role, ScratchTextures.WIDTH, Math.ceil(texels / ScratchTextures.WIDTH));
  }

  /** The `role` texture, at least `width` x `height` texels. */
  get(role: string, width: number, height: number): ScratchTexture {
    const current = this.textures.get(role);
    if (current && current.width >= width && current.height >= height) return current;
    const max = this.maxDimension;
    if (width > max || height > max) {
      throw new ShapeError(`${role}: a ${width}x${height} texture is over this device's largest (${max}x${max})`);
    }
    // A side that is too small grows by at least 1.5x, so a slowly growing shape does not replace the texture every
    // call; a side that is large enough stays (a linear texture's width is always WIDTH).
    const grow = (wanted: number, now = 0) => (wanted <= now ? now : Math.max(1, Math.min(max, Math.max(wanted, Math.ceil(now * 1.5)))));
    const size = [grow(width, current?.width), grow(height, current?.height)] as const;
    const texture = this.device.createTexture({ size, format: 'rgba32float', usage: USAGE, label: `scratch ${role}` });
    if (current) this.retire(current.texture);
    const entry = { texture, view: texture.createView({ label: `scratch ${role}` }), width: size[0], height: size[1] };
    this.textures.set(role, entry);
    return entry;
  }

  destroy(): void {
    for (const { texture } of this.textures.values()) texture.destroy();
    this.textures.clear();
  }
}
