/**
 * In-process storage (Optuna's `optuna/storages/_in_memory.py`): fast, lost at exit, one process only.
 */
import { checkDistributionCompatibility, type Distribution } from '../distributions.js';
import { StudyError } from '../errors.js';
import { isFinished, type Direction, type FrozenTrial, type TrialState } from '../frozen-trial.js';
import type { NewTrialTemplate, StudyStorage, StudySummary } from './storage.js';
import { toFrozenTrial, type TrialRecordParts } from './trial-record.js';

interface TrialRecord extends TrialRecordParts {
  studyId: number;
  heartbeat: number | null;
}

interface StudyRecord {
  name: string;
  directions: Direction[];
  userAttrs: Record<string, unknown>;
  systemAttrs: Record<string, unknown>;
  trialIds: number[];
  paramDistributions: Map<string, Distribution>;
}

export class InMemoryStorage implements StudyStorage {
  private readonly studies = new Map<number, StudyRecord>();
  private readonly trials: TrialRecord[] = [];
  private nextStudyId = 0;

  private study(studyId: number): StudyRecord {
    const s = this.studies.get(studyId);
    if (!s) throw new StudyError(`study id ${studyId} does not exist`);
    return s;
  }

  private trial(trialId: number): TrialRecord {
    const t = this.trials[trialId];
    if (!t) throw new StudyError(`trial id ${trialId} does not exist`);
    return t;
  }

  private assertUpdatable(t: TrialRecord): void {
    if (isFinished(t.state)) throw new StudyError(`trial ${t.number} is already finished (${t.state}) and cannot be updated`);
  }

  createNewStudy(directions: Direction[], studyName: string): number {
    for (const s of this.studies.values()) if (s.name === studyName) throw new StudyError(`study name "${studyName}" already exists`);
    const id = this.nextStudyId++;
    this.studies.set(id, { name: studyName, directions: [...directions], userAttrs: {}, systemAttrs: {}, trialIds: [], paramDistributions: new Map() });
    return id;
  }

  deleteStudy(studyId: number): void {
    this.study(studyId);
    this.studies.delete(studyId);
  }

  getStudyIdFromName(studyName: string): number {
    for (const [id, s] of this.studies) if (s.name === studyName) return id;
    throw new StudyError(`no study named "${studyName}"`);
  }

  getStudyName(studyId: number): string {
    return this.study(studyId).name;
  }

  getStudyDirections(studyId: number): Direction[] {
    return [...this.study(studyId).directions];
  }

  getAllStudies(): StudySummary[] {
    return [...this.studies].map(([studyId, s]) => ({ studyId, studyName: s.name, directions: [...s.directions], nTrials: s.trialIds.length }));
  }

  setStudyUserAttr(studyId: number, key: string, value: unknown): void {
    this.study(studyId).userAttrs[key] = structuredClone(value);
  }

  setStudySystemAttr(studyId: number, key: string, value: unknown): void {
    this.study(studyId).systemAttrs[key] = structuredClone(value);
  }

  getStudyUserAttrs(studyId: number): Record<string, unknown> {
    return structuredClone(this.study(studyId).userAttrs);
  }

  getStudySystemAttrs(studyId: number): Record<string, unknown> {
    return structuredClone(this.study(studyId).systemAttrs);
  }

  createNewTrial(studyId: number, template: NewTrialTemplate = {}): number {
    const s = this.study(studyId);
    const trialId = this.trials.length;
    const state = template.state ?? 'RUNNING';
    const now = new Date();
    const params = new Map<string, { internal: number; distribution: Distribution }>();
    for (const [name, p] of Object.entries(template.params ?? {})) {
      this.checkParam(s, name, p.distribution);
      params.set(name, { internal: p.internal, distribution: p.distribution });
    }
    this.trials.push({
      studyId,
      trialId,
      number: s.trialIds.length,
      state,
      values: template.values ? [...template.values] : null,
      params,
      intermediateValues: new Map(template.intermediateValues ?? []),
      userAttrs: structuredClone(template.userAttrs ?? {}),
      systemAttrs: structuredClone(template.systemAttrs ?? {}),
      datetimeStart: state === 'WAITING' ? null : now,
      datetimeComplete: isFinished(state) ? now : null,
      heartbeat: state === 'RUNNING' ? now.getTime() : null,
    });
    s.trialIds.push(trialId);
    return trialId;
  }

