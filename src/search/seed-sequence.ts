/**
 * NumPy's `numpy.random.SeedSequence` (numpy/random/bit_generator.pyx, NumPy 1.17+; O'Neill's seed_seq design):
 * hashes entropy words and a spawn key into a 4-word pool, then expands the pool into any number of state words.
 * Used to give a seeded sampler an independent stream per (seed, trial number), exactly as
 * `RandomState(MT19937(SeedSequence(seed, spawn_key=(number,))))` would in NumPy.
 * Limits: entropy and spawn-key entries are integers in [0, 2^32 - 1] (NumPy splits larger ones into words).
 */

const POOL_SIZE = 4;
const INIT_A = 0x43b0d7e5;
const MULT_A = 0x931e8875;
const INIT_B = 0x8b51f9dd;
const MULT_B = 0x58f38ded;
const MIX_MULT_L = 0xca01f9dd;
const MIX_MULT_R = 0x4973f715;
const XSHIFT = 16;

function checkWord(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`${what} (${v}) must be an integer between 0 and 2**32 - 1`);
  return v >>> 0;
}

export class SeedSequence {
  private readonly pool = new Uint32Array(POOL_SIZE);

  constructor(entropy: number | readonly number[], spawnKey: readonly number[] = []) {
    const run = (typeof entropy === 'number' ? [entropy] : [...entropy]).map((v) => checkWord(v, 'entropy'));
    const spawn = spawnKey.map((v) => checkWord(v, 'spawn key'));
    // As NumPy's get_assembled_entropy: run entropy padded with zeros to the pool size when there is a spawn key.
    while (spawn.length > 0 && run.length < POOL_SIZE) run.push(0);
    this.mixEntropy([...run, ...spawn]);
  }

  private mixEntropy(entropy: number[]): void {
    let hashConst = INIT_A;
    const hashmix = (value: number): number => {
      let v = (value ^ hashConst) >>> 0;
      hashConst = Math.imul(hashConst, MULT_A) >>> 0;
      v = Math.imul(v, hashConst) >>> 0;
      return (v ^ (v >>> XSHIFT)) >>> 0;
    };
    const mix = (x: number, y: number): number => {
      const r = (Math.imul(MIX_MULT_L, x) - Math.imul(MIX_MULT_R, y)) >>> 0;
      return (r ^ (r >>> XSHIFT)) >>> 0;
    };
    const m = this.pool;
    for (let i = 0; i < POOL_SIZE; i++) m[i] = hashmix(i < entropy.length ? entropy[i] : 0);
    for (let src = 0; src < POOL_SIZE; src++) {
      for (let dst = 0; dst < POOL_SIZE; dst++) if (src !== dst) m[dst] = mix(m[dst], hashmix(m[src]));
    }
    for (let src = POOL_SIZE; src < entropy.length; src++) {
      for (let dst = 0; dst < POOL_SIZE; dst++) m[dst] = mix(m[dst], hashmix(entropy[src]));
    }
  }

  /** `generate_state(n, uint32)`: n words cycled out of the pool through a second hash. */
  generateState(n: number): Uint32Array {
    const out = new Uint32Array(n);
    let hashConst = INIT_B;
    for (let i = 0; i < n; i++) {
      let v = (this.pool[i % POOL_SIZE] ^ hashConst) >>> 0;
      hashConst = Math.imul(hashConst, MULT_B) >>> 0;
      v = Math.imul(v, hashConst) >>> 0;
      out[i] = (v ^ (v >>> XSHIFT)) >>> 0;
    }
    return out;
  }
}
