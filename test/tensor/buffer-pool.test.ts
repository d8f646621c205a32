/**
 * Buffer sizes of the pool, worked by hand: four classes per power of two with a 256-byte floor, and a class capped
 * at the device's largest storage binding (a buffer rounded over it could not be bound whole).
 */
import { describe, expect, it } from 'vitest';
import { BufferPool, pooledSize, sizeClass } from '../../src/gpu/buffer-pool.js';
import { useDevice } from '../helpers/gpu.js';

const device = useDevice();

describe('buffer pool sizes', () => {
  it('round up to a quarter of the power of two below, from 256 bytes', () => {
    expect([1, 256, 257, 1024, 1025, 1280, 1281, 2047].map(sizeClass)).toEqual([256, 256, 320, 1024, 1280, 1280, 1536, 2048]);
  });

  it('keep a size class under the largest binding, else the bytes rounded up to 4', () => {
    expect(pooledSize(1025)).toBe(1280);
    expect(pooledSize(1025, 1280)).toBe(1280);
    // 2^31 − 16 bytes would round to 2^31, over a limit of 2^31 − 1 (not a power of two, as on hardware GPUs).
    expect(sizeClass(2 ** 31 - 16)).toBe(2 ** 31);
    expect(pooledSize(2 ** 31 - 16, 2 ** 31 - 1)).toBe(2 ** 31 - 16);
    expect(pooledSize(1025, 1100)).toBe(1028);
  });

  it('hand out and take back such a buffer', () => {
    // GPUBufferUsage.STORAGE | COPY_DST | COPY_SRC
    const pool = new BufferPool(device().gpuDevice, 0x80 | 0x08 | 0x04, 'test');
    const capped = pool.acquire(1025, 1100);
    expect(capped.size).toBe(1028);
    pool.release(capped);
    expect(pool.acquire(1026, 1100)).toBe(capped); // the same class of its own
    const classed = pool.acquire(1025);
    expect(classed.size).toBe(1280);
    pool.release(capped);
    pool.release(classed);
    pool.trim();
    expect(pool.snapshot()).toMatchObject({ created: 2, inUse: 0, live: 0, bytesLive: 0 });
  });
});
