/**
 * Maps a search space to a box of reals and back, as Optuna's `optuna/_transform.py`
 * (`_SearchSpaceTransform` with transform_log and transform_step): log dimensions become log-uniform,
 * a step of s widens the bounds by s/2 each side and rounds back to the grid, a categorical becomes
 * one coordinate per choice (untransformed by argmax) so a uniform box point is a uniform choice.
 */
import type { Distribution, ParamValue } from '../distributions.js';
import type { SearchSpace } from './sampler.js';

interface Column {
  name: string;
  dist: Distribution;
  /** Columns this parameter occupies in the box. */
  start: number;
  width: number;
}

export class SearchSpaceTransform {
  readonly bounds: Array<[number, number]> = [];
  private readonly columns: Column[] = [];

  constructor(readonly space: SearchSpace) {
    for (const [name, dist] of Object.entries(space)) {
      const start = this.bounds.length;
      if (dist.kind === 'categorical') {
        for (let i = 0; i < dist.choices.length; i++) this.bounds.push([0, 1]);
      } else this.bounds.push(numericBounds(dist));
      this.columns.push({ name, dist, start, width: this.bounds.length - start });
    }
  }

  get dim(): number {
    return this.bounds.length;
  }

  /** Box point → external values. */
  untransform(x: ArrayLike<number>): Record<string, ParamValue> {
    const out: Record<string, ParamValue> = {};
    for (const c of this.columns) {
      if (c.dist.kind === 'categorical') {
        let best = 0;
        for (let i = 1; i < c.width; i++) if (x[c.start + i] > x[c.start + best]) best = i;
        out[c.name] = c.dist.choices[best];
      } else out[c.name] = untransformNumeric(c.dist, x[c.start]);
    }
    return out;
  }
}

export function numericBounds(dist: Exclude<Distribution, { kind: 'categorical' }>): [number, number] {
  if (dist.kind === 'float') {
    if (dist.log) return [Math.log(dist.low), Math.log(dist.high)];
    if (dist.step !== null) return [dist.low - dist.step / 2, dist.high + dist.step / 2];
    return [dist.low, dist.high];
  }
  if (dist.log) return [Math.log(dist.low - 0.5), Math.log(dist.high + 0.5)];
  return [dist.low - dist.step / 2, dist.high + dist.step / 2];
}

/** NumPy's `round` (half to even), which Optuna applies when snapping to a step. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The largest double below x (`numpy.nextafter(x, x - 1)`), so a continuous draw never equals `high`. */
export function nextBelow(x: number): number {
  if (x === 0) return -Number.MIN_VALUE;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  view.setBigUint64(0, x > 0 ? bits - 1n : bits + 1n);
  return view.getFloat64(0);
}

function clip(x: number, lo: number, hi: number): number {
  return Math.min(Math.max(x, lo), hi);
}

/** Box coordinate → external value, as Optuna 3.1's `_untransform_numerical_param` (transform_log, transform_step). */
export function untransformNumeric(dist: Exclude<Distribution, { kind: 'categorical' }>, v: number): number {
  if (dist.kind === 'int') {
    if (dist.log) return clip(roundHalfEven(Math.exp(v)), dist.low, dist.high);
    return clip(roundHalfEven((v - dist.low) / dist.step) * dist.step + dist.low, dist.low, dist.high);
  }
  if (dist.step !== null) return clip(roundHalfEven((v - dist.low) / dist.step) * dist.step + dist.low, dist.low, dist.high);
  const x = dist.log ? Math.exp(v) : v;
  if (dist.single()) return x;
  // Optuna caps at the double below high; the floor at low (not in Optuna) only guards exp(log(low)) rounding below low.
  return Math.max(Math.min(x, nextBelow(dist.high)), dist.low);
}
