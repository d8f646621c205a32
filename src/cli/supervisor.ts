/**
 * The `webtrainer` command runs its work in a child process and watches it. A crash in native code (a segfault in
 * Dawn or the GPU driver, an abort, the kernel's OOM killer) kills a process before any JavaScript handler can run,
 * so only a second process can say what happened: this one prints what the child was doing when it died
 * (activity.ts), marks the trials it was running FAIL in their study with the reason, and exits 1. Everything
 * else passes through: the terminal (the child inherits stdin and stdout; its stderr comes through here, less
 * Dawn's start-up warnings, and the child is told whether it is a terminal), the exit code, and SIGTERM or
 * SIGHUP sent to this process (forwarded; Ctrl-C reaches both processes as it reaches any process group).
 * If this process is killed, the child ends too (it exits when its IPC channel closes), as one process would.
 */
import { spawn } from 'node:child_process';
import { redactPostgresUrl } from '../search/storage/postgres-url.js';
import { ACTIVITY_MESSAGE, type Activity } from './activity.js';

/** Set in the child's environment: the command runs its work itself. */
export const SUPERVISED_ENV = 'WEBTRAINER_SUPERVISED';

/** Set in the child's environment when the command's stderr is a terminal (the child's is a pipe through here). */
export const STDERR_TTY_ENV = 'WEBTRAINER_STDERR_TTY';

const FORWARDED_SIGNALS = ['SIGTERM', 'SIGHUP'] as const;

/**
 * Dawn's Vulkan backend prints these two lines whenever a device is made; they say nothing to a user (the limits
 * they name are ones webtrainer does not use), so the command drops them from its process's stderr.
 */
const DAWN_NOISE = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\n/gm;

export function withoutDawnNoise(text: string): string {
  return text.replace(DAWN_NOISE, '');
}

/** Exit code of a command whose process died from a signal it did not handle (the documented failure code). */
const CRASH_EXIT_CODE = 1;
const INTERRUPTED_EXIT_CODE = 130;

export function isSupervisedChild(): boolean {
  return process.env[SUPERVISED_ENV] === '1';
}

/**
 * In the child: end at once when the supervisor is gone, as a single process killed with it would. The IPC channel
 * must not keep the process alive once the command is done, so it is unref'd.
 */
export function exitWithSupervisor(): void {
  (process.channel as { unref?: () => void } | undefined)?.unref?.();
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
}

/** Runs `script argv` in a supervised child Node process; resolves to the command's exit code. */
export function runSupervised(script: string, argv: string[]): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, script, ...argv], {
    stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
    env: { ...process.env, [SUPERVISED_ENV]: '1', ...(process.stderr.isTTY ? { [STDERR_TTY_ENV]: '1' } : {}) },
  });
  child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(withoutDawnNoise(chunk.toString())));
  let activity: Activity | null = null;
  child.on('message', (message: { type?: string; activity?: Activity }) => {
    if (message?.type === ACTIVITY_MESSAGE && message.activity) activity = message.activity;
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  const ignore = () => {}; // Ctrl-C reaches the child too; it decides, and its exit code says what happened.
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  process.on('SIGINT', ignore);
  return new Promise((resolve) => {
    child.on('error', (error) => {
      process.stderr.write(`webtrainer: could not start the command process: ${error.message}\n`);
      resolve(CRASH_EXIT_CODE);
    });
    child.on('close', (code, signal) => { // after its stderr has all come through
      for (const s of FORWARDED_SIGNALS) process.off(s, forward);
      process.off('SIGINT', ignore);
      if (signal === null) return resolve(code ?? CRASH_EXIT_CODE);
      if (signal === 'SIGINT' || signal === 'SIGTERM' || signal === 'SIGHUP') return resolve(INTERRUPTED_EXIT_CODE);
      void reportDeath(signal, activity).then(() => resolve(CRASH_EXIT_CODE));
    });
  });
}

const NATIVE_CRASHES = new Set(['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT']);

/** The message printed when the child died from `signal` while doing `activity`. */
export function deathMessage(signal: string, activity: Activity | null): string {
  const cause = NATIVE_CRASHES.has(signal)
    ? 'a crash in native code (Dawn or the GPU driver)'
    : signal === 'SIGKILL'
      ? 'killed from outside (the out-of-memory killer, or kill -9)'
      : 'a signal it does not handle';
  const doing = activity ? ` while ${activity.doing}` : '';
  return `webtrainer: the command's process died from ${signal}, ${cause}${doing}. Nothing after the last saved checkpoint was kept.`;
}

async function reportDeath(signal: NodeJS.Signals, activity: Activity | null): Promise<void> {
  process.stderr.write(`\n${deathMessage(signal, activity)}\n`);
  const study = activity?.study;
  if (!study || study.runningTrials.length === 0) return;
  try {
    const marked = await markTrialsFailed(study, `the process died from ${signal}${activity ? ` while ${activity.doing}` : ''}`);
    if (marked.length > 0) {
      process.stderr.write(`webtrainer: marked trial${marked.length > 1 ? 's' : ''} ${marked.join(', ')} of study '${study.studyName}' FAIL; resume with the same --storage and --study-name.\n`);
    }
  } catch (error) {
    process.stderr.write(`webtrainer: could not mark the running trials failed in ${redactPostgresUrl(study.storage)}: ${(error as Error).message}\n`);
  }
}

/** Marks the study's trials `numbers` FAIL with `reason` where they are still RUNNING; returns those it marked. */
export async function markTrialsFailed(study: NonNullable<Activity['study']>, reason: string): Promise<number[]> {
  const { getStorage } = await import('../search/storage/index.js');
  const storage = getStorage(study.storage);
  try {
    const studyId = storage.getStudyIdFromName(study.studyName);
    const marked: number[] = [];
    for (const number of study.runningTrials) {
      const trialId = storage.getTrialIdFromNumber(studyId, number);
      if (storage.getTrial(trialId).state !== 'RUNNING') continue;
      storage.setTrialUserAttr(trialId, 'fail_reason', reason); // where the study layer keeps a failure's reason
      if (storage.setTrialStateValues(trialId, 'FAIL')) marked.push(number);
    }
    return marked;
  } finally {
    storage.close();
  }
}
