/** Errors raised by the GPU layer. Each names the kernel and the shapes involved where it can. */

export class GpuError extends Error {
  override name = 'GpuError';
}

/** A WGSL shader failed to compile: the message carries the kernel's name and the numbered source. */
export class ShaderCompileError extends GpuError {
  override name = 'ShaderCompileError';
  constructor(
    readonly kernel: string,
    readonly details: string,
    readonly wgsl: string,
  ) {
    super(`WGSL kernel '${kernel}' failed to compile:\n${details}\n--- ${kernel}.wgsl ---\n${numberLines(wgsl)}`);
  }
}

/** A shape or argument the kernels cannot take, found before anything reached the GPU. */
export class ShapeError extends GpuError {
  override name = 'ShapeError';
}

/** The device was lost (driver reset, out of memory, destroyed). Nothing computed after this point is valid. */
export class DeviceLostError extends GpuError {
  override name = 'DeviceLostError';
}

export function numberLines(source: string): string {
  const lines = source.split('\n');
  const width = String(lines.length).length;
  return lines.map((line, i) => `${String(i + 1).padStart(width)} | ${line}`).join('\n');
}
