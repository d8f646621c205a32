/**
 * GPU buffers recycled by size class, so that a steady-state training step allocates no new buffer.
 *
 * Sizes round up to one of four steps per power of two (at most 25% waste) with a 256-byte floor. A released buffer
 * goes back on its class's free list; WebGPU orders every later use after earlier queued work, so reuse within a
 * queue is safe. The one hazard, a `queue.writeBuffer` into a buffer that an unsubmitted encoder still reads, is
 * handled by the Device, which submits pending work before any write.
 */

export interface BufferPoolStats {
  /** Buffers created since the pool was made (a steady-state loop keeps this constant). */
  created: number;
  /** Bytes of all buffers created. */
  bytesCreated: number;
  /** Buffers handed out and not yet released. */
  inUse: number;
  /** Acquisitions served from a free list. */
  reused: number;
  /** Buffers not destroyed: in use or free for reuse. */
  live: number;
  /** Bytes of the live buffers. */
  bytesLive: number;
}

export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const octave = 2 ** Math.floor(Math.log2(bytes));
  const quarter = octave / 4;
  return octave + Math.ceil((bytes - octave) / quarter) * quarter;
}

/**
 * The size a pooled buffer of `bytes` gets: its size class, unless that is over `largest` (the device's biggest
 * storage binding). A hardware GPU's limit need not be a power of two (e.g. 2^31 − 1), and a buffer rounded over it
 * could not be bound whole; such a buffer gets `bytes` rounded up to 4 (a class of its own).
 */
export function pooledSize(bytes: number, largest = Infinity): number {
  const size = sizeClass(bytes);
  return size <= largest ? size : Math.ceil(bytes / 4) * 4;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly stats: BufferPoolStats = { created: 0, bytesCreated: 0, inUse: 0, reused: 0, live: 0, bytesLive: 0 };

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: GPUBufferUsageFlags,
    private readonly label: string,
  ) {}

  /** A buffer of at least `bytes`; `largest`: see pooledSize. */
  acquire(bytes: number, largest = Infinity): GPUBuffer {
    const size = pooledSize(bytes, largest);
    const buffer = this.free.get(size)?.pop();
    this.stats.inUse++;
    if (buffer) {
      this.stats.reused++;
      return buffer;
    }
    this.stats.created++;
    this.stats.bytesCreated += size;
    this.stats.live++;
    this.stats.bytesLive += size;
    return this.device.createBuffer({ size, usage: this.usage, label: `${this.label} ${size}B` });
  }

  release(buffer: GPUBuffer): void {
    this.stats.inUse--;
    let list = this.free.get(buffer.size);
    if (!list) this.free.set(buffer.size, (list = []));
    list.push(buffer);
  }

  snapshot(): BufferPoolStats {
    return { ...this.stats };
  }

  /** Destroys every free buffer (the ones in use stay valid). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const buffer of list) {
        this.stats.live--;
        this.stats.bytesLive -= buffer.size;
        buffer.destroy();
      }
    }
    this.free.clear();
  }
}
