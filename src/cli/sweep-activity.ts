/**
 * A sweep's running trials and step, told to the supervisor (activity.ts) as they change, so that if the process
 * dies in native code the supervisor names them and marks them FAIL in the study instead of leaving them RUNNING.
 */
import { reportActivity } from './activity.js';

export class SweepActivity {
  private readonly running = new Map<number, number>(); // trial number → its step
  private studyName = '';

  /** `storage`: the study's storage URL; none (an in-memory study) leaves nothing to mark. */
  constructor(private readonly storage: string | undefined) {}

  trialStarted(studyName: string, number: number): void {
    this.studyName = studyName;
    this.running.set(number, 0);
    this.report();
  }

  trialEnded(number: number): void {
    this.running.delete(number);
    this.report();
  }

  /** After each training step of a trial (its own step: fused trials start at different times). */
  stepEnded(number: number, step: number): void {
    if (!this.running.has(number)) return;
    this.running.set(number, step);
    this.report();
  }

  private report(): void {
    const numbers = [...this.running.keys()].sort((a, b) => a - b);
    // The step being trained is the one after the last that ended.
    const steps = numbers.map((n) => this.running.get(n)! + 1);
    const at = steps.some((s) => s > 1) ? ` (at step${steps.length === 1 ? '' : 's'} ${steps.join(', ')})` : '';
    reportActivity({
      doing: numbers.length === 0 ? 'between trials' : `running trial${numbers.length === 1 ? '' : 's'} ${numbers.join(', ')}${at}`,
      study: this.storage ? { storage: this.storage, studyName: this.studyName, runningTrials: numbers } : undefined,
    });
  }
}
