/** Helpers shared by the storage backends: build FrozenTrials from stored rows, validate states. */
import { distributionFromJSON, type Distribution } from '../distributions.js';
import type { FrozenTrial, TrialState } from '../frozen-trial.js';

export const TRIAL_STATES: readonly TrialState[] = ['RUNNING', 'COMPLETE', 'PRUNED', 'FAIL', 'WAITING'];

export interface StoredParam {
  internal: number;
  distribution: Distribution;
}

export interface TrialRecordParts {
  trialId: number;
  number: number;
  state: TrialState;
  values: number[] | null;
  params: Map<string, StoredParam>;
  intermediateValues: Map<number, number>;
  userAttrs: Record<string, unknown>;
  systemAttrs: Record<string, unknown>;
  datetimeStart: Date | null;
  datetimeComplete: Date | null;
}

/** Attrs are copied so callers cannot mutate storage; empty ones skip the (comparatively slow) structuredClone. */
function cloneAttrs(a: Record<string, unknown>): Record<string, unknown> {
  for (const _ in a) return structuredClone(a);
  return {};
}

export function toFrozenTrial(r: TrialRecordParts): FrozenTrial {
  const params: FrozenTrial['params'] = {};
  const distributions: FrozenTrial['distributions'] = {};
  for (const [name, p] of r.params) {
    params[name] = p.distribution.toExternal(p.internal);
    distributions[name] = p.distribution;
  }
  return {
    trialId: r.trialId,
    number: r.number,
    state: r.state,
    values: r.values ? [...r.values] : null,
    value: r.values && r.values.length === 1 ? r.values[0] : null,
    params,
    distributions,
    intermediateValues: new Map(r.intermediateValues),
    userAttrs: cloneAttrs(r.userAttrs),
    systemAttrs: cloneAttrs(r.systemAttrs),
    datetimeStart: r.datetimeStart ? new Date(r.datetimeStart) : null,
    datetimeComplete: r.datetimeComplete ? new Date(r.datetimeComplete) : null,
  };
}

export function parseDistribution(json: string, name: string): Distribution {
  return distributionFromJSON(json, name);
}
