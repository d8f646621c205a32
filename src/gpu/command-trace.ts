/**
 * A recorded stretch of GPU commands that can be recorded again without the code that made it, as CUDA Graphs
 * replay a captured stream: `Device.beginCapture()` … `Device.endCapture()` keeps every dispatch (pipeline, bind
 * group, workgroups), copy and constant upload of the stretch, and `Device.replay(trace)` records them again in
 * order. A training step of the default model costs ~15 ms of CPU to record through the tensor layer (autograd,
 * shape checks, cache lookups) and ~1 ms to replay (bench/RESULTS.md).
 *
 * A replay is only right when the stretch would record the same commands again, so a trace owns what it touches:
 * - the pooled buffers released during the capture (the step's intermediates) stay out of the pool while the
 *   trace lives, so nothing else is handed them between replays (`CaptureBuffers`);
 * - buffers that outlive the stretch (parameters, optimizer state, inputs) are the caller's, and the caller keys
 *   its traces by them (src/train/captured-training-step.ts);
 * - the uniform buffers it binds stay alive while it does, even when the device's uniform cache evicts them;
 * - anything else the device destroys that a trace may bind (a replaced scratch texture) moves
 *   `Device.resourceEpoch`, and a trace from another epoch refuses to replay.
 * Uploads with new data each time (a batch, a learning rate) belong before the stretch, into buffers the caller
 * keeps: a write inside it is recorded with its data only when it is a constant (the tests' NaN poisoning);
 * any other write makes the capture fail with the reason.
 */

export type TraceCommand =
  | { kind: 'dispatch'; pipeline: GPUComputePipeline; bindGroup: GPUBindGroup; x: number; y: number; z: number }
  | { kind: 'copy'; source: GPUBuffer; sourceOffset: number; target: GPUBuffer; targetOffset: number; bytes: number }
  | { kind: 'copyToTexture'; source: GPUBuffer; texture: GPUTexture; width: number; rows: number; bytesPerRow: number }
  | { kind: 'write'; buffer: GPUBuffer; byteOffset: number; data: Uint8Array };

export class CommandTrace {
  private disposed = false;

  constructor(
    readonly commands: readonly TraceCommand[],
    /** `Device.resourceEpoch` when captured. */
    readonly epoch: number,
    /** Gives back what the trace holds: its pooled buffers, and its pins on uniform buffers (Device). */
    private readonly releaseHeld: () => void,
  ) {}

  get dispatches(): number {
    return this.commands.reduce((n, c) => n + (c.kind === 'dispatch' ? 1 : 0), 0);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Gives the trace's buffers back to the pool; the trace cannot replay after this. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.releaseHeld();
  }
}

/**
 * The pool's side of a capture: buffers released during it are held here instead of going back to the pool, and
 * serve the capture's next allocations of their size first (as the pool's free lists would), so the captured
 * stretch reuses memory as an uncaptured one does.
 */
export class CaptureBuffers {
  private readonly held = new Map<number, GPUBuffer[]>();
  /** Allocated during the capture and not released yet. */
  private readonly outstanding = new Set<GPUBuffer>();

  /** A held buffer of this size class, or undefined (the caller then takes one from the pool). */
  takeHeld(sizeClass: number): GPUBuffer | undefined {
    const buffer = this.held.get(sizeClass)?.pop();
    if (buffer) this.outstanding.add(buffer);
    return buffer;
  }

  allocated(buffer: GPUBuffer): void {
    this.outstanding.add(buffer);
  }

  released(buffer: GPUBuffer): void {
    this.outstanding.delete(buffer);
    let list = this.held.get(buffer.size);
    if (!list) this.held.set(buffer.size, (list = []));
    list.push(buffer);
  }

  /** Buffers allocated during the capture that are still in use at its end. */
  get escaped(): number {
    return this.outstanding.size;
  }

  /** Every held buffer (the trace's from now on). */
  drain(): GPUBuffer[] {
    const all = [...this.held.values()].flat();
    this.held.clear();
    return all;
  }
}

/** Why a stretch could not be captured, said by `Device.endCapture`. */
export interface CaptureResult {
  trace: CommandTrace | null;
  /** Set when `trace` is null. */
  reason?: string;
  /** True when the failure was transient (a resource replaced during the capture): capturing again may hold. */
  retry: boolean;
}