  claimWaitingTrial(studyId: number): number | null {
    for (const id of this.study(studyId).trialIds) {
      const t = this.trials[id];
      if (t.state === 'WAITING') {
        t.state = 'RUNNING';
        t.datetimeStart = new Date();
        t.heartbeat = Date.now();
        return id;
      }
    }
    return null;
  }

  setTrialStateValues(trialId: number, state: TrialState, values?: number[] | null): boolean {
    const t = this.trial(trialId);
    if (isFinished(t.state)) return false;
    if (state === 'WAITING') throw new StudyError(`trial ${t.number}: cannot go back to WAITING`);
    t.state = state;
    if (values !== undefined) t.values = values === null ? null : [...values];
    if (state === 'RUNNING') {
      t.datetimeStart = new Date();
      t.heartbeat = Date.now();
    }
    if (isFinished(state)) t.datetimeComplete = new Date();
    return true;
  }

  private checkParam(s: StudyRecord, name: string, distribution: Distribution): void {
    const old = s.paramDistributions.get(name);
    if (old) checkDistributionCompatibility(name, old, distribution);
    s.paramDistributions.set(name, distribution);
  }

  setTrialParam(trialId: number, name: string, internal: number, distribution: Distribution): void {
    const t = this.trial(trialId);
    this.assertUpdatable(t);
    this.checkParam(this.study(t.studyId), name, distribution);
    t.params.set(name, { internal, distribution });
  }

  setTrialIntermediateValue(trialId: number, step: number, value: number): void {
    const t = this.trial(trialId);
    this.assertUpdatable(t);
    t.intermediateValues.set(step, value);
  }

  setTrialUserAttr(trialId: number, key: string, value: unknown): void {
    const t = this.trial(trialId);
    this.assertUpdatable(t);
    t.userAttrs[key] = structuredClone(value);
  }

  setTrialSystemAttr(trialId: number, key: string, value: unknown): void {
    const t = this.trial(trialId);
    this.assertUpdatable(t);
    t.systemAttrs[key] = structuredClone(value);
  }

  getTrial(trialId: number): FrozenTrial {
    return toFrozenTrial(this.trial(trialId));
  }

  getAllTrials(studyId: number, states?: readonly TrialState[]): FrozenTrial[] {
    const out: FrozenTrial[] = [];
    for (const id of this.study(studyId).trialIds) {
      const t = this.trials[id];
      if (!states || states.includes(t.state)) out.push(toFrozenTrial(t));
    }
    return out;
  }

  getTrialIdFromNumber(studyId: number, number: number): number {
    const id = this.study(studyId).trialIds[number];
    if (id === undefined) throw new StudyError(`study ${studyId} has no trial number ${number}`);
    return id;
  }

  recordHeartbeat(trialId: number): void {
    const t = this.trial(trialId);
    if (t.state === 'RUNNING') t.heartbeat = Date.now();
  }

  getStaleTrialIds(studyId: number, graceSeconds: number): number[] {
    const limit = Date.now() - graceSeconds * 1000;
    const stale: number[] = [];
    for (const id of this.study(studyId).trialIds) {
      const t = this.trials[id];
      const last = t.heartbeat ?? t.datetimeStart?.getTime() ?? null;
      if (t.state === 'RUNNING' && last !== null && last < limit) stale.push(id);
    }
    return stale;
  }

  failStaleTrials(studyId: number, graceSeconds: number): number[] {
    // One process, no await in between: listing and failing cannot interleave with another caller.
    const failed = this.getStaleTrialIds(studyId, graceSeconds);
    for (const id of failed) {
      const t = this.trials[id];
      t.state = 'FAIL';
      t.userAttrs.fail_reason = 'stale heartbeat';
      t.datetimeComplete = new Date();
    }
    return failed;
  }

  close(): void {}
}
