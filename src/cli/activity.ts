/**
 * What a command is doing right now, told to the supervising process (supervisor.ts) so that a crash in native code
 * (Dawn, the GPU driver), which kills the process before any JavaScript can run, is still reported with what was
 * running, and the trials it was running are marked failed. A no-op when the process is not supervised.
 */

export interface Activity {
  /** For the message: "training step 512 of 600", "trial 3 at step 40 of 200". */
  doing: string;
  /** The study whose RUNNING trials this process owns, and their numbers (empty when none runs). */
  study?: { storage: string; studyName: string; runningTrials: number[] };
}

export const ACTIVITY_MESSAGE = 'webtrainer-activity';

export function reportActivity(activity: Activity): void {
  // Only to the supervisor (supervisor.ts SUPERVISED_ENV): another parent with an IPC channel, such as a vitest
  // worker pool running main() in-process, would take the message for its own and fail.
  if (process.env.WEBTRAINER_SUPERVISED !== '1' || !process.send || !process.connected) return;
  process.send({ type: ACTIVITY_MESSAGE, activity });
}
