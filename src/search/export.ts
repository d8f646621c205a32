/**
 * Study export, the role of Optuna's `study.trials_dataframe()`: one row per trial with number, state,
 * value(s), datetimes, duration, params_*, user_attrs_*; as CSV (RFC 4180 quoting) or JSON.
 */
import type { FrozenTrial } from './frozen-trial.js';

export interface TrialRow {
  number: number;
  state: string;
  values: number[] | null;
  datetimeStart: string | null;
  datetimeComplete: string | null;
  durationSeconds: number | null;
  params: Record<string, unknown>;
  userAttrs: Record<string, unknown>;
  intermediateValues: Record<string, number>;
}

export function trialRows(trials: readonly FrozenTrial[]): TrialRow[] {
  return trials.map((t) => ({
    number: t.number,
    state: t.state,
    values: t.values,
    datetimeStart: t.datetimeStart?.toISOString() ?? null,
    datetimeComplete: t.datetimeComplete?.toISOString() ?? null,
    durationSeconds: t.datetimeStart && t.datetimeComplete ? (t.datetimeComplete.getTime() - t.datetimeStart.getTime()) / 1000 : null,
    params: { ...t.params },
    userAttrs: { ...t.userAttrs },
    intermediateValues: Object.fromEntries(t.intermediateValues),
  }));
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function trialsToCSV(trials: readonly FrozenTrial[], nObjectives: number): string {
  const rows = trialRows(trials);
  const paramNames = [...new Set(rows.flatMap((r) => Object.keys(r.params)))].sort();
  const attrNames = [...new Set(rows.flatMap((r) => Object.keys(r.userAttrs)))].sort();
  const valueCols = nObjectives === 1 ? ['value'] : Array.from({ length: nObjectives }, (_, i) => `values_${i}`);
  const header = ['number', ...valueCols, 'datetime_start', 'datetime_complete', 'duration', ...paramNames.map((p) => `params_${p}`), ...attrNames.map((a) => `user_attrs_${a}`), 'state'];
  const lines = [header.map(csvCell).join(',')];
  for (const r of rows) {
    const vals = valueCols.map((_, i) => r.values?.[i] ?? null);
    lines.push([r.number, ...vals, r.datetimeStart, r.datetimeComplete, r.durationSeconds, ...paramNames.map((p) => r.params[p]), ...attrNames.map((a) => r.userAttrs[a]), r.state].map(csvCell).join(','));
  }
  return lines.join('\n') + '\n';
}
