/**
 * What a study report shows, read from a study's storage: trials, parameters, best-so-far, the Pareto front and
 * PED-ANOVA importances (one ranking per objective). Pure data (JSON-safe): the page script (views.ts) draws it,
 * inlined once in a report (html.ts) or fetched afresh every second by the dashboard (src/search/dashboard).
 */
import type { Distribution, ParamValue } from '../distributions.js';
import type { Direction, FrozenTrial, TrialState } from '../frozen-trial.js';
import { pedAnovaImportance } from '../importance/ped-anova.js';
import { objectiveTarget } from '../importance/per-objective.js';
import { nonDominatedSort, toLoss } from '../multi-objective.js';

export interface ReportParam {
  name: string;
  kind: 'float' | 'int' | 'categorical';
  log: boolean;
  low: number | null;
  high: number | null;
  choices: ParamValue[] | null;
}

export interface ReportTrial {
  number: number;
  state: TrialState;
  values: number[] | null;
  params: Record<string, ParamValue>;
  /** Seconds from start to finish, or null when not finished (or never started). */
  duration: number | null;
  start: string | null;
  /** [step, value] pairs, by step. */
  intermediate: Array<[number, number]>;
}

/** The importance of the parameters to one objective. */
export interface ReportImportance {
  objective: number;
  /** [name, importance] highest first, summing to 1; null when it cannot be computed. */
  ranking: Array<[string, number]> | null;
  note: string;
}

export interface ReportData {
  studyName: string;
  storage: string;
  directions: Direction[];
  generatedAt: string;
  params: ReportParam[];
  trials: ReportTrial[];
  /** Trial numbers of the Pareto front (multi-objective) or of the best trial (single objective). */
  best: number[];
  /** One entry per objective, in the order of `directions`. */
  importance: ReportImportance[];
}

/** Builds the report data from a study's trials (as `storage.getAllTrials`). */
export function reportData(studyName: string, storage: string, directions: Direction[], trials: readonly FrozenTrial[]): ReportData {
  const paramMap = new Map<string, Distribution>();
  for (const t of trials) for (const [n, d] of Object.entries(t.distributions)) paramMap.set(n, d);
  const params = [...paramMap.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, d]) => describeParam(name, d));
  const reportTrials = [...trials]
    .sort((a, b) => a.number - b.number)
    .map((t): ReportTrial => ({
      number: t.number,
      state: t.state,
      values: t.values,
      params: { ...t.params },
      duration: t.datetimeStart && t.datetimeComplete ? (t.datetimeComplete.getTime() - t.datetimeStart.getTime()) / 1000 : null,
      start: t.datetimeStart ? t.datetimeStart.toISOString() : null,
      intermediate: [...t.intermediateValues.entries()].sort((a, b) => a[0] - b[0]),
    }));
  const complete = trials.filter((t) => t.state === 'COMPLETE' && t.values !== null && t.values.length === directions.length && t.values.every(Number.isFinite));
  let best: number[] = [];
  if (complete.length > 0) {
    const fronts = nonDominatedSort(complete.map((t) => toLoss(t.values!, directions)));
    best = fronts[0].map((i) => complete[i].number).sort((a, b) => a - b);
  }
  const importance = directions.map((direction, i) => objectiveImportance(complete, i, direction, directions.length > 1));
  return { studyName, storage, directions, generatedAt: new Date().toISOString(), params, trials: reportTrials, best, importance };
}

/** PED-ANOVA for objective `i` (Optuna's get_param_importances with target=lambda t: ±t.values[i]). */
function objectiveImportance(complete: FrozenTrial[], i: number, direction: Direction, multi: boolean): ReportImportance {
  const what = multi ? `value ${i} (${direction})` : 'the objective';
  if (complete.length === 0) return { objective: i, ranking: null, note: 'no COMPLETE trial yet: nothing to rank' };
  try {
    const ranking = Object.entries(pedAnovaImportance(complete, { target: objectiveTarget(i, direction) }));
    if (ranking.length === 0) return { objective: i, ranking: null, note: 'no parameter that every COMPLETE trial has varies: nothing to rank' };
    return { objective: i, ranking, note: `PED-ANOVA (as Optuna's PedAnovaImportanceEvaluator): which parameters matter to reach the top 10% of ${what}` };
  } catch (error) {
    return { objective: i, ranking: null, note: `importance of ${what} not computed: ${error instanceof Error ? error.message : String(error)}` };
  }
}

function describeParam(name: string, d: Distribution): ReportParam {
  if (d.kind === 'categorical') return { name, kind: d.kind, log: false, low: null, high: null, choices: [...d.choices] };
  return { name, kind: d.kind, log: d.log, low: d.low, high: d.high, choices: null };
}
