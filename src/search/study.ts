/**
 * A study: a named set of trials in a storage, with a sampler and a pruner (Optuna's `optuna/study/study.py`).
 * Ask/tell is the core; `optimize` is a loop over ask/tell that may keep several trials in flight
 * (`concurrency`) so a fused GPU runner can train K trials at once.
 * Failure is data: an objective that throws, or returns NaN/±Inf, records FAIL with a `fail_reason`
 * user attribute and the loop goes on. `TrialPruned` records PRUNED.
 * With `heartbeatInterval` (heartbeat.ts) a RUNNING trial beats from ask to tell, and stale trials of dead
 * processes are failed (and, with a failedTrialCallback, retried) on create/load and before each ask.
 */
import { randomUUID } from 'node:crypto';
import type { Distribution, ParamValue } from './distributions.js';
import { StudyError, TrialPruned } from './errors.js';
import { trialRows, trialsToCSV, type TrialRow } from './export.js';
import { isFinished, lastStep, type Direction, type FrozenTrial, type TrialState } from './frozen-trial.js';
import { failStaleTrials, resolveHeartbeat, startHeartbeat, type Heartbeat, type HeartbeatOptions } from './heartbeat.js';
import { nonDominatedSort, toLoss } from './multi-objective.js';
import { MedianPruner } from './pruners/median.js';
import type { Pruner } from './pruners/pruner.js';
import type { Sampler } from './samplers/sampler.js';
import { defaultSampler } from './samplers/default-sampler.js';
import { getStorage } from './storage/index.js';
import type { StudyStorage } from './storage/storage.js';
import { FIXED_PARAMS_KEY, Trial } from './trial.js';

export type ObjectiveResult = number | number[];
export type Objective = (trial: Trial) => ObjectiveResult | Promise<ObjectiveResult>;
export type Callback = (study: Study, trial: FrozenTrial) => void | Promise<void>;
type ErrorClass = abstract new (...args: never[]) => Error;

export interface OptimizeOptions {
  /** Number of trials to run in this call. Unbounded if neither nTrials nor timeout is set (stop with stop() or signal). */
  nTrials?: number;
  /** Seconds after which no new trial is started. */
  timeout?: number;
  callbacks?: Callback[];
  /**
   * Which errors thrown by the objective are recorded as FAIL with the loop going on. Default 'all'
   * ("failure is data"). With a list, other errors are recorded FAIL and then rethrown once running trials end.
   */
  catch?: 'all' | ErrorClass[];
  /** Trials kept in flight at once (for asynchronous or fused objectives). Default 1. */
  concurrency?: number;
  /** Aborting marks running trials FAIL ("interrupted") and returns. */
  signal?: AbortSignal;
}

export type TellInput = number | number[] | { state: 'COMPLETE' | 'PRUNED' | 'FAIL'; values?: number | number[]; failReason?: string };

export interface CreateStudyOptions extends HeartbeatOptions {
  storage?: string | StudyStorage;
  sampler?: Sampler;
  pruner?: Pruner;
  direction?: Direction;
  directions?: Direction[];
  studyName?: string;
  loadIfExists?: boolean;
}

class Interrupted extends Error {
  constructor() {
    super('interrupted');
  }
}

export class Study {
  private stopState: 'none' | 'graceful' | 'interrupt' = 'none';
  private readonly interruptListeners = new Set<() => void>();
  /** Heartbeat timers of the trials this Study asked and has not told yet, by trial id. */
  private readonly beating = new Map<number, () => void>();
  readonly directions: Direction[];
  /** Heartbeat settings, or null when heartbeats are off. */
  readonly heartbeat: Heartbeat | null;

  constructor(
    readonly storage: StudyStorage,
    readonly studyId: number,
    readonly sampler: Sampler,
    readonly pruner: Pruner,
    heartbeat: HeartbeatOptions = {},
  ) {
    this.directions = storage.getStudyDirections(studyId);
    this.heartbeat = resolveHeartbeat(heartbeat);
  }

  get studyName(): string {
    return this.storage.getStudyName(this.studyId);
  }

  get direction(): Direction {
    if (this.directions.length !== 1) throw new StudyError(`study "${this.studyName}" has ${this.directions.length} objectives; use directions`);
    return this.directions[0];
  }

  get isMultiObjective(): boolean {
    return this.directions.length > 1;
  }

  getTrials(opts: { states?: readonly TrialState[] } = {}): FrozenTrial[] {
    return this.storage.getAllTrials(this.studyId, opts.states);
  }

