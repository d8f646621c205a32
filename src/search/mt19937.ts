/**
 * The Mersenne Twister MT19937 bit generator (Matsumoto & Nishimura 1998), seeded as NumPy's legacy
 * `numpy.random.RandomState(seed)` does for an integer seed: `mt19937_seed` (Knuth's `init_genrand`) in
 * numpy/random/src/mt19937/mt19937.c, reached from `_legacy_seeding` in numpy/random/_mt19937.pyx.
 * Same seed, same 32-bit words as NumPy, so the doubles built from them match NumPy's too.
 * `fromSeedSequence` seeds as NumPy's `MT19937(SeedSequence(...))` (numpy/random/_mt19937.pyx `__init__`).
 */
import type { SeedSequence } from './seed-sequence.js';

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

export class MT19937 {
  private readonly key = new Uint32Array(N);
  private pos = N;

  /** `seed` must be an integer in [0, 2^32 - 1], as NumPy requires ("Seed must be between 0 and 2**32 - 1"). */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`seed (${seed}) must be an integer between 0 and 2**32 - 1`);
    let s = seed >>> 0;
    for (let i = 0; i < N; i++) {
      this.key[i] = s;
      // 1812433253 · (s ^ (s >>> 30)) + i + 1 modulo 2^32; Math.imul keeps the product exact in 32 bits.
      s = (Math.imul(1812433253, s ^ (s >>> 30)) + i + 1) >>> 0;
    }
    this.pos = N;
  }

  /**
   * As NumPy's `MT19937(seed_seq)`: 624 words from the SeedSequence, word 0 forced to 0x80000000 (a state that
   * is never all zero), and the position left at 623 as NumPy leaves it, so the first word drawn is word 623.
   */
  static fromSeedSequence(seq: SeedSequence): MT19937 {
    const g = new MT19937(0);
    const words = seq.generateState(N);
    g.key.set(words);
    g.key[0] = 0x80000000;
    g.pos = N - 1;
    return g;
  }

  /** Refills the 624-word state (NumPy's `mt19937_gen`). */
  private generate(): void {
    const k = this.key;
    let i = 0;
    for (; i < N - M; i++) {
      const y = (k[i] & UPPER_MASK) | (k[i + 1] & LOWER_MASK);
      k[i] = k[i + M] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    for (; i < N - 1; i++) {
      const y = (k[i] & UPPER_MASK) | (k[i + 1] & LOWER_MASK);
      k[i] = k[i + (M - N)] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    const y = (k[N - 1] & UPPER_MASK) | (k[0] & LOWER_MASK);
    k[N - 1] = k[M - 1] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    this.pos = 0;
  }

  /** The next tempered 32-bit word (NumPy's `mt19937_next32`). */
  nextUint32(): number {
    if (this.pos === N) this.generate();
    let y = this.key[this.pos++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A double in [0, 1) from two words, 27 + 26 bits (NumPy's `mt19937_next_double`, i.e. `random_sample`). */
  nextDouble(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }
}
