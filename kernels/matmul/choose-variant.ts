/**
 * Which matmul variant runs where. One small table, first matching row wins:
 *
 * | adapter                                    | shape                                          | variant              |
 * |--------------------------------------------|------------------------------------------------|----------------------|
 * | software (lavapipe) + subgroups of 8 lanes | ≥ 2^21 multiply-adds, operands fit a texture   | v5                   |
 * |   + storage-texture reads                  |                                                |                      |
 * | software (lavapipe) + subgroups of 8 lanes | any                                            | v3                   |
 * | any                                        | m*n < 4096 (less than one 64x64 tile)          | v1                   |
 * | hardware                                   | ≥ LARGE_TILE_WORKGROUPS workgroups of 128x64   | v4 LARGE_V4_CONFIG   |
 * | hardware                                   | otherwise                                      | v2                   |
 *
 * Why (README.md has the figures): on lavapipe v5 (v3's tile over operands in textures) was 1.3-2.9x faster than
 * v3 from ~2M multiply-adds up, but its packing costs a dispatch and a copy (~0.1 ms), so below that (1x64x64x64,
 * 16x64x32x64) v3 was faster; v3 was 1.7-7.5x faster than v2 and 5.7-22x faster than v1 at every measured shape.
 * On an H100 (Dawn/Vulkan, clocks warmed up) v4's 128x64 tiles with 8x4 register blocks beat v2 from 512 such
 * workgroups up: 33.6 vs 19.6 TFLOP/s at 4096³, 29.3 vs 25.5 at 2048³; below that they tie (1024³ 18.8 vs 18.3,
 * 2048x256x1024 15.0 vs 15.1) or lose (2048x1024x256 9.9 vs 12.2, 8x256x64x64), as big tiles leave the GPU's 132
 * multiprocessors short of workgroups. The other v4 configs were within 4% of this one at 2048³ and 4096³. An
 * output smaller than one tile would leave most of a workgroup idle, so tiny products go to v1.
 */
import type { Device } from '../../src/gpu/device.js';
import { V3_TILE } from './v3-subgroup.wgsl.js';
import { packedTexels } from './v5-packed.wgsl.js';
import type { V4ConfigName } from './v4-blocked.wgsl.js';

export type MatmulVariant = 'v1' | 'v2' | 'v3' | 'v4' | 'v5';

export interface VariantChoice {
  variant: MatmulVariant;
  /** With v4: which tile config. */
  v4Config?: V4ConfigName;
}

export interface VariantShape {
  batch: number;
  m: number;
  k: number;
  n: number;
}

/** v4's config for large outputs (and for v4 asked for without a config). */
export const LARGE_V4_CONFIG: V4ConfigName = '128x64k16r8x4';
/** Workgroups of 128x64 from which v4 beat v2 on an H100 (512 at 2048², 2048 at 4096²). */
export const LARGE_TILE_WORKGROUPS = 512;

/** v3 needs `subgroupBroadcast` with exactly 8 lanes per subgroup (its lane indices are constants). */
export function canUseV3(device: Device): boolean {
  return device.hasSubgroups && device.info.subgroupMinSize === V3_TILE.lanes && device.info.subgroupMaxSize === V3_TILE.lanes;
}

/** v5 is v3's tile over operands packed into storage textures: it needs v3's subgroups and storage-texture reads. */
export function canUseV5(device: Device): boolean {
  return canUseV3(device) && device.hasReadOnlyStorageTextures;
}

/** Whether both packed operands fit the device's scratch texture (1 GB on lavapipe). */
export function v5Fits(device: Device, shape: VariantShape): boolean {
  const { batch, m, k, n } = shape;
  return batch * (packedTexels(m, k) + packedTexels(n, k)) <= device.scratchTextures.capacity;
}

/** Multiply-adds from which v5 beats v3 on lavapipe: its packing adds a dispatch and a copy (~0.1 ms). */
export const V5_MIN_MULTIPLY_ADDS = 1 << 21;

export function chooseMatmulVariant(device: Device, shape: VariantShape): VariantChoice {
  const multiplyAdds = shape.batch * shape.m * shape.k * shape.n;
  if (device.info.isSoftware && canUseV5(device) && multiplyAdds >= V5_MIN_MULTIPLY_ADDS && v5Fits(device, shape)) {
    return { variant: 'v5' };
  }
  if (device.info.isSoftware && canUseV3(device)) return { variant: 'v3' };
  if (shape.m * shape.n < 4096) return { variant: 'v1' };
  const largeTiles = shape.batch * Math.ceil(shape.m / 128) * Math.ceil(shape.n / 64);
  return largeTiles >= LARGE_TILE_WORKGROUPS ? { variant: 'v4', v4Config: LARGE_V4_CONFIG } : { variant: 'v2' };
}
