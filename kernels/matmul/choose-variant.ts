/**
 * Which matmul variant runs where. One small table, first matching row wins:
 *
 * | adapter                                    | shape                                          | variant              |
 * |--------------------------------------------|------------------------------------------------|----------------------|
 * | software (lavapipe) + subgroups of 8 lanes | any                                            | v3                   |
 * | any                                        | m*n < 4096 (less than one 64x64 tile)          | v1                   |
 * | hardware                                   | ≥ LARGE_TILE_WORKGROUPS workgroups of 128x64   | v4 LARGE_V4_CONFIG   |
 * | hardware                                   | otherwise                                      | v2                   |
 *
 * Why (README.md has the figures): on lavapipe v3 was 1.7-7.5x faster than v2 and 5.7-22x faster than v1 at every
 * measured shape, 8x256x64x64 included, so it takes small shapes too. On an H100 (Dawn/Vulkan, clocks warmed up)
 * v4's 128x64 tiles with 8x4 register blocks beat v2 from 512 such workgroups up: 33.6 vs 19.6 TFLOP/s at 4096³,
 * 29.3 vs 25.5 at 2048³; below that they tie (1024³ 18.8 vs 18.3, 2048x256x1024 15.0 vs 15.1) or lose (2048x1024x256
 * 9.9 vs 12.2, 8x256x64x64), as big tiles leave the GPU's 132 multiprocessors short of workgroups. The other v4
 * configs were within 4% of this one at 2048³ and 4096³. An output smaller than one tile would leave most of a
 * workgroup idle, so tiny products go to v1.
 */
import type { Device } from '../../src/tensor/device.js';
import { V3_TILE } from './v3-subgroup.wgsl.js';
import type { V4ConfigName } from './v4-blocked.wgsl.js';

export type MatmulVariant = 'v1' | 'v2' | 'v3' | 'v4';

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

export function chooseMatmulVariant(device: Device, shape: VariantShape): VariantChoice {
  if (device.info.isSoftware && canUseV3(device)) return { variant: 'v3' };
  if (shape.m * shape.n < 4096) return { variant: 'v1' };
  const largeTiles = shape.batch * Math.ceil(shape.m / 128) * Math.ceil(shape.n / 64);
  return largeTiles >= LARGE_TILE_WORKGROUPS ? { variant: 'v4', v4Config: LARGE_V4_CONFIG } : { variant: 'v2' };
}
