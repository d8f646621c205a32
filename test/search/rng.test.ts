/**
 * The search RNG against NumPy's legacy RandomState. Every expected number below was printed by real NumPy
 * 1.24.2 (Debian's /usr/bin/python3), e.g. `numpy.random.RandomState(0).random_sample(3)`; none is this
 * code's own output.
 */
import { describe, expect, it } from 'vitest';
import { MT19937 } from '../../src/search/mt19937.js';
import { Rng } from '../../src/search/rng.js';

describe('MT19937 seeded as numpy.random.RandomState(seed)', () => {
  it('raw 32-bit words match NumPy (RandomState(0).randint(0, 2**32, size=3, dtype=uint64))', () => {
    const g = new MT19937(0);
    expect([g.nextUint32(), g.nextUint32(), g.nextUint32()]).toEqual([2357136044, 2546248239, 3071714933]);
  });

  it('random_sample matches NumPy for seeds 0, 1, 42 and 2^32 - 1', () => {
    const expected: Record<number, number[]> = {
      0: [0.5488135039273248, 0.7151893663724195, 0.6027633760716439],
      1: [0.417022004702574, 0.7203244934421581, 0.00011437481734488664],
      42: [0.3745401188473625, 0.9507143064099162, 0.7319939418114051],
      4294967295: [0.0976320289940138, 0.9123828453026218, 0.78903530185164],
    };
    for (const [seed, xs] of Object.entries(expected)) {
      const r = new Rng(Number(seed));
      expect([r.random(), r.random(), r.random()]).toEqual(xs);
    }
  });

  it('refuses seeds NumPy refuses', () => {
    expect(() => new Rng(-1)).toThrow(/2\*\*32 - 1/);
    expect(() => new Rng(2 ** 32)).toThrow(/2\*\*32 - 1/);
    expect(() => new Rng(1.5)).toThrow(/integer/);
  });

  it('the 625th word (after the first state refill) matches NumPy', () => {
    // NumPy: r = RandomState(42); r.randint(0, 2**32, size=625, dtype=numpy.uint64)[-1]
    const g = new MT19937(42);
    let last = 0;
    for (let i = 0; i < 625; i++) last = g.nextUint32();
    expect(last).toBe(108880612);
  });
});

describe('Rng methods follow RandomState', () => {
  it('randint (masked rejection), including a one-value range that draws nothing', () => {
    // NumPy: r = RandomState(1); [r.randint(0, 10) for _ in range(8)], r.randint(5, 6), r.randint(-3, 1000000)
    const r = new Rng(1);
    expect(Array.from({ length: 8 }, () => r.randint(0, 10))).toEqual([5, 8, 9, 5, 0, 0, 1, 7]);
    expect(r.randint(5, 6)).toBe(5);
    expect(r.randint(-3, 1000000)).toBe(436970);
  });

  it('standard_normal (legacy polar method, pair order f·x2 then f·x1)', () => {
    // NumPy: r = RandomState(2); [r.standard_normal() for _ in range(3)]
    const r = new Rng(2);
    expect([r.normal(), r.normal(), r.normal()]).toEqual([-0.4167578474054706, -0.056266827226329474, -2.136196095668454]);
  });

  it('uniform and normal(loc, scale)', () => {
    // NumPy: r = RandomState(3); r.uniform(-2.5, 7.0), r.normal(1.0, 2.0)
    const r = new Rng(3);
    expect(r.uniform(-2.5, 7.0)).toBe(2.7325800744584674);
    expect(r.gauss(1.0, 2.0)).toBe(-1.058942948010285);
  });

  it('permutation', () => {
    // NumPy: RandomState(4).permutation(10)
    expect(new Rng(4).permutation(10)).toEqual([3, 8, 4, 9, 2, 6, 0, 1, 5, 7]);
  });

  it('choice(n) and choice(n, p=...)', () => {
    // NumPy: r = RandomState(6); [r.choice([3, 7, 11]) for _ in range(10)]
    const r = new Rng(6);
    expect(Array.from({ length: 10 }, () => [3, 7, 11][r.choice(3)])).toEqual([11, 7, 3, 11, 7, 11, 3, 11, 7, 7]);
    // NumPy: r = RandomState(5); [r.choice(4, p=[0.1, 0.2, 0.3, 0.4]) for _ in range(10)]
    const q = new Rng(5);
    expect(Array.from({ length: 10 }, () => q.choiceIndex([0.1, 0.2, 0.3, 0.4]))).toEqual([1, 3, 1, 3, 2, 3, 3, 2, 1, 1]);
  });
});
