/** Error classes of the search layer. `TrialPruned` is thrown by an objective to record the trial PRUNED. */

export class TrialPruned extends Error {
  constructor(message = 'trial pruned') {
    super(message);
    this.name = 'TrialPruned';
  }
}

/** A distribution that is invalid, or incompatible with an earlier one of the same parameter. */
export class DistributionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DistributionError';
  }
}

/** A study name already taken, a missing study, an unknown storage URL, a finished trial told twice… */
export class StudyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StudyError';
  }
}
