/** What the training loop needs from an optimizer; AdamW (adamw.ts) is the one webtrainer ships. */

/**
 * One named array of optimizer state: `shape` values (f32, leading slot axis) at `byteOffset` in `buffer`. Not a
 * Tensor because AdamW keeps its state in a few shared buffers (moment chunks, each bound once per dispatch).
 */
export interface StateArray {
  readonly buffer: GPUBuffer;
  readonly byteOffset: number;
  readonly shape: readonly number[];
}

export interface SlotOptimizerSettings {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  /** Clip each slot's gradients to this global norm; 0 turns clipping off. */
  maxGradNorm: number;
}

export interface Optimizer {
  /** One update of every parameter of every slot; slot t uses learning rate `learningRates[t]`. */
  step(learningRates: readonly number[]): void;
  /**
   * `step` in two halves, for a training step captured once and replayed (src/train/captured-training-step.ts):
   * `beginStep` does the host work and uploads, `recordStep` only records GPU commands, the same ones every step
   * while `commandsKey` is unchanged. An optimizer without them is never replayed.
   */
  beginStep?(learningRates: readonly number[]): void;
  recordStep?(): void;
  readonly commandsKey?: string;
  /**
   * Starts slot `slot` afresh for a new trial (a refilled slot): its state zeroed, its step count back to 0, its
   * settings replaced. The other slots are untouched.
   */
  resetSlot(slot: number, settings: SlotOptimizerSettings): void;
  /** Each slot's own step count (steps since it was last reset). */
  readonly slotSteps: readonly number[];
  /** Releases the parameters' gradients (the next backward makes new ones from the pool). */
  zeroGrad(): void;
  readonly stepCount: number;
  /** (T) global gradient norms before clipping, from the last step (a sync point). */
  readGradNorms(): Promise<Float32Array>;
  /** Optimizer state by name, for checkpoints and slot copies. */
  stateArrays(): Map<string, StateArray>;
  /** Restores state saved from `stateArrays()` (same names and shapes) and the step count. */
  loadState(values: Map<string, Float32Array>, stepCount: number): void;
  release(): void;
}
