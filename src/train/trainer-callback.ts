/**
 * Trainer callbacks with Hugging Face's event names (transformers/trainer_callback.py), camelCase. Each event
 * names the trial slot it is about (always 0 outside a fused search). A callback stops a slot's training by
 * returning `{ shouldTrainingStop: true }`.
 */
export interface TrainerEvent {
  slot: number;
  /** The slot's own step (its trial's global_step). */
  globalStep: number;
  /** The steps the slot's run takes in all (HF's state.max_steps). */
  maxSteps?: number;
  epoch: number;
  /** In a search, the trial the slot runs (a slot is refilled with new trials as others end). */
  trialNumber?: number;
}

export interface TrainerControl {
  shouldTrainingStop?: boolean;
}

export interface TrainerCallback {
  /** A slot starts a new trial after its previous one ended (a refilled slot): per-slot state starts afresh. */
  onTrainBegin?(event: TrainerEvent): void;
  onStepEnd?(event: TrainerEvent): TrainerControl | void;
  onLog?(event: TrainerEvent, logs: Record<string, number>): TrainerControl | void;
  onEvaluate?(event: TrainerEvent, metrics: Record<string, number>): TrainerControl | void;
  onEpochEnd?(event: TrainerEvent): TrainerControl | void;
  onSave?(event: TrainerEvent, checkpointDir: string): void;
  onTrainEnd?(event: TrainerEvent): void;
}

/**
 * Stops a slot when its best-model metric has not improved by more than `threshold` for `patience` evaluations
 * (HF's EarlyStoppingCallback: early_stopping_patience, early_stopping_threshold).
 */
export class EarlyStoppingCallback implements TrainerCallback {
  // By trial where a search names it (a fused group renumbers its slots when it shrinks), else by slot.
  private readonly best = new Map<number, number>();
  private readonly waits = new Map<number, number>();

  constructor(
    readonly metric: string,
    readonly greaterIsBetter: boolean,
    readonly patience = 1,
    readonly threshold = 0,
  ) {
    if (!Number.isInteger(patience) || patience < 1) throw new Error(`EarlyStoppingCallback: patience must be >= 1, got ${patience}`);
  }

  onTrainBegin(event: TrainerEvent): void {
    this.best.delete(key(event));
    this.waits.delete(key(event));
  }

  onEvaluate(event: TrainerEvent, metrics: Record<string, number>): TrainerControl {
    const slot = key(event);
    const value = metrics[this.metric];
    if (value === undefined) throw new Error(`EarlyStoppingCallback: metric '${this.metric}' is not among ${Object.keys(metrics).join(', ')}`);
    const best = this.best.get(slot);
    const improved =
      best === undefined || (this.greaterIsBetter ? value - best > this.threshold : best - value > this.threshold);
    if (improved) {
      this.best.set(slot, value);
      this.waits.set(slot, 0);
      return {};
    }
    const waits = (this.waits.get(slot) ?? 0) + 1;
    this.waits.set(slot, waits);
    return { shouldTrainingStop: waits >= this.patience };
  }
}

function key(event: TrainerEvent): number {
  return event.trialNumber ?? event.slot;
}
