/**
 * Parameter initialisation, one random stream per trial slot: slot t of a model built for T slots gets exactly
 * the values a T = 1 model built with that slot's seed gets, because each slot draws from its own generator in
 * the same parameter order. Normal draws use Box-Muller on pure-rand's xoroshiro128+.
 */
import { xoroshiro128plus } from 'pure-rand';

export class SlotRandom {
  private readonly rng: ReturnType<typeof xoroshiro128plus>;
  /** Box-Muller makes normals in pairs: the second of the last pair, not yet handed out. */
  private spare = 0;
  private hasSpare = false;

  constructor(readonly seed: number) {
    this.rng = xoroshiro128plus(seed);
  }

  /** 53 random bits → a double in [0, 1). */
  uniform(): number {
    const rng = this.rng;
    return ((rng.unsafeNext() >>> 0) * 2 ** 21 + ((rng.unsafeNext() >>> 0) >>> 11)) / 2 ** 53;
  }

  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.spare = radius * Math.sin(2 * Math.PI * v);
    this.hasSpare = true;
    return radius * Math.cos(2 * Math.PI * v);
  }

  /**
   * Moves the stream on by `count` normal() draws without computing them (only the uniforms are drawn; a pair split
   * by the end keeps its second value as the spare): what drawing a table's rows that are not kept costs.
   */
  skipNormals(count: number): void {
    let i = 0;
    if (this.hasSpare && count > 0) {
      this.hasSpare = false;
      i = 1;
    }
    for (; i < count; i += 2) {
      let u = 0;
      while (u === 0) u = this.uniform();
      const v = this.uniform();
      if (i + 1 >= count) {
        this.spare = Math.sqrt(-2 * Math.log(u)) * Math.sin(2 * Math.PI * v);
        this.hasSpare = true;
      }
    }
  }

  /** `out[i] = scale × normal()` for every i, in order: the same values, without a call per value. */
  fillNormal(out: Float32Array, scale: number): void {
    let i = 0;
    if (this.hasSpare && out.length > 0) {
      out[i++] = scale * this.spare;
      this.hasSpare = false;
    }
    for (; i < out.length; i += 2) {
      let u = 0;
      while (u === 0) u = this.uniform();
      const angle = 2 * Math.PI * this.uniform();
      const radius = Math.sqrt(-2 * Math.log(u));
      out[i] = scale * (radius * Math.cos(angle));
      if (i + 1 < out.length) {
        out[i + 1] = scale * (radius * Math.sin(angle));
      } else {
        this.spare = radius * Math.sin(angle);
        this.hasSpare = true;
      }
    }
  }
}

export type Initializer = { kind: 'normal'; std: number } | { kind: 'constant'; value: number };

export const bertNormal = { kind: 'normal', std: 0.02 } satisfies Initializer;
export const zerosInit: Initializer = { kind: 'constant', value: 0 };
export const onesInit: Initializer = { kind: 'constant', value: 1 };

/** Fills `values` (one slot's elements) with their initial values. */
export function initialValues(init: Initializer, random: SlotRandom, values: Float32Array): Float32Array {
  if (init.kind === 'constant') return values.fill(init.value);
  random.fillNormal(values, init.std);
  return values;
}
