/**
 * Optuna's `RetryFailedTrialCallback` (optuna/_callbacks.py, Optuna 3.1), for the `failedTrialCallback` study
 * option: a trial failed for a stale heartbeat (its process died) is queued again as a WAITING trial with the
 * same params, distributions and user attrs, plus system attrs `failed_trial` (the number of the first trial of
 * the retry series) and `retry_history` (every trial number of the series so far), so the next ask runs it.
 * `maxRetry` bounds the series (unbounded when undefined); `inheritIntermediateValues` copies the reports.
 * One difference: the failed trial's `fail_reason` user attr (this project's, not Optuna's) is not copied, so a
 * retry that completes does not show the old reason.
 */
import type { Distribution } from './distributions.js';
import type { FrozenTrial } from './frozen-trial.js';
import type { Study } from './study.js';

export interface RetryFailedTrialCallbackOptions {
  maxRetry?: number;
  inheritIntermediateValues?: boolean;
}

export class RetryFailedTrialCallback {
  readonly maxRetry: number | undefined;
  readonly inheritIntermediateValues: boolean;

  constructor(opts: RetryFailedTrialCallbackOptions = {}) {
    if (opts.maxRetry !== undefined && (!Number.isInteger(opts.maxRetry) || opts.maxRetry < 0)) {
      throw new RangeError(`maxRetry (${opts.maxRetry}) must be an integer >= 0`);
    }
    this.maxRetry = opts.maxRetry;
    this.inheritIntermediateValues = opts.inheritIntermediateValues ?? false;
  }

  onFailedTrial(study: Study, trial: FrozenTrial): void {
    // As Optuna: {"failed_trial": number, "retry_history": [], **trial.system_attrs}, then append this number.
    const systemAttrs: Record<string, unknown> = { failed_trial: trial.number, retry_history: [], ...trial.systemAttrs };
    const history = [...(systemAttrs.retry_history as number[]), trial.number];
    systemAttrs.retry_history = history;
    if (this.maxRetry !== undefined && this.maxRetry < history.length) return;
    const params: Record<string, { internal: number; distribution: Distribution }> = {};
    for (const [name, value] of Object.entries(trial.params)) {
      const distribution = trial.distributions[name];
      params[name] = { internal: distribution.toInternal(value, name), distribution };
    }
    const { fail_reason: _dropped, ...userAttrs } = trial.userAttrs;
    study.storage.createNewTrial(study.studyId, {
      state: 'WAITING',
      params,
      userAttrs,
      systemAttrs,
      intermediateValues: this.inheritIntermediateValues ? trial.intermediateValues : undefined,
    });
  }

  /** The number of the original trial this one retries (Optuna's `retried_trial_number`), or null. */
  static retriedTrialNumber(trial: FrozenTrial): number | null {
    return (trial.systemAttrs.failed_trial as number | undefined) ?? null;
  }

  /** The trial numbers of the retry series before this trial, oldest first (Optuna's `retry_history`). */
  static retryHistory(trial: FrozenTrial): number[] {
    return (trial.systemAttrs.retry_history as number[] | undefined) ?? [];
  }
}
