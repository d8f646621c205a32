/** Float64 CPU reference for per-slot inverted dropout, using the CPU Philox twin: same stream layout as the kernel. */
import { dropoutLayout } from './dropout.js';
import { philox4x32 } from './philox.js';

/** keep[slot * elementsPerSlot + e] for every element (1 kept, 0 dropped); `slotShape` as launchDropout's. */
export function dropoutMaskReference(
  seeds: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  slotShape: readonly number[],
  callIndex: number,
): Uint8Array {
  const slots = seeds.length;
  const { blocks, rowsPerBlock, rowLength } = dropoutLayout(slotShape);
  const elementsPerSlot = blocks * rowsPerBlock * rowLength;
  const keep = new Uint8Array(slots * elementsPerSlot);
  for (let slot = 0; slot < slots; slot++) {
    const p = Math.min(1, Math.max(0, Math.fround(probabilities[slot])));
    for (let block = 0; block < blocks; block++) {
      for (let row = 0; row < rowsPerBlock; row++) {
        const first = slot * elementsPerSlot + (block * rowsPerBlock + row) * rowLength;
        for (let quad = 0; quad * 4 < rowLength; quad++) {
          const words = philox4x32([quad, row, block, Math.floor(callIndex / 2 ** 32)], [seeds[slot] >>> 0, callIndex % 2 ** 32]);
          for (let lane = 0; lane < 4 && quad * 4 + lane < rowLength; lane++) {
            keep[first + quad * 4 + lane] = (words[lane] >>> 8) / 16777216 >= p ? 1 : 0;
          }
        }
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
  slotShape: readonly number[] = [x.length / seeds.length],
): Float64Array {
  const elementsPerSlot = x.length / seeds.length;
  const keep = dropoutMaskReference(seeds, probabilities, slotShape, callIndex);
  return Float64Array.from(x, (value, i) => {
    const p = Math.min(1, Math.max(0, Math.fround(probabilities[Math.floor(i / elementsPerSlot)])));
    return keep[i] ? value / (1 - p) : 0;
  });
}
