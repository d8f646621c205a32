/**
 * Heartbeats, as Optuna's `optuna/storages/_heartbeat.py` (HeartbeatThread, `fail_stale_trials`) with the
 * settings Optuna's RDBStorage takes (`heartbeat_interval`, `grace_period`, `failed_trial_callback`), here given
 * to the study instead (createStudy / loadStudy / hyperparameterSearch options), for every storage.
 * While a trial is RUNNING its process records a heartbeat every `heartbeatInterval` seconds; a RUNNING trial with
 * no heartbeat for more than `gracePeriod` seconds belongs to a dead process and is failed when a study with
 * heartbeats is created or loaded and before each ask (Optuna does it before each trial in `_run_trial`).
 * Differences from Optuna: intervals may be fractional; a trial with no heartbeat at all counts from its start;
 * a timer (unref'd, so it never keeps Node alive) replaces the thread, so a heartbeat is late while the event
 * loop is blocked (the training loop yields to it every few steps).
 */
import { StudyError } from './errors.js';
import type { FrozenTrial } from './frozen-trial.js';
import type { StudyStorage } from './storage/storage.js';
import type { Study } from './study.js';

/** A function, or an object with onFailedTrial (RetryFailedTrialCallback), called for each stale trial failed. */
export type FailedTrialCallback = ((study: Study, trial: FrozenTrial) => void) | { onFailedTrial(study: Study, trial: FrozenTrial): void };

export interface HeartbeatOptions {
  /** Seconds between heartbeats of a RUNNING trial (Optuna's heartbeat_interval). Heartbeats are off if unset. */
  heartbeatInterval?: number;
  /** Seconds without a heartbeat after which a RUNNING trial is failed. Default 2 × heartbeatInterval, as Optuna. */
  gracePeriod?: number;
  /** Called with each trial failed for a stale heartbeat (Optuna's failed_trial_callback). */
  failedTrialCallback?: FailedTrialCallback;
}

export interface Heartbeat {
  intervalSeconds: number;
  graceSeconds: number;
  failedTrialCallback: FailedTrialCallback | null;
}

/** Validates the options; null when heartbeats are off. */
export function resolveHeartbeat(opts: HeartbeatOptions): Heartbeat | null {
  const { heartbeatInterval, gracePeriod, failedTrialCallback } = opts;
  if (heartbeatInterval === undefined) {
    // Optuna ignores these without an interval; here that silent no-op is an error.
    if (gracePeriod !== undefined) throw new StudyError('gracePeriod needs heartbeatInterval');
    if (failedTrialCallback !== undefined) throw new StudyError('failedTrialCallback needs heartbeatInterval (it is called for trials failed by a stale heartbeat)');
    return null;
  }
  if (typeof heartbeatInterval !== 'number' || !(heartbeatInterval > 0) || !Number.isFinite(heartbeatInterval)) {
    throw new StudyError(`heartbeatInterval (${String(heartbeatInterval)}) must be a positive number of seconds`);
  }
  if (gracePeriod !== undefined && (typeof gracePeriod !== 'number' || !(gracePeriod > 0) || !Number.isFinite(gracePeriod))) {
    throw new StudyError(`gracePeriod (${String(gracePeriod)}) must be a positive number of seconds`);
  }
  return { intervalSeconds: heartbeatInterval, graceSeconds: gracePeriod ?? 2 * heartbeatInterval, failedTrialCallback: failedTrialCallback ?? null };
}

/**
 * Records the trial's heartbeat every intervalSeconds until the returned function is called. The first beat is
 * the trial's start (storages set it when a trial becomes RUNNING). A failed write (a busy or closed database)
 * is reported once as a warning: a missed beat only risks the trial being failed as stale later.
 */
export function startHeartbeat(storage: StudyStorage, trialId: number, intervalSeconds: number): () => void {
  let warned = false;
  const timer = setInterval(() => {
    try {
      storage.recordHeartbeat(trialId);
    } catch (err) {
      if (!warned) process.emitWarning(`heartbeat of trial id ${trialId} not recorded: ${err instanceof Error ? err.message : String(err)}`);
      warned = true;
    }
  }, intervalSeconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Optuna's `fail_stale_trials(study)`: marks FAIL the study's RUNNING trials whose heartbeat stopped, then calls
 * the failed-trial callback for each. The storage fails each trial only if still RUNNING, so of several
 * processes doing this at once only one fails (and so retries) a given trial. Returns the trials failed here.
 */
export function failStaleTrials(study: Study): FrozenTrial[] {
  const hb = study.heartbeat;
  if (hb === null) return [];
  const failed = study.storage.failStaleTrials(study.studyId, hb.graceSeconds).map((id) => study.storage.getTrial(id));
  const cb = hb.failedTrialCallback;
  for (const trial of failed) {
    if (typeof cb === 'function') cb(study, trial);
    else cb?.onFailedTrial(study, trial);
  }
  return failed;
}
