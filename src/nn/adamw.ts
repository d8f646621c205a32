/**
 * AdamW (Loshchilov & Hutter 2019, "Decoupled weight decay regularization"), with per-slot hyperparameters and
 * global-norm gradient clipping per slot, entirely on the GPU: each step writes one small table row set (learning
 * rate and bias corrections per slot), runs the clip kernels over every gradient, then fused multi-tensor dispatches
 * (several parameter buffers each, kernels/adamw) update all slots' parameters, m and v. The parameters' m and v
 * are packed into moments chunks (planMomentsArena), so a dispatch binds each chunk it uses once and each parameter
 * costs only its param and grad bindings; a chunk is at most the device's largest storage binding, so, as with a
 * buffer per m and v, only each single parameter (all slots) has to fit one. Weight decay skips biases and
 * LayerNorm weights, as Hugging Face's Trainer does (get_decay_parameter_names).
 */
import {
  ADAMW_FIELD_COUNT,
  ADAMW_FIELDS,
  launchAdamWMultiTensor,
  launchGradNormClipMultiTensor,
  packAdamWHyperparameters,
  packAdamWStepFields,
  planMomentsArena,
} from '../../kernels/adamw/adamw.js';
import { tensor, zeros } from '../tensor/create.js';
import type { Device } from '../gpu/device.js';
import { ShapeError } from '../gpu/errors.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Optimizer, SlotOptimizerSettings, StateArray } from './optimizer.js';

export function isDecayed(name: string): boolean {
  return !(name.endsWith('bias') || /(^|\.|_)norm\./.test(name));
}

interface ParameterState {
  name: string;
  parameter: Tensor; // (T, ...)
  /** Which moments chunk holds its m and its v, (T, ...) each, and where they start there, in floats. */
  mChunk: number;
  mOffset: number;
  vChunk: number;
  vOffset: number;
  decay: boolean;
}

export interface AdamWOptions {
  /**
   * Tests: bytes per moments chunk at most (default and ceiling: the device's largest storage binding and buffer), to
   * spread small models over several chunks.
   */
  maxMomentsChunkBytes?: number;
}

export class AdamW implements Optimizer {
  stepCount = 0;
  /** Per slot: steps since the slot's trial started (bias corrections use it; a refilled slot starts at 0). */
  readonly slotSteps: number[];
  private readonly settings: SlotOptimizerSettings[];
  private readonly slots: number;
  private readonly states: ParameterState[];
  private readonly hyper: Tensor; // (ADAMW_FIELD_COUNT, T)
  /** The moments chunks: every parameter's m and v at its chunk and offsets (zero at the start). */
  private readonly chunks: Tensor[];

  constructor(
    private readonly device: Device,
    namedParameters: [string, Tensor][],
    settings: readonly SlotOptimizerSettings[],
    options: AdamWOptions = {},
  ) {
    this.slots = settings.length;
    settings.forEach((s, slot) => validate(s, slot));
    this.settings = [...settings];
    this.slotSteps = new Array(this.slots).fill(0);
    for (const [name, parameter] of namedParameters) {
      if (parameter.shape[0] !== this.slots) {
        throw new ShapeError(`AdamW: parameter ${name} [${parameter.shape}] has no leading slot axis of ${this.slots}`);
      }
    }
    // A chunk is bound whole, so the largest binding (and buffer) bounds it; planMomentsArena refuses only a single
    // m or v over that, which the parameter itself could not be either.
    const most = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    const chunkBytes = options.maxMomentsChunkBytes ?? most;
    if (!Number.isInteger(chunkBytes) || chunkBytes < 16 || chunkBytes > most) {
      throw new ShapeError(`AdamW: maxMomentsChunkBytes ${chunkBytes} must be an integer in [16, ${most}] (this device's largest storage binding)`);
    }
    const chunkFloats = Math.floor(chunkBytes / 4);
    // planMomentsArena would refuse it too, but knows the parameter only by its index.
    for (const [name, parameter] of namedParameters) {
      if (parameter.size > chunkFloats) {
        throw new ShapeError(`AdamW: parameter ${name} [${parameter.shape}] needs ${parameter.size * 4} bytes for its m (and as many for its v), over the largest moments chunk (${chunkFloats * 4} bytes)`);
      }
    }
    const arena = planMomentsArena(namedParameters.map(([, parameter]) => parameter.size), chunkFloats);
    this.states = namedParameters.map(([name, parameter], k) => ({ name, parameter, ...arena.tensors[k], decay: isDecayed(name) }));
    // At least one vec4 each: the kernel binds a chunk as array<vec4f>.
    this.chunks = arena.chunkFloats.map((floats) => keep(zeros(device, [Math.max(floats, 4)])));
    const table = packAdamWHyperparameters(
      settings.map((s) => ({ lr: s.learningRate, beta1: s.beta1, beta2: s.beta2, eps: s.epsilon, weightDecay: s.weightDecay, maxGradNorm: s.maxGradNorm })),
      new Array(this.slots).fill(1),
    );
    this.hyper = keep(tensor(device, table, [ADAMW_FIELD_COUNT, this.slots]));
  }

  step(learningRates: readonly number[]): void {
    this.beginStep(learningRates);
    this.recordStep();
  }

