/**
 * Moving a trial between slots: every parameter and optimizer state array has a leading slot axis (ARCHITECTURE.md),
 * so a slot's part is one contiguous byte range and moving it is one buffer copy per array, recorded on the GPU.
 */
import type { Device } from '../gpu/device.js';

/**
 * What a slot copy needs of a tensor or an optimizer StateArray: `shape` f32 values at `byteOffset` (default 0) in
 * `buffer`.
 */
export interface SlotArray {
  readonly buffer: GPUBuffer;
  readonly shape: readonly number[];
  readonly byteOffset?: number;
}

/**
 * For each pair of arrays (matched by name, in order), copies slot `fromSlots[j]` of the source into slot
 * `toSlots[j]` of the target. Both must hold the same values per slot.
 */
export function copySlots(device: Device, from: readonly [string, SlotArray][], to: readonly [string, SlotArray][], fromSlots: readonly number[], toSlots: readonly number[]): void {
  if (from.length !== to.length) throw new Error(`copySlots: ${from.length} source tensors for ${to.length} targets`);
  const perSlotOf = (a: SlotArray) => a.shape.slice(1).reduce((p, d) => p * d, 1);
  from.forEach(([name, source], i) => {
    const [targetName, target] = to[i];
    if (targetName !== name) throw new Error(`copySlots: source tensor ${JSON.stringify(name)} meets target ${JSON.stringify(targetName)}`);
    const perSlot = perSlotOf(source);
    if (perSlotOf(target) !== perSlot) throw new Error(`copySlots: ${JSON.stringify(name)} holds ${perSlot} values a slot, the target ${perSlotOf(target)}`);
    const [sourceOffset, targetOffset] = [source.byteOffset ?? 0, target.byteOffset ?? 0];
    fromSlots.forEach((fromSlot, j) =>
      device.copy(source.buffer, sourceOffset + fromSlot * perSlot * 4, target.buffer, targetOffset + toSlots[j] * perSlot * 4, perSlot * 4),
    );
  });
}
