/**
 * Which matmul variant runs where. One small table, first matching row wins:
 *
 * | adapter                                   | shape                              | variant |
 * |-------------------------------------------|------------------------------------|---------|
 * | software (lavapipe) + subgroups of 8 lanes | any                                | v3      |
 * | any                                       | m*n < 4096 (less than one v2 tile) | v1      |
 * | any                                       | otherwise                          | v2      |
 *
 * Why: on lavapipe v3 was 1.7-7.5x faster than v2 and 5.7-22x faster than v1 at every measured shape, 8x256x64x64
 * included (README.md), so it takes small shapes too. On a hardware GPU v2's 64x64 tiles are the known-good
 * recipe, but an output smaller than one tile would leave most of a workgroup idle, so tiny products go to v1.
 * The hardware rows are not measured yet (no GPU on the dev machine).
 */
import type { Device } from '../../src/tensor/device.js';
import { V3_TILE } from './v3-subgroup.wgsl.js';

export type MatmulVariant = 'v1' | 'v2' | 'v3';

export interface VariantShape {
  batch: number;
  m: number;
  k: number;
  n: number;
}

/** v3 needs `subgroupBroadcast` with exactly 8 lanes per subgroup (its lane indices are constants). */
export function canUseV3(device: Device): boolean {
  return device.hasSubgroups && device.info.subgroupMinSize === V3_TILE.lanes && device.info.subgroupMaxSize === V3_TILE.lanes;
}

export function chooseMatmulVariant(device: Device, shape: VariantShape): MatmulVariant {
  if (device.info.isSoftware && canUseV3(device)) return 'v3';
  if (shape.m * shape.n < 4096) return 'v1';
  return 'v2';
}
