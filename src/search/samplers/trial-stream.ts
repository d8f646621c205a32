/**
 * The random stream of a seeded sampler, made safe for resumed and concurrent studies (issue 13, item 4).
 * Optuna's samplers own one `RandomState(seed)` per process, so a study resumed in a new process, or run by two
 * workers with the same seed, draws the same numbers again and repeats configurations.
 * Rule: the stream stays the plain `RandomState(seed)` while the trials this process starts are numbered
 * 0, 1, 2, … (a fresh single-process study: draw for draw Optuna's values). When a trial starts whose number is
 * not the one after the last started here (a resumed study starting at trial 3, or a worker whose numbers skip
 * because another worker took some), the stream is reseeded from (seed, trial number) through NumPy's
 * SeedSequence (`Rng.forTrial`) and continues from there. Each reseed point is a trial number, which is unique
 * in a study, so no two streams coincide; the draws depend only on the seed and the study's state, so a seeded
 * study stays reproducible. Unseeded streams are never reseeded (their seed is already random per process).
 */
import { Rng } from '../rng.js';

export class TrialStream {
  private current: Rng;
  private last = -1;
  private readonly started = new Set<number>();

  constructor(private readonly seed?: number) {
    this.current = new Rng(seed);
  }

  /**
   * Registers a trial started by this process (samplers call it from `beforeTrial`, so trials whose params are
   * all fixed still count as started). Idempotent per trial number.
   */
  startTrial(trialNumber: number): void {
    if (this.started.has(trialNumber)) return;
    if (this.seed !== undefined && trialNumber !== this.last + 1) this.current = Rng.forTrial(this.seed, trialNumber);
    this.started.add(trialNumber);
    this.last = trialNumber;
  }

  /** The generator to draw from for trial `trialNumber` (starting it if `beforeTrial` was not called). */
  rngFor(trialNumber: number): Rng {
    this.startTrial(trialNumber);
    return this.current;
  }
}
