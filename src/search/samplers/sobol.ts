/**
 * Sobol' low-discrepancy sequence (Sobol' 1967) in up to 21 dimensions with the Joe–Kuo direction numbers
 * (S. Joe and F. Y. Kuo, "Constructing Sobol sequences with better two-dimensional projections", SIAM J.
 * Sci. Comput. 30, 2008; table new-joe-kuo-6.21201, first 20 rows), generated in Gray-code order (Antonov &
 * Saleev 1979), 32-bit. Optional scrambling as SciPy's `scipy.stats.qmc.Sobol(scramble=True)`: a random
 * linear matrix scramble (lower-triangular with unit diagonal, Matoušek 1998) of the direction numbers plus a
 * random digital shift, seeded; both keep the (t, m, s)-net structure.
 */
import { Rng } from '../rng.js';

/** new-joe-kuo-6.21201 rows for dimensions 2..21: [s (degree), a (coefficients), m_1..m_s]. */
const JOE_KUO: Array<[number, number, number[]]> = [
  [1, 0, [1]],
  [2, 1, [1, 3]],
  [3, 1, [1, 3, 1]],
  [3, 2, [1, 1, 1]],
  [4, 1, [1, 1, 3, 3]],
  [4, 4, [1, 3, 5, 13]],
  [5, 2, [1, 1, 5, 5, 17]],
  [5, 4, [1, 1, 5, 5, 5]],
  [5, 7, [1, 1, 7, 11, 19]],
  [5, 11, [1, 1, 5, 1, 1]],
  [5, 13, [1, 1, 1, 3, 11]],
  [5, 14, [1, 3, 5, 5, 31]],
  [6, 1, [1, 3, 3, 9, 7, 49]],
  [6, 13, [1, 1, 1, 15, 21, 21]],
  [6, 16, [1, 3, 1, 13, 27, 49]],
  [6, 19, [1, 1, 1, 15, 7, 5]],
  [6, 22, [1, 3, 1, 15, 13, 25]],
  [6, 25, [1, 1, 5, 5, 19, 61]],
  [7, 1, [1, 3, 7, 11, 23, 15, 103]],
  [7, 4, [1, 3, 7, 13, 13, 15, 69]],
];

export const SOBOL_MAX_DIM = JOE_KUO.length + 1;
const BITS = 32;

/** Direction numbers V[k], k = 0..31, for dimension j (0-based), as 32-bit integers. */
function directionNumbers(j: number): Uint32Array {
  const v = new Uint32Array(BITS);
  if (j === 0) {
    for (let k = 0; k < BITS; k++) v[k] = (1 << (31 - k)) >>> 0;
    return v;
  }
  const [s, a, m] = JOE_KUO[j - 1];
  for (let k = 0; k < BITS; k++) {
    if (k < s) v[k] = (m[k] << (31 - k)) >>> 0;
    else {
      let x = (v[k - s] ^ (v[k - s] >>> s)) >>> 0;
      for (let i = 1; i < s; i++) if ((a >>> (s - 1 - i)) & 1) x = (x ^ v[k - i]) >>> 0;
      v[k] = x;
    }
  }
  return v;
}

function parity(x: number): number {
  x ^= x >>> 16;
  x ^= x >>> 8;
  x ^= x >>> 4;
  x ^= x >>> 2;
  x ^= x >>> 1;
  return x & 1;
}

export class Sobol {
  private readonly v: Uint32Array[];
  private readonly shift: Uint32Array;

  constructor(readonly dim: number, opts: { scramble?: boolean; seed?: number } = {}) {
    if (!Number.isInteger(dim) || dim < 1 || dim > SOBOL_MAX_DIM) throw new RangeError(`Sobol dim (${dim}) must be an integer in 1..${SOBOL_MAX_DIM}`);
    this.v = Array.from({ length: dim }, (_, j) => directionNumbers(j));
    this.shift = new Uint32Array(dim);
    if (opts.scramble ?? true) {
      const rng = new Rng(opts.seed);
      for (let j = 0; j < dim; j++) {
        // Row d of L acts on digits 0..d (digit d ↔ bit 31−d); unit diagonal, random below it.
        const rows = new Uint32Array(BITS);
        for (let d = 0; d < BITS; d++) {
          const below = d === 0 ? 0 : (rng.uint32() >>> (32 - d)) << (32 - d);
          rows[d] = (below | (1 << (31 - d))) >>> 0;
        }
        for (let k = 0; k < BITS; k++) {
          let out = 0;
          for (let d = 0; d < BITS; d++) if (parity(rows[d] & this.v[j][k])) out |= 1 << (31 - d);
          this.v[j][k] = out >>> 0;
        }
        this.shift[j] = rng.uint32();
      }
    }
  }

  /** The point with index n (0-based) in Gray-code order, computed directly: x = ⊕ V[k] over the set bits of gray(n). */
  point(n: number): number[] {
    if (!Number.isInteger(n) || n < 0 || n >= 2 ** BITS) throw new RangeError(`Sobol index (${n}) must be an integer in [0, 2^32)`);
    const gray = (n ^ Math.floor(n / 2)) >>> 0;
    return this.v.map((v, j) => {
      let x = this.shift[j];
      for (let k = 0; k < BITS; k++) if ((gray >>> k) & 1) x ^= v[k];
      return (x >>> 0) / 2 ** BITS;
    });
  }
}
