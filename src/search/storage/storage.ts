/**
 * The storage interface every backend implements (InMemoryStorage, SqliteStorage, PostgresStorage), modelled on
 * Optuna's `optuna/storages/_base.py`. Synchronous on purpose: each call is one short transaction (better-sqlite3
 * is synchronous; PostgresStorage blocks on a worker thread that runs `pg`), so samplers and pruners stay plain
 * functions and several processes, on one machine or many, can share one study.
 * Params are stored in internal representation with their distribution; trials come back as FrozenTrial.
 */
import type { Distribution } from '../distributions.js';
import type { Direction, FrozenTrial, TrialState } from '../frozen-trial.js';

export interface StudySummary {
  studyId: number;
  studyName: string;
  directions: Direction[];
  nTrials: number;
}

export interface NewTrialTemplate {
  state?: TrialState;
  /** Internal-representation params with their distributions (enqueued or fixed trials). */
  params?: Record<string, { internal: number; distribution: Distribution }>;
  userAttrs?: Record<string, unknown>;
  systemAttrs?: Record<string, unknown>;
  values?: number[] | null;
  intermediateValues?: Map<number, number>;
}

export interface StudyStorage {
  /** Creates a study; throws StudyError if the name is taken. */
  createNewStudy(directions: Direction[], studyName: string): number;
  deleteStudy(studyId: number): void;
  /** Throws StudyError if there is no such study. */
  getStudyIdFromName(studyName: string): number;
  getStudyName(studyId: number): string;
  getStudyDirections(studyId: number): Direction[];
  getAllStudies(): StudySummary[];
  setStudyUserAttr(studyId: number, key: string, value: unknown): void;
  setStudySystemAttr(studyId: number, key: string, value: unknown): void;
  getStudyUserAttrs(studyId: number): Record<string, unknown>;
  getStudySystemAttrs(studyId: number): Record<string, unknown>;

  /** Creates a trial with the next number of the study (RUNNING unless the template says otherwise). */
  createNewTrial(studyId: number, template?: NewTrialTemplate): number;
  /**
   * Atomically claims the oldest WAITING trial (enqueued) and marks it RUNNING; null if none.
   * Two processes never claim the same trial.
   */
  claimWaitingTrial(studyId: number): number | null;
  /**
   * Sets the state (and values when COMPLETE). Returns false, changing nothing, if the trial is already
   * finished. Sets datetimeStart on RUNNING and datetimeComplete on a finished state.
   */
  setTrialStateValues(trialId: number, state: TrialState, values?: number[] | null): boolean;
  /** Checks compatibility against the study's earlier distributions of the same name. */
  setTrialParam(trialId: number, name: string, internal: number, distribution: Distribution): void;
  setTrialIntermediateValue(trialId: number, step: number, value: number): void;
  setTrialUserAttr(trialId: number, key: string, value: unknown): void;
  setTrialSystemAttr(trialId: number, key: string, value: unknown): void;
  getTrial(trialId: number): FrozenTrial;
  getAllTrials(studyId: number, states?: readonly TrialState[]): FrozenTrial[];
  getTrialIdFromNumber(studyId: number, number: number): number;

  /** Records that a RUNNING trial is alive now (Optuna's `record_heartbeat`); no effect on a finished trial. */
  recordHeartbeat(trialId: number): void;
  /**
   * Ids of the RUNNING trials with no heartbeat for more than graceSeconds (Optuna's `_get_stale_trial_ids`).
   * A trial with no heartbeat recorded counts from its start (unlike Optuna, which never fails those), so a
   * process killed before its first beat does not leave its trial RUNNING forever.
   */
  getStaleTrialIds(studyId: number, graceSeconds: number): number[];
  /**
   * Atomically marks FAIL (user attr fail_reason "stale heartbeat") the trials getStaleTrialIds lists, each
   * only if still RUNNING, and returns the ids this call failed: two processes never both fail one trial.
   */
  failStaleTrials(studyId: number, graceSeconds: number): number[];
  close(): void;
}