  get trials(): FrozenTrial[] {
    return this.getTrials();
  }

  get userAttrs(): Record<string, unknown> {
    return this.storage.getStudyUserAttrs(this.studyId);
  }

  setUserAttr(key: string, value: unknown): void {
    this.storage.setStudyUserAttr(this.studyId, key, value);
  }

  /**
   * Starts a trial: an enqueued (WAITING) one if any, else a new one; `fixedDistributions` are suggested at once.
   * With heartbeats, stale trials are failed first (their retries are then the first WAITING trials) and the new
   * trial beats until it is told.
   */
  ask(fixedDistributions: Record<string, Distribution> = {}, signal?: AbortSignal): Trial {
    if (this.heartbeat) failStaleTrials(this);
    const trialId = this.storage.claimWaitingTrial(this.studyId) ?? this.storage.createNewTrial(this.studyId);
    this.sampler.beforeTrial?.(this, this.storage.getTrial(trialId));
    const trial = new Trial(this, trialId, signal);
    for (const [name, dist] of Object.entries(fixedDistributions)) trial.suggest(name, dist);
    if (this.heartbeat) this.beating.set(trialId, startHeartbeat(this.storage, trialId, this.heartbeat.intervalSeconds));
    return trial;
  }

  private stopHeartbeat(trialId: number): void {
    this.beating.get(trialId)?.();
    this.beating.delete(trialId);
  }

  /**
   * Finishes a trial. A number/array means COMPLETE with those values; values that are not finite, or of
   * the wrong count, record FAIL with the reason. PRUNED without values takes the last reported value.
   * Telling a finished trial again is an error.
   */
  tell(trialOrNumber: Trial | number, input: TellInput): FrozenTrial {
    const trialId = typeof trialOrNumber === 'number' ? this.storage.getTrialIdFromNumber(this.studyId, trialOrNumber) : trialOrNumber.trialId;
    const frozen = this.storage.getTrial(trialId);
    if (isFinished(frozen.state)) {
      this.stopHeartbeat(trialId);
      throw new StudyError(`trial ${frozen.number} is already finished (${frozen.state})`);
    }
    const spec = typeof input === 'number' || Array.isArray(input) ? { state: 'COMPLETE' as const, values: input } : input;
    let state: TrialState = spec.state;
    let values: number[] | null = spec.values === undefined ? null : Array.isArray(spec.values) ? [...spec.values] : [spec.values];
    let failReason = spec.state === 'FAIL' ? (spec.failReason ?? 'failed') : null;
    if (state === 'COMPLETE') {
      if (values === null) {
        state = 'FAIL';
        failReason = 'COMPLETE without values';
      } else if (values.length !== this.directions.length) {
        failReason = `objective returned ${values.length} values; the study has ${this.directions.length} directions`;
      } else {
        const bad = values.find((v) => typeof v !== 'number' || !Number.isFinite(v));
        if (bad !== undefined) failReason = `objective returned ${String(bad)}`;
      }
      if (failReason !== null) {
        state = 'FAIL';
        values = null;
      }
    } else if (state === 'PRUNED') {
      if (values === null && this.directions.length === 1) {
        const step = lastStep(frozen);
        const v = step === null ? undefined : frozen.intermediateValues.get(step);
        values = v !== undefined && Number.isFinite(v) ? [v] : null;
      }
    } else values = null;
    // The heartbeat stops however this ends: told, or finished meanwhile by another process's failStaleTrials.
    try {
      if (failReason !== null) this.storage.setTrialUserAttr(trialId, 'fail_reason', failReason);
      this.sampler.afterTrial?.(this, this.storage.getTrial(trialId), state, values);
      if (!this.storage.setTrialStateValues(trialId, state, values)) {
        throw new StudyError(`trial ${frozen.number} was finished by someone else meanwhile`);
      }
    } finally {
      this.stopHeartbeat(trialId);
    }
    return this.storage.getTrial(trialId);
  }

  /** Queues a trial whose listed params are fixed (others are sampled); the next ask() takes it. */
  enqueueTrial(params: Record<string, ParamValue>, opts: { userAttrs?: Record<string, unknown> } = {}): void {
    this.storage.createNewTrial(this.studyId, { state: 'WAITING', systemAttrs: { [FIXED_PARAMS_KEY]: params }, userAttrs: opts.userAttrs });
  }

