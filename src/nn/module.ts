/**
 * `Module`: named parameters and child modules, a state dict, train/eval mode. Every parameter carries a leading
 * trial-slot axis: a module built for `slots` = T holds T independent models in one set of buffers, and training
 * one model is T = 1 (ARCHITECTURE.md). Parameters are made outside any scope and live until `release()`.
 */
import { tensor, zeros } from '../tensor/create.js';
import type { Device } from '../gpu/device.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { initialValues, type Initializer, type SlotRandom } from './init.js';

/** What every module is built with: the device, the number of trial slots and one random stream per slot. */
export interface BuildContext {
  device: Device;
  slots: number;
  randoms: SlotRandom[];
}

let placeholderDepth = 0;

/**
 * Runs `build` with every parameter made inside it zero-filled on the GPU instead of drawn from its slot's random
 * stream. For a model whose every weight is overwritten before use (a shrunk group's, an evaluation model): a
 * 30,522 × 64 token table is 2M normal draws on the CPU and an 8 MB upload per slot, for values never read.
 */
export function withPlaceholderWeights<T>(build: () => T): T {
  placeholderDepth++;
  try {
    return build();
  } finally {
    placeholderDepth--;
  }
}

export abstract class Module {
  private readonly ownParameters = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();
  training = true;

  /**
   * Makes a parameter of `shape` per slot, stored as (slots, ...shape). `draw` (default: `init`'s values) fills one
   * slot's values from that slot's random stream.
   */
  protected parameter(context: BuildContext, name: string, shape: number[], init: Initializer, draw?: (random: SlotRandom, values: Float32Array) => void): Tensor {
    let parameter: Tensor;
    if (placeholderDepth > 0) {
      parameter = keep(zeros(context.device, [context.slots, ...shape], { requiresGrad: true }));
    } else {
      const size = shape.reduce((p, d) => p * d, 1);
      const data = new Float32Array(context.slots * size);
      context.randoms.forEach((random, slot) => {
        const values = data.subarray(slot * size, (slot + 1) * size);
        if (draw) draw(random, values);
        else initialValues(init, random, values);
      });
      parameter = keep(tensor(context.device, data, [context.slots, ...shape], { requiresGrad: true }));
    }
    this.ownParameters.set(name, parameter);
    return parameter;
  }

  /** Puts `parameter` in the place of the parameter `name` (same creation order) and releases the old one. */
  protected replaceParameter(name: string, parameter: Tensor): void {
    const old = this.ownParameters.get(name);
    if (!old) throw new Error(`replaceParameter: no parameter ${JSON.stringify(name)}`);
    this.ownParameters.set(name, parameter);
    old.release();
  }

  protected child<M extends Module>(name: string, module: M): M {
    this.children.set(name, module);
    return module;
  }

  /** Parameters by dotted name, in creation order (the order optimizers and checkpoints use). */
  namedParameters(prefix = ''): [string, Tensor][] {
    const result: [string, Tensor][] = [];
    for (const [name, p] of this.ownParameters) result.push([prefix + name, p]);
    for (const [name, child] of this.children) result.push(...child.namedParameters(`${prefix}${name}.`));
    return result;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  train(on = true): this {
    this.training = on;
    for (const child of this.children.values()) child.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  release(): void {
    for (const p of this.parameters()) p.release();
  }
}
