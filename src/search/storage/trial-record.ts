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
    params,
    distributions,
    intermediateValues: new Map(r.intermediateValues),
    userAttrs: structuredClone(r.userAttrs),
    systemAttrs: structuredClone(r.systemAttrs),
    datetimeStart: r.datetimeStart ? new Date(r.datetimeStart) : null,
    datetimeComplete: r.datetimeComplete ? new Date(r.datetimeComplete) : null,
  };
}

export function parseDistribution(json: string, name: string): Distribution {
  return distributionFromJSON(json, name);
}
