/**
 * A read-only snapshot of one trial, as Optuna's `optuna/trial/_frozen.py`. Storages return these;
 * samplers and pruners read them. Params are external values (categorical choices, not indices).
 */
import type { Distribution, ParamValue } from './distributions.js';

export type TrialState = 'RUNNING' | 'COMPLETE' | 'PRUNED' | 'FAIL' | 'WAITING';

export function isFinished(state: TrialState): boolean {
  return state === 'COMPLETE' || state === 'PRUNED' || state === 'FAIL';
}

export type Direction = 'minimize' | 'maximize';

export interface FrozenTrial {
  /** Storage-wide id. */
  readonly trialId: number;
  /** 0-based number inside the study. */
  readonly number: number;
  readonly state: TrialState;
  /** Objective values (one per direction), or null unless COMPLETE. */
  readonly values: number[] | null;
  /** values[0] for a single-objective trial, else null. */
  readonly value: number | null;
  readonly params: Record<string, ParamValue>;
  readonly distributions: Record<string, Distribution>;
  /** step → value, reported through `trial.report`. */
  readonly intermediateValues: Map<number, number>;
  readonly userAttrs: Record<string, unknown>;
  readonly systemAttrs: Record<string, unknown>;
  readonly datetimeStart: Date | null;
  readonly datetimeComplete: Date | null;
}

/** The single objective value; throws for a multi-objective trial. */
export function trialValue(t: FrozenTrial): number | null {
  if (t.values === null) return null;
  if (t.values.length !== 1) throw new Error(`trial ${t.number}: has ${t.values.length} values; use values for multi-objective studies`);
  return t.values[0];
}

/** The largest reported step, or null (Optuna's `FrozenTrial.last_step`). */
export function lastStep(t: FrozenTrial): number | null {
  let s: number | null = null;
  for (const k of t.intermediateValues.keys()) if (s === null || k > s) s = k;
  return s;
}
