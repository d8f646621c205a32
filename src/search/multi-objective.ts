/**
 * Pareto dominance, fast non-dominated sorting and crowding distance (Deb et al. 2002, "A fast and elitist
 * multiobjective genetic algorithm: NSGA-II"), on loss vectors where smaller is better in every coordinate.
 */
import type { Direction } from './frozen-trial.js';

/** Turn values into losses: maximised objectives are negated. */
export function toLoss(values: readonly number[], directions: readonly Direction[]): number[] {
  return values.map((v, i) => (directions[i] === 'maximize' ? -v : v));
}

/** a dominates b: no worse anywhere, strictly better somewhere. */
export function dominates(a: readonly number[], b: readonly number[]): boolean {
  let better = false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] > b[i]) return false;
    if (a[i] < b[i]) better = true;
  }
  return better;
}

/** Fronts of indices: front 0 is non-dominated, front 1 is non-dominated once front 0 is removed, … */
export function nonDominatedSort(losses: readonly (readonly number[])[]): number[][] {
  const n = losses.length;
  const dominatedBy: number[][] = Array.from({ length: n }, () => []);
  const count = new Array<number>(n).fill(0);
  const fronts: number[][] = [[]];
  for (let p = 0; p < n; p++) {
    for (let q = 0; q < n; q++) {
      if (p === q) continue;
      if (dominates(losses[p], losses[q])) dominatedBy[p].push(q);
      else if (dominates(losses[q], losses[p])) count[p]++;
    }
    if (count[p] === 0) fronts[0].push(p);
  }
  for (let i = 0; fronts[i].length > 0; i++) {
    const next: number[] = [];
    for (const p of fronts[i]) for (const q of dominatedBy[p]) if (--count[q] === 0) next.push(q);
    fronts.push(next);
  }
  fronts.pop();
  return fronts;
}

/** Crowding distance of each member of one front (boundary points get Infinity). */
export function crowdingDistance(losses: readonly (readonly number[])[]): number[] {
  const n = losses.length;
  const d = new Array<number>(n).fill(0);
  if (n === 0) return d;
  const m = losses[0].length;
  for (let k = 0; k < m; k++) {
    const order = [...Array(n).keys()].sort((a, b) => losses[a][k] - losses[b][k]);
    const lo = losses[order[0]][k];
    const hi = losses[order[n - 1]][k];
    d[order[0]] = Infinity;
    d[order[n - 1]] = Infinity;
    if (hi === lo) continue;
    for (let i = 1; i < n - 1; i++) d[order[i]] += (losses[order[i + 1]][k] - losses[order[i - 1]][k]) / (hi - lo);
  }
  return d;
}
