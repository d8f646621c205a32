/**
 * Seeded random numbers for the search layer, drawn as NumPy's legacy `numpy.random.RandomState(seed)`
 * draws them (numpy/random/mtrand.pyx, numpy/random/src/legacy/legacy-distributions.c and
 * numpy/random/src/distributions/distributions.c, NumPy 1.24): MT19937 seeded by `init_genrand`, 53-bit
 * doubles, masked rejection for bounded integers, the polar method for normals. Optuna's samplers each own a
 * RandomState, so a sampler here given the same seed draws the same numbers as Optuna's.
 * Limits: not cryptographic; integer ranges wider than 2^32 are refused (NumPy would switch to 64-bit draws);
 * an unseeded Rng takes a random 32-bit seed (NumPy seeds from 624 words of OS entropy).
 */
import { randomInt } from 'node:crypto';
import { MT19937 } from './mt19937.js';
import { SeedSequence } from './seed-sequence.js';

/** Smallest all-ones bit mask >= max (NumPy's `gen_mask`), for max < 2^32. */
function mask32(max: number): number {
  let m = max;
  m |= m >>> 1;
  m |= m >>> 2;
  m |= m >>> 4;
  m |= m >>> 8;
  m |= m >>> 16;
  return m >>> 0;
}

export class Rng {
  private readonly gen: MT19937;
  /** The second normal of the last polar-method pair (NumPy's `has_gauss`/`gauss`). */
  private spareNormal: number | null = null;

  /** `seed`: an integer in [0, 2^32 - 1] as NumPy accepts, or a seeded generator; none means a random seed. */
  constructor(seed?: number | MT19937) {
    this.gen = seed instanceof MT19937 ? seed : new MT19937(seed ?? randomInt(0, 2 ** 32));
  }

  /**
   * An independent stream for trial `trialNumber` of a sampler seeded with `seed`: NumPy's
   * `RandomState(MT19937(SeedSequence(seed, spawn_key=(trialNumber,))))`, i.e. child `trialNumber` of
   * `SeedSequence(seed).spawn(...)`, so (seed, number) pairs hash to unrelated full MT19937 states.
   */
  static forTrial(seed: number, trialNumber: number): Rng {
    return new Rng(MT19937.fromSeedSequence(new SeedSequence(seed, [trialNumber])));
  }

  /** A random 32-bit unsigned integer (one MT19937 word). */
  uint32(): number {
    return this.gen.nextUint32();
  }

  /** Uniform double in [0, 1) with 53 random bits (`RandomState.random_sample`). */
  random(): number {
    return this.gen.nextDouble();
  }

  /** `RandomState.uniform(low, high)`: low + (high - low) · random_sample. */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.random();
  }

  /** Uniform integer in [0, max]: masked rejection on 32-bit words (NumPy's `random_interval`/masked bounded draw). */
  private interval(max: number): number {
    if (max === 0) return 0; // NumPy draws nothing for a one-value range
    if (!Number.isInteger(max) || max < 0 || max > 0xffffffff) throw new RangeError(`integer range (${max + 1} values) must be between 1 and 2^32`);
    const mask = mask32(max);
    for (;;) {
      const v = (this.uint32() & mask) >>> 0;
      if (v <= max) return v;
    }
  }

  /** `RandomState.randint(low, high)`: integer in [low, high) (high exclusive, as NumPy). */
  randint(low: number, high: number): number {
    if (!(high > low)) throw new RangeError(`randint: low (${low}) must be < high (${high})`);
    return low + this.interval(high - 1 - low);
  }

  /** Integer in [low, high] inclusive (`randint(low, high + 1)`). */
  int(low: number, high: number): number {
    return this.randint(low, high + 1);
  }

  /** Standard normal by the polar method (NumPy's `legacy_gauss`, i.e. `RandomState.standard_normal`). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    for (;;) {
      const x1 = 2 * this.random() - 1;
      const x2 = 2 * this.random() - 1;
      const r2 = x1 * x1 + x2 * x2;
      if (r2 < 1 && r2 !== 0) {
        const f = Math.sqrt((-2 * Math.log(r2)) / r2);
        this.spareNormal = f * x1; // NumPy keeps f·x1 for the next call and returns f·x2
        return f * x2;
      }
    }
  }

  /** `RandomState.normal(loc, scale)`. */
  gauss(loc: number, scale: number): number {
    return loc + scale * this.normal();
  }

  /** `RandomState.choice(n)`: a uniform index in [0, n) (`randint(0, n)`). */
  choice(n: number): number {
    return this.randint(0, n);
  }

  /**
   * `RandomState.choice(len(p), p=p)`: index i with probability weights[i] / Σweights. As NumPy: one
   * random_sample u, then the first i whose normalised cumulative weight exceeds u (searchsorted, side='right').
   */
  choiceIndex(weights: ArrayLike<number>): number {
    const cdf = new Float64Array(weights.length);
    let total = 0;
    for (let i = 0; i < weights.length; i++) cdf[i] = total += weights[i];
    if (!(total > 0)) throw new RangeError('choiceIndex: weights must sum to > 0');
    for (let i = 0; i < cdf.length; i++) cdf[i] /= total;
    const u = this.random();
    for (let i = 0; i < cdf.length; i++) if (cdf[i] > u) return i;
    return cdf.length - 1;
  }

  /** In-place Fisher–Yates shuffle from the last element down (`RandomState.shuffle`). */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.interval(i);
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  }

  /** `RandomState.permutation(n)`: 0..n-1 shuffled. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }
}
