/**
 * Importance for each objective of a (multi-objective) study: PED-ANOVA once per objective, as Optuna's
 * `get_param_importances(study, target=lambda t: t.values[i])` called for each objective i. Optuna's PED-ANOVA takes
 * a given target as lower-is-better, so a maximised objective is negated here (Optuna's `target=lambda t:
 * -t.values[i]`): each ranking says which parameters matter to reach the top of that objective in its direction.
 */
import type { Direction, FrozenTrial } from '../frozen-trial.js';
import { pedAnovaImportance, type PedAnovaOptions } from './ped-anova.js';

/** The value PED-ANOVA ranks trials by for objective `index` (lower is better); NaN when the trial has none. */
export function objectiveTarget(index: number, direction: Direction): (t: FrozenTrial) => number {
  const sign = direction === 'maximize' ? -1 : 1;
  return (t) => {
    const v = t.values?.[index];
    return v === undefined || v === null ? NaN : sign * v;
  };
}

/** One importance record (highest first, as pedAnovaImportance) per objective, in the order of `directions`. */
export function importancePerObjective(
  trials: readonly FrozenTrial[],
  directions: readonly Direction[],
  opts: Omit<PedAnovaOptions, 'target' | 'direction'> = {},
): Record<string, number>[] {
  return directions.map((direction, i) => pedAnovaImportance(trials, { ...opts, target: objectiveTarget(i, direction) }));
}
