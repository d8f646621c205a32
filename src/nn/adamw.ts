/**
 * AdamW (Loshchilov & Hutter 2019, "Decoupled weight decay regularization"), with per-slot hyperparameters and
 * global-norm gradient clipping per slot, entirely on the GPU: each step writes one small table row set (learning
 * rate and bias corrections per slot), runs the clip kernels over every gradient, then fused multi-tensor dispatches
 * (several parameter buffers each, kernels/adamw) update all slots' parameters, m and v. Weight decay skips biases and LayerNorm weights, as
 * Hugging Face's Trainer does (get_decay_parameter_names).
 */
import {
  ADAMW_FIELD_COUNT,
  ADAMW_FIELDS,
  launchAdamWMultiTensor,
  launchGradNormClipMultiTensor,
  packAdamWHyperparameters,
  packAdamWStepFields,
} from '../../kernels/adamw/adamw.js';
import { tensor, zeros } from '../tensor/create.js';
import type { Device } from '../gpu/device.js';
import { ShapeError } from '../gpu/errors.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Optimizer, SlotOptimizerSettings } from './optimizer.js';

export function isDecayed(name: string): boolean {
  return !(name.endsWith('bias') || /(^|\.|_)norm\./.test(name));
}

interface ParameterState {
  name: string;
  parameter: Tensor; // (T, ...)
  m: Tensor; // (T, ...)
  v: Tensor; // (T, ...)
  decay: boolean;
}

export class AdamW implements Optimizer {
  stepCount = 0;
  /** Per slot: steps since the slot's trial started (bias corrections use it; a refilled slot starts at 0). */
  readonly slotSteps: number[];
  private readonly settings: SlotOptimizerSettings[];
  private readonly slots: number;
  private readonly states: ParameterState[];
  private readonly hyper: Tensor; // (ADAMW_FIELD_COUNT, T)

  constructor(
    private readonly device: Device,
    namedParameters: [string, Tensor][],
    settings: readonly SlotOptimizerSettings[],
  ) {
    this.slots = settings.length;
    settings.forEach((s, slot) => validate(s, slot));
    this.settings = [...settings];
    this.slotSteps = new Array(this.slots).fill(0);
    this.states = namedParameters.map(([name, parameter]) => {
      if (parameter.shape[0] !== this.slots) {
        throw new ShapeError(`AdamW: parameter ${name} [${parameter.shape}] has no leading slot axis of ${this.slots}`);
      }
      return {
        name,
        parameter,
        m: keep(zeros(device, parameter.shape)),
        v: keep(zeros(device, parameter.shape)),
        decay: isDecayed(name),
      };
    });
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
        m: s.m.buffer,
        v: s.v.buffer,
        elementsPerSlot: s.parameter.size / this.slots,
        weightDecay: s.decay,
      })),
      hyper: this.hyper.buffer,
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
      this.device.write(s.m.buffer, zero, slot * per * 4);
      this.device.write(s.v.buffer, zero, slot * per * 4);
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

  stateTensors(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const s of this.states) {
      out.set(`${s.name}.exp_avg`, s.m);
      out.set(`${s.name}.exp_avg_sq`, s.v);
    }
    return out;
  }

  loadState(values: Map<string, Float32Array>, stepCount: number): void {
    for (const [name, t] of this.stateTensors()) {
      const data = values.get(name);
      if (!data) throw new Error(`optimizer state: missing tensor '${name}'`);
      if (data.length !== t.size) throw new Error(`optimizer state: '${name}' has ${data.length} values, expected ${t.size}`);
      this.device.write(t.buffer, data);
    }
    this.stepCount = stepCount;
    this.slotSteps.fill(stepCount);
  }

  release(): void {
    for (const s of this.states) {
      s.m.release();
      s.v.release();
    }
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
