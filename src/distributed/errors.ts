/** Errors of the distributed layer. Each names the variable, the rank or the collective it is about. */

/** A launch variable (RANK, WORLD_SIZE, MASTER_PORT…) that is missing or invalid: names the variable and its value. */
export class LaunchEnvironmentError extends Error {
  override name = 'LaunchEnvironmentError';
}

/** Why a group of processes failed; the same kind reaches every rank (rank 0 relays the first failure to all). */
export type CollectiveFailureKind =
  | 'peer-lost' // a rank's connection closed or broke (it died, or was killed)
  | 'left' // a rank closed its collective while others still needed it
  | 'timeout' // a collective or the rendezvous did not complete in time
  | 'rejected' // a connection presented the wrong token (or was not a webtrainer rank)
  | 'mismatch' // ranks called different collectives, or the same one with different sizes
  | 'rendezvous' // the ranks could not meet (address in use, unreachable master…)
  | 'closed'; // this rank's collective was closed before the call

/**
 * A collective operation or the rendezvous failed. After one, the collective is broken: every later call throws
 * the same error (the ranks' streams are no longer in step), and the process should end.
 */
export class CollectiveError extends Error {
  override name = 'CollectiveError';
  constructor(
    message: string,
    readonly kind: CollectiveFailureKind,
    /** The rank the failure is about (the one that died, left or timed out), where known. */
    readonly failedRank?: number,
  ) {
    super(message);
  }
}
