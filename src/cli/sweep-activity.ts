/**
 * A sweep's running trials and step, told to the supervisor (activity.ts) as they change, so that if the process
 * dies in native code the supervisor names them and marks them FAIL in the study instead of leaving them RUNNING.
 */
import { reportActivity } from './activity.js';

export class SweepActivity {
  private readonly running = new Set<number>();
  private studyName = '';
  private step = 0;

  /** `storage`: the study's storage URL; none (an in-memory study) leaves nothing to mark. */
  constructor(private readonly storage: string | undefined) {}

  trialStarted(studyName: string, number: number): void {
    this.studyName = studyName;
    this.running.add(number);
    this.step = 0; // a new group starts from step 0
    this.report();
  }

  trialEnded(number: number): void {
    this.running.delete(number);
    this.report();
  }

  /** After each training step of the running group (every slot reports the same step: report it once). */
  stepEnded(globalStep: number): void {
    if (globalStep === this.step) return;
    this.step = globalStep;
    this.report();
  }

  private report(): void {
    const numbers = [...this.running].sort((a, b) => a - b);
    const trials = numbers.length === 1 ? `trial ${numbers[0]}` : `trials ${numbers.join(', ')}`;
    reportActivity({
      doing: numbers.length === 0 ? 'between trials' : `running ${trials}${this.step > 0 ? ` (group step ${this.step + 1})` : ''}`,
      study: this.storage ? { storage: this.storage, studyName: this.studyName, runningTrials: numbers } : undefined,
    });
  }
}
