/** Float64 CPU reference for per-slot inverted dropout, using the CPU Philox twin: same stream layout as the kernel. */
import { philox4x32 } from './philox.js';

/** keep[slot * elementsPerSlot + e] for every element (1 kept, 0 dropped). */
export function dropoutMaskReference(
  seeds: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  elementsPerSlot: number,
  callIndex: number,
): Uint8Array {
  const slots = seeds.length;
  const keep = new Uint8Array(slots * elementsPerSlot);
  for (let slot = 0; slot < slots; slot++) {
    const p = Math.min(1, Math.max(0, Math.fround(probabilities[slot])));
    for (let quad = 0; quad * 4 < elementsPerSlot; quad++) {
      const words = philox4x32([quad, callIndex % 2 ** 32, Math.floor(callIndex / 2 ** 32), 0], [seeds[slot] >>> 0, slot]);
      for (let lane = 0; lane < 4 && quad * 4 + lane < elementsPerSlot; lane++) {
        keep[slot * elementsPerSlot + quad * 4 + lane] = (words[lane] >>> 8) / 16777216 >= p ? 1 : 0;
      }
    }
  }
  return keep;
}

export function dropoutReference(
  x: ArrayLike<number>,
  seeds: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  callIndex: number,
): Float64Array {
  const elementsPerSlot = x.length / seeds.length;
  const keep = dropoutMaskReference(seeds, probabilities, elementsPerSlot, callIndex);
  return Float64Array.from(x, (value, i) => {
    const p = Math.min(1, Math.max(0, Math.fround(probabilities[Math.floor(i / elementsPerSlot)])));
    return keep[i] ? value / (1 - p) : 0;
  });
}
