/**
 * Textures that kernels stage operands in, one per role (matmul v5 packs A into 'matmul a' and B into 'matmul b'),
 * made on first use and replaced by a larger one when a bigger operand comes. Reusing one texture for every matmul
 * is safe because WebGPU orders each command after the ones recorded before it.
 *
 * A texture is addressed by a linear texel index: texel t is at (t % WIDTH, t / WIDTH), so a kernel needs neither
 * the height nor a second index, and a buffer of whole rows of texels copies into it as it is. rgba32float: one
 * texel holds 4 floats. Kernels read these textures; they are filled by `Device.copyToTexture`.
 */
import { ShapeError } from './errors.js';

// GPUTextureUsage.COPY_DST | STORAGE_BINDING (the `webgpu` package does not type its globals).
const USAGE = 0x02 | 0x08;

export interface ScratchTexture {
  texture: GPUTexture;
  view: GPUTextureView;
  /** Texels it holds: WIDTH x its height. */
  texels: number;
}

export class ScratchTextures {
  /** Texels per row (a power of two, so the kernels' division by it is a shift). */
  static readonly WIDTH = 4096;
  private readonly textures = new Map<string, ScratchTexture>();

  constructor(
    private readonly device: GPUDevice,
    /** Called with a replaced texture; destroy it only once the work recorded so far is submitted. */
    private readonly retire: (texture: GPUTexture) => void,
  ) {}

  /** Most texels one texture can hold on this device. */
  get capacity(): number {
    return ScratchTextures.WIDTH * this.device.limits.maxTextureDimension2D;
  }

  /** The `role` texture, with room for at least `texels` rgba32float texels. */
  get(role: string, texels: number): ScratchTexture {
    const current = this.textures.get(role);
    if (current && current.texels >= texels) return current;
    if (texels > this.capacity) {
      throw new ShapeError(`${role}: ${texels} texels is over this device's largest texture (${this.capacity} texels)`);
    }
    // Grow by at least 1.5x, so a slowly growing shape does not replace the texture every call.
    const wanted = Math.min(this.capacity, Math.max(texels, Math.ceil((current?.texels ?? 0) * 1.5)));
    const height = Math.ceil(wanted / ScratchTextures.WIDTH);
    const texture = this.device.createTexture({
      size: [ScratchTextures.WIDTH, height],
      format: 'rgba32float',
      usage: USAGE,
      label: `scratch ${role}`,
    });
    if (current) this.retire(current.texture);
    const entry = { texture, view: texture.createView({ label: `scratch ${role}` }), texels: ScratchTextures.WIDTH * height };
    this.textures.set(role, entry);
    return entry;
  }

  destroy(): void {
    for (const { texture } of this.textures.values()) texture.destroy();
    this.textures.clear();
  }
}