  /** Adds a finished trial (e.g. from an earlier search) so samplers learn from it, like Optuna's `add_trial`. */
  addTrial(t: {
    params: Record<string, ParamValue>;
    distributions: Record<string, Distribution>;
    values?: number[] | null;
    state?: 'COMPLETE' | 'PRUNED' | 'FAIL';
    intermediateValues?: Map<number, number>;
    userAttrs?: Record<string, unknown>;
  }): number {
    const params: Record<string, { internal: number; distribution: Distribution }> = {};
    for (const [name, value] of Object.entries(t.params)) {
      const d = t.distributions[name];
      if (!d) throw new StudyError(`addTrial: param ${name} has no distribution`);
      const internal = d.toInternal(value, name);
      if (!d.contains(internal)) throw new StudyError(`addTrial: ${name} value (${JSON.stringify(value)}) is outside its distribution`);
      params[name] = { internal, distribution: d };
    }
    const state = t.state ?? 'COMPLETE';
    if (state === 'COMPLETE' && (!t.values || t.values.length !== this.directions.length)) {
      throw new StudyError(`addTrial: a COMPLETE trial needs ${this.directions.length} value(s)`);
    }
    const trialId = this.storage.createNewTrial(this.studyId, { state, params, values: t.values ?? null, intermediateValues: t.intermediateValues, userAttrs: t.userAttrs });
    return this.storage.getTrial(trialId).number;
  }

  /**
   * Stops `optimize`: no new trial starts. By default running trials are marked FAIL ("interrupted") at
   * once; with `graceful` they are allowed to finish (Optuna's `study.stop()`; used by GridSampler).
   */
  stop(opts: { graceful?: boolean } = {}): void {
    if (opts.graceful) {
      if (this.stopState === 'none') this.stopState = 'graceful';
      return;
    }
    this.stopState = 'interrupt';
    for (const l of this.interruptListeners) l();
  }

  /**
   * Marks FAIL the RUNNING trials whose heartbeat stopped for longer than the grace period (a dead process's
   * trials) and calls the failedTrialCallback for each; returns them. Nothing without heartbeats (as Optuna).
   */
  failStaleTrials(): FrozenTrial[] {
    return failStaleTrials(this);
  }

  async optimize(objective: Objective, opts: OptimizeOptions = {}): Promise<void> {
    const { nTrials, timeout, callbacks = [], concurrency = 1, signal } = opts;
    const catchOpt = opts.catch ?? 'all';
    if (nTrials !== undefined && (!Number.isInteger(nTrials) || nTrials < 0)) throw new StudyError(`nTrials (${nTrials}) must be an integer >= 0`);
    if (timeout !== undefined && !(timeout >= 0)) throw new StudyError(`timeout (${timeout}) must be >= 0 seconds`);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new StudyError(`concurrency (${concurrency}) must be an integer >= 1`);
    this.stopState = 'none';
    const started = Date.now();
    let nStarted = 0;
    let fatal: unknown = null;
    const controller = new AbortController();
    const onInterrupt = (): void => controller.abort();
    this.interruptListeners.add(onInterrupt);
    const onSignal = (): void => this.stop();
    if (signal) {
      if (signal.aborted) this.stop();
      signal.addEventListener('abort', onSignal);
    }
    const interrupted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(new Interrupted()));
    });
    interrupted.catch(() => {});

    const mayStart = (): boolean =>
      this.stopState === 'none' && fatal === null && (nTrials === undefined || nStarted < nTrials) && (timeout === undefined || (Date.now() - started) / 1000 < timeout);

    const runOne = async (): Promise<void> => {
      nStarted++;
      const trial = this.ask({}, controller.signal);
      let input: TellInput;
      try {
        const pending = Promise.resolve().then(() => objective(trial));
        pending.catch(() => {});
        const result = await Promise.race([pending, interrupted]);
        input = result;
      } catch (err) {
        if (err instanceof Interrupted) input = { state: 'FAIL', failReason: 'interrupted' };
        else if (err instanceof TrialPruned) input = { state: 'PRUNED' };
        else {
          const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
          input = { state: 'FAIL', failReason: reason };
          const caught = catchOpt === 'all' || catchOpt.some((c) => err instanceof c);
          if (!caught && fatal === null) fatal = err;
        }
      }
      let frozen: FrozenTrial;
      try {
        frozen = this.tell(trial, input);
      } catch (err) {
        // Another process failed this trial as stale (this one's heartbeat was late, e.g. a blocked event loop):
        // its FAIL stands and the loop goes on.
        const now = this.storage.getTrial(trial.trialId);
        if (!(err instanceof StudyError) || now.state !== 'FAIL' || now.userAttrs.fail_reason !== 'stale heartbeat') throw err;
        process.emitWarning(`trial ${trial.number} was failed by another process (stale heartbeat) before it finished here; its result is dropped`);
        return;
      }
      if (this.stopState !== 'interrupt') for (const cb of callbacks) await cb(this, frozen);
    };

    const worker = async (): Promise<void> => {
      while (mayStart()) {
        try {
          await runOne();
        } catch (err) {
          if (fatal === null) fatal = err;
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: concurrency }, worker));
    } finally {
      this.interruptListeners.delete(onInterrupt);
      signal?.removeEventListener('abort', onSignal);
    }
    if (fatal !== null) throw fatal;
  }

  private completeTrials(): FrozenTrial[] {
    return this.getTrials({ states: ['COMPLETE'] });
  }

  /** The best COMPLETE trial (single objective); throws if there is none. */
  get bestTrial(): FrozenTrial {
    const sign = this.direction === 'maximize' ? -1 : 1;
    let best: FrozenTrial | null = null;
    for (const t of this.completeTrials()) if (best === null || sign * t.values![0] < sign * best.values![0]) best = t;
    if (best === null) throw new StudyError(`study "${this.studyName}" has no COMPLETE trial yet`);
    return best;
  }

  get bestValue(): number {
    return this.bestTrial.values![0];
  }

  get bestParams(): Record<string, ParamValue> {
    return this.bestTrial.params;
  }

  /** The Pareto front of COMPLETE trials (for a single objective, every trial tied for best). */
  get bestTrials(): FrozenTrial[] {
    const done = this.completeTrials();
    if (done.length === 0) return [];
    const fronts = nonDominatedSort(done.map((t) => toLoss(t.values!, this.directions)));
    return fronts[0].sort((a, b) => a - b).map((i) => done[i]);
  }

  toJSON(): { studyName: string; directions: Direction[]; trials: TrialRow[] } {
    return { studyName: this.studyName, directions: this.directions, trials: trialRows(this.trials) };
  }

  toCSV(): string {
    return trialsToCSV(this.trials, this.directions.length);
  }
}

