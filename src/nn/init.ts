/**
 * Parameter initialisation, one random stream per trial slot: slot t of a model built for T slots gets exactly
 * the values a T = 1 model built with that slot's seed gets, because each slot draws from its own generator in
 * the same parameter order. Normal draws use Box-Muller on pure-rand's xoroshiro128+.
 */
import { xoroshiro128plus } from 'pure-rand';

export class SlotRandom {
  private readonly next: () => number;
  private spare: number | null = null;

  constructor(readonly seed: number) {
    const rng = xoroshiro128plus(seed);
    // 53 random bits → a double in [0, 1).
    this.next = () => ((rng.unsafeNext() >>> 0) * 2 ** 21 + ((rng.unsafeNext() >>> 0) >>> 11)) / 2 ** 53;
  }

  uniform(): number {
    return this.next();
  }

  normal(): number {
    if (this.spare !== null) {
      const value = this.spare;
      this.spare = null;
      return value;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.spare = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  }
}

export type Initializer = { kind: 'normal'; std: number } | { kind: 'constant'; value: number };

export const bertNormal: Initializer = { kind: 'normal', std: 0.02 };
export const zerosInit: Initializer = { kind: 'constant', value: 0 };
export const onesInit: Initializer = { kind: 'constant', value: 1 };

/** Values for `size` elements of one slot. */
export function initialValues(init: Initializer, size: number, random: SlotRandom): Float32Array {
  const values = new Float32Array(size);
  if (init.kind === 'constant') return values.fill(init.value);
  for (let i = 0; i < size; i++) values[i] = init.std * random.normal();
  return values;
}
