/**
 * A tensor: a shape, a dtype and a GPU buffer. Tensors are immutable from the outside; ops make new ones.
 * `reshape` makes a view that shares the buffer (reference counted). Reading back (`toArray`, `item`) is the only
 * way data comes to the CPU, and each read is a sync point.
 */
import type { Device } from '../gpu/device.js';
import { ShapeError } from '../gpu/errors.js';
import { trackTensor } from './scope.js';
import type { GraphNode } from './autograd.js';
import type { Shape } from '../gpu/shape.js';

export type { Shape };

export type DType = 'f32' | 'i32';

/** A GPU buffer shared by a tensor and its views; returned to the pool when the last one lets go. */
export class Storage {
  private refs = 1;
  constructor(
    readonly device: Device,
    readonly buffer: GPUBuffer,
  ) {}
  retain(): this {
    this.refs++;
    return this;
  }
  release(): void {
    if (--this.refs === 0) this.device.release(this.buffer);
  }
  get alive(): boolean {
    return this.refs > 0;
  }
  /** Whether more than one handle (a tensor and its views) holds the buffer. */
  get shared(): boolean {
    return this.refs > 1;
  }
}

export function sizeOf(shape: Shape): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}

export function checkShape(shape: Shape, what: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`${what}: shape [${shape.join(', ')}] has a bad dimension ${d}`);
  }
}

export class Tensor {
  readonly isTensor = true;
  readonly size: number;
  requiresGrad = false;
  /** Gradient accumulated by `backward()`, for tensors that require one. */
  grad: Tensor | null = null;
  /** The op that made this tensor, when it was made with gradients recorded. */
  producer: GraphNode | null = null;
  private released = false;

  constructor(
    readonly device: Device,
    readonly shape: Shape,
    readonly dtype: DType,
    readonly storage: Storage,
  ) {
    this.size = sizeOf(shape);
    trackTensor(this);
  }

  get rank(): number {
    return this.shape.length;
  }

  get buffer(): GPUBuffer {
    this.assertUsable();
    return this.storage.buffer;
  }

  private assertUsable(): void {
    if (this.released) throw new Error(`tensor [${this.shape.join(', ')}] was used after release()`);
  }

  get isReleased(): boolean {
    return this.released;
  }

  /** A view with another shape of the same size, sharing the buffer (no copy, no gradient bookkeeping). */
  view(shape: Shape): Tensor {
    checkShape(shape, 'view');
    if (sizeOf(shape) !== this.size) {
      throw new ShapeError(`cannot view [${this.shape.join(', ')}] (${this.size} values) as [${shape.join(', ')}]`);
    }
    this.assertUsable();
    return new Tensor(this.device, [...shape], this.dtype, this.storage.retain());
  }

  /** Returns the GPU buffer to the pool (when no view still uses it). Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.storage.release();
    if (this.grad) {
      this.grad.release();
      this.grad = null;
    }
  }

  async toArray(): Promise<Float32Array | Int32Array> {
    const bytes = await this.device.read(this.buffer, this.size * 4);
    return this.dtype === 'f32' ? new Float32Array(bytes) : new Int32Array(bytes);
  }

  async item(): Promise<number> {
    if (this.size !== 1) throw new ShapeError(`item() needs a tensor of one value, this one is [${this.shape.join(', ')}]`);
    return (await this.toArray())[0];
  }

  toString(): string {
    return `Tensor(${this.dtype}[${this.shape.join(', ')}]${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}
