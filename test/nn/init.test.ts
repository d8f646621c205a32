/**
 * Parameter initialisation's random stream (src/nn/init.ts), checked against normal() itself: `fillNormal` gives
 * the bits of normal() called once per value, in order (across odd lengths that split a Box-Muller pair between
 * calls, with uniform() and normal() draws in between), and `skipNormals(n)` leaves the stream where n calls would.
 */
import { describe, expect, it } from 'vitest';
import { SlotRandom } from '../../src/nn/init.js';

describe('SlotRandom.fillNormal', () => {
  it('gives the bits of normal() value by value, also when a call ends between the two values of a pair', () => {
    for (const seed of [0, 1, 12345]) {
      const filled = new SlotRandom(seed);
      const oneByOne = new SlotRandom(seed);
      for (const length of [1, 3, 32, 977, 0, 2, 5, 4096]) {
        const values = new Float32Array(length);
        filled.fillNormal(values, 0.02);
        const expected = Float32Array.from({ length }, () => 0.02 * oneByOne.normal());
        expect(Buffer.from(values.buffer).equals(Buffer.from(expected.buffer)), `seed ${seed}, length ${length}`).toBe(true);
        expect(filled.normal()).toBe(oneByOne.normal());
        expect(filled.uniform()).toBe(oneByOne.uniform());
      }
    }
  });

  it('skipNormals(n) leaves the stream where n normal() calls leave it, a split pair\'s spare included', () => {
    for (const seed of [3, 99]) {
      const skipping = new SlotRandom(seed);
      const drawing = new SlotRandom(seed);
      for (const count of [0, 1, 2, 7, 64, 3, 1000, 5]) {
        skipping.skipNormals(count);
        for (let i = 0; i < count; i++) drawing.normal();
        expect(skipping.normal(), `seed ${seed}, after ${count}`).toBe(drawing.normal());
      }
    }
  });

  it('draws standard normals (mean 0, variance 1 within sampling error over 200,000 values)', () => {
    const values = new Float32Array(200_000);
    new SlotRandom(7).fillNormal(values, 1);
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length;
    expect(Math.abs(mean)).toBeLessThan(0.01); // 4.5 standard errors
    expect(Math.abs(variance - 1)).toBeLessThan(0.015); // ~4.7 standard errors (sd of the variance ≈ √(2/n))
  });
});
