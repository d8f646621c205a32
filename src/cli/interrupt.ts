/**
 * Ctrl-C (SIGINT), SIGTERM and SIGHUP end every command the same way: the command stops at its next safe point
 * (after the current training step, or once the running trials are marked), says so, and exits 130. A second
 * signal exits at once, for a user who does not want to wait.
 */

export const INTERRUPT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** The command stopped because of a signal: main prints the message and exits 130. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
}

export interface Interrupt {
  /** The signal received, or null. */
  readonly signal: NodeJS.Signals | null;
  /** Throws an InterruptedError saying `what` if a signal came. */
  check(what: string): void;
  /** Removes the handlers (the process's default handling comes back). */
  dispose(): void;
}

/** Installs the handlers; `onFirst` runs once, on the first signal (e.g. to abort a search). */
export function handleInterrupts(onFirst: (signal: NodeJS.Signals) => void = () => {}): Interrupt {
  let received: NodeJS.Signals | null = null;
  const handler = (signal: NodeJS.Signals) => {
    if (received) {
      process.stderr.write(`\nwebtrainer: ${signal} again: exiting now\n`);
      process.exit(130);
      return; // (process.exit does not return, except where a test replaces it)
    }
    received = signal;
    onFirst(signal);
  };
  for (const name of INTERRUPT_SIGNALS) process.on(name, handler);
  return {
    get signal() {
      return received;
    },
    check(what: string) {
      if (received) throw new InterruptedError(`interrupted by ${received}: ${what}`);
    },
    dispose() {
      for (const name of INTERRUPT_SIGNALS) process.off(name, handler);
    },
  };
}