/**
 * Creates a study, or loads it when `loadIfExists` and the name exists (directions must then match).
 * Defaults as Optuna's `create_study`: TPE (NSGA-II for several objectives) and MedianPruner.
 */
export function createStudy(opts: CreateStudyOptions = {}): Study {
  if (opts.direction && opts.directions) throw new StudyError('give direction or directions, not both');
  const directions = opts.directions ?? [opts.direction ?? 'minimize'];
  if (directions.length === 0) throw new StudyError('directions must not be empty');
  for (const d of directions) if (d !== 'minimize' && d !== 'maximize') throw new StudyError(`direction (${String(d)}) must be "minimize" or "maximize"`);
  const storage = getStorage(opts.storage);
  const name = opts.studyName ?? `no-name-${randomUUID()}`;
  let studyId: number;
  try {
    studyId = storage.createNewStudy(directions, name);
  } catch (err) {
    if (!(err instanceof StudyError) || !opts.loadIfExists) throw err;
    studyId = storage.getStudyIdFromName(name);
    const stored = storage.getStudyDirections(studyId);
    if (JSON.stringify(stored) !== JSON.stringify(directions)) {
      throw new StudyError(`study "${name}" exists with directions ${JSON.stringify(stored)}, not ${JSON.stringify(directions)}`);
    }
  }
  const study = new Study(storage, studyId, opts.sampler ?? defaultSampler(directions), opts.pruner ?? new MedianPruner(), opts);
  if (study.heartbeat) study.failStaleTrials(); // a resumed study fails (and may retry) its dead trials at once
  return study;
}

export interface LoadStudyOptions extends HeartbeatOptions {
  studyName: string;
  storage: string | StudyStorage;
  sampler?: Sampler;
  pruner?: Pruner;
}

export function loadStudy(opts: LoadStudyOptions): Study {
  const storage = getStorage(opts.storage);
  const studyId = storage.getStudyIdFromName(opts.studyName);
  const study = new Study(storage, studyId, opts.sampler ?? defaultSampler(storage.getStudyDirections(studyId)), opts.pruner ?? new MedianPruner(), opts);
  if (study.heartbeat) study.failStaleTrials();
  return study;
}