  /** The host half of `step`: counts the step and uploads this step's learning rates and bias corrections. */
  beginStep(learningRates: readonly number[]): void {
    if (learningRates.length !== this.slots) throw new ShapeError(`AdamW.step: ${learningRates.length} learning rates for ${this.slots} slots`);
    this.stepCount++;
    for (let slot = 0; slot < this.slots; slot++) this.slotSteps[slot]++;
    const fields = packAdamWStepFields(
      learningRates,
      this.slotSteps,
      this.settings.map((s) => s.beta1),
      this.settings.map((s) => s.beta2),
    );
    this.device.write(this.hyper.buffer, fields);
  }

  /**
   * The GPU half of `step`: clipping and the update, the same commands every step while `commandsKey` holds (the
   * table `beginStep` wrote carries what changes).
   */
  recordStep(): void {
    const withGrad = this.states.filter((s) => s.parameter.grad);
    if (this.settings.some((s) => s.maxGradNorm > 0)) {
      const grads = withGrad.map((s) => ({ buffer: s.parameter.grad!.buffer, elementsPerSlot: s.parameter.size / this.slots }));
      launchGradNormClipMultiTensor(this.device, grads, this.hyper.buffer, this.slots);
    }
    launchAdamWMultiTensor(this.device, {
      tensors: withGrad.map((s) => ({
        param: s.parameter.buffer,
        grad: s.parameter.grad!.buffer,
        mChunk: s.mChunk,
        mOffset: s.mOffset,
        vChunk: s.vChunk,
        vOffset: s.vOffset,
        elementsPerSlot: s.parameter.size / this.slots,
        weightDecay: s.decay,
      })),
      hyper: this.hyper.buffer,
      chunks: this.chunks.map((c) => c.buffer),
      slots: this.slots,
    });
  }

  /** What decides `recordStep`'s commands besides the buffers: whether any slot clips its gradients. */
  get commandsKey(): string {
    return this.settings.some((s) => s.maxGradNorm > 0) ? 'clip' : 'no clip';
  }

  resetSlot(slot: number, settings: SlotOptimizerSettings): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.slots) throw new ShapeError(`AdamW.resetSlot: slot ${slot} is not in [0, ${this.slots})`);
    validate(settings, slot);
    for (const s of this.states) {
      const per = s.parameter.size / this.slots;
      const zero = new Float32Array(per);
      this.device.write(this.chunks[s.mChunk].buffer, zero, (s.mOffset + slot * per) * 4);
      this.device.write(this.chunks[s.vChunk].buffer, zero, (s.vOffset + slot * per) * 4);
    }
    // The slot's column of the table: every field but the three the next step writes.
    const column = packAdamWHyperparameters(
      [{ lr: settings.learningRate, beta1: settings.beta1, beta2: settings.beta2, eps: settings.epsilon, weightDecay: settings.weightDecay, maxGradNorm: settings.maxGradNorm }],
      [1],
    );
    for (let field = 3; field < ADAMW_FIELD_COUNT; field++) {
      this.device.write(this.hyper.buffer, column.subarray(field, field + 1), (field * this.slots + slot) * 4);
    }
    this.settings[slot] = settings;
    this.slotSteps[slot] = 0;
  }

  zeroGrad(): void {
    for (const s of this.states) {
      s.parameter.grad?.release();
      s.parameter.grad = null;
    }
  }

  async readGradNorms(): Promise<Float32Array> {
    const table = (await this.hyper.toArray()) as Float32Array;
    return table.slice(ADAMW_FIELDS.gradNorm * this.slots, (ADAMW_FIELDS.gradNorm + 1) * this.slots);
  }

  stateArrays(): Map<string, StateArray> {
    const out = new Map<string, StateArray>();
    for (const s of this.states) {
      const shape = [...s.parameter.shape];
      out.set(`${s.name}.exp_avg`, { buffer: this.chunks[s.mChunk].buffer, byteOffset: s.mOffset * 4, shape });
      out.set(`${s.name}.exp_avg_sq`, { buffer: this.chunks[s.vChunk].buffer, byteOffset: s.vOffset * 4, shape });
    }
    return out;
  }

  loadState(values: Map<string, Float32Array>, stepCount: number): void {
    for (const [name, a] of this.stateArrays()) {
      const data = values.get(name);
      if (!data) throw new Error(`optimizer state: missing tensor '${name}'`);
      const size = a.shape.reduce((p, d) => p * d, 1);
      if (data.length !== size) throw new Error(`optimizer state: '${name}' has ${data.length} values, expected ${size}`);
      this.device.write(a.buffer, data, a.byteOffset);
    }
    this.stepCount = stepCount;
    this.slotSteps.fill(stepCount);
  }

  release(): void {
    for (const chunk of this.chunks) chunk.release();
    this.hyper.release();
  }
}

function validate(s: SlotOptimizerSettings, slot: number): void {
  const fail = (key: string, value: number, rule: string) => {
    throw new Error(`AdamW slot ${slot}: ${key} (${value}) ${rule}`);
  };
  if (!(s.learningRate >= 0)) fail('learningRate', s.learningRate, 'must be >= 0');
  if (!(s.beta1 >= 0 && s.beta1 < 1)) fail('beta1', s.beta1, 'must be in [0, 1)');
  if (!(s.beta2 >= 0 && s.beta2 < 1)) fail('beta2', s.beta2, 'must be in [0, 1)');
  if (!(s.epsilon > 0)) fail('epsilon', s.epsilon, 'must be > 0');
  if (!(s.weightDecay >= 0)) fail('weightDecay', s.weightDecay, 'must be >= 0');
  if (!(s.maxGradNorm >= 0)) fail('maxGradNorm', s.maxGradNorm, 'must be >= 0');
}
