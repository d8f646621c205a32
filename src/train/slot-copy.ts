/**
 * Moving a trial between slots: every parameter and optimizer state tensor has a leading slot axis (ARCHITECTURE.md),
 * so a slot's part is one contiguous byte range and moving it is one buffer copy per tensor, recorded on the GPU.
 */
import type { Device } from '../gpu/device.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * For each pair of tensors (matched by name, in order), copies slot `fromSlots[j]` of the source into slot
 * `toSlots[j]` of the target. Both must hold the same values per slot.
 */
export function copySlots(device: Device, from: readonly [string, Tensor][], to: readonly [string, Tensor][], fromSlots: readonly number[], toSlots: readonly number[]): void {
  if (from.length !== to.length) throw new Error(`copySlots: ${from.length} source tensors for ${to.length} targets`);
  from.forEach(([name, source], i) => {
    const [targetName, target] = to[i];
    if (targetName !== name) throw new Error(`copySlots: source tensor ${JSON.stringify(name)} meets target ${JSON.stringify(targetName)}`);
    const perSlot = source.size / source.shape[0];
    if (target.size / target.shape[0] !== perSlot) throw new Error(`copySlots: ${JSON.stringify(name)} holds ${perSlot} values a slot, the target ${target.size / target.shape[0]}`);
    fromSlots.forEach((fromSlot, j) => device.copy(source.buffer, fromSlot * perSlot * 4, target.buffer, toSlots[j] * perSlot * 4, perSlot * 4));
  });
}
