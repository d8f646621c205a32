/**
 * Waiting for a Dawn promise without taking a CPU core from the device.
 *
 * Dawn's Node binding polls while any of its promises is pending: it re-queues a poll with `setImmediate`, so an
 * ordinary `await queue.onSubmittedWorkDone()` keeps the main thread at 100%. On lavapipe the "GPU" is the CPU, and
 * that spinning thread takes one of its cores (PEERS.md measured 1.5-2.5x slower long dispatches). Here the thread
 * sleeps in `Atomics.wait` between polls, backing off exponentially up to `maxSleepMs`, so Dawn still gets to
 * process its events but the core is free in between. On a real GPU this costs at most `maxSleepMs` of latency,
 * and the spinning costs nothing the GPU needs: measured on an H100 (bench/RESULTS.md), the plain await was faster.
 * So `waitForGpu`, which every wait in webtrainer and in the benchmarks' peers goes through, waits quietly only on
 * software adapters; `createDevice` sets which kind the process runs on.
 */

const sleeper = new Int32Array(new SharedArrayBuffer(4));
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface QuietWaitOptions {
  /** First sleep between polls, in milliseconds. */
  firstSleepMs?: number;
  /** Longest sleep between polls, in milliseconds: the worst added latency. */
  maxSleepMs?: number;
}

export async function waitQuietly<T>(promise: Promise<T>, options: QuietWaitOptions = {}): Promise<T> {
  let settled = false;
  const done = promise.then(
    (value) => {
      settled = true;
      return value;
    },
    (error: unknown) => {
      settled = true;
      throw error;
    },
  );
  let sleepMs = options.firstSleepMs ?? 0.05;
  const maxSleepMs = options.maxSleepMs ?? 2;
  while (!settled) {
    Atomics.wait(sleeper, 0, 0, sleepMs);
    // Let Dawn's queued poll run; it resolves the promise when the GPU work is done.
    await nextTurn();
    sleepMs = Math.min(sleepMs * 2, maxSleepMs);
  }
  return done;
}

let quietWaits = true;

/** Set by createDevice from its adapter: quiet waits on software adapters (lavapipe), plain awaits on GPUs. */
export function setQuietWaits(quiet: boolean): void {
  quietWaits = quiet;
}

/** Waits for a Dawn promise the way that suits this process's adapter (see the top of this file). */
export function waitForGpu<T>(promise: Promise<T>): Promise<T> {
  return quietWaits ? waitQuietly(promise) : promise;
}
