/**
 * Reverse-mode automatic differentiation.
 *
 * Each op is one `OpDefinition` holding its forward and its backward (in the registry, `ops/registry.ts`).
 * `apply` runs the forward and, when gradients are being recorded and an input requires one, links the output to a
 * `GraphNode` that keeps the inputs and whatever the forward saved. `backward(loss)` walks those nodes in reverse
 * topological order, accumulates into the `.grad` of leaf tensors, and then frees the graph (saved tensors go back
 * to the pool) so memory is returned deterministically.
 */
import { ShapeError } from '../gpu/errors.js';
import { keep, tidy } from './scope.js';
import { Tensor } from './tensor.js';
import { addToGradient, fillTensor } from './tensor-fill.js';
import { DeferredSum, DeferredSums } from './deferred-sum.js';

export interface BackwardContext<A> {
  readonly inputs: readonly Tensor[];
  /** What the forward passed to `save`, in order (aliases that stay valid until backward is done). */
  readonly saved: readonly Tensor[];
  readonly attrs: A;
  /** Which inputs need a gradient: a backward may skip the others and return null. */
  readonly needsGrad: readonly boolean[];
}

/**
 * What a backward returns for an input whose gradient it has added into `into[k]` itself (a kernel epilogue that
 * accumulates), instead of a new tensor for autograd to add: one dispatch fewer per accumulation.
 */
export const ACCUMULATED: unique symbol = Symbol('accumulated');

export interface OpDefinition<A = undefined> {
  readonly name: string;
  forward(inputs: readonly Tensor[], attrs: A, save: (tensor: Tensor) => void): Tensor;
  /**
   * Gradients of the inputs, one per input (null where none is needed or defined). `into[k]` is the gradient
   * input k has gathered so far (from other consumers), or null: a backward may add its gradient into it in place
   * (same shape and layout as the input) and return ACCUMULATED for k. A gradient that is a column sum may come
   * back as a `DeferredSum`: a leaf's is then computed with other leaves' in one dispatch (deferred-sum.ts).
   */
  backward(
    context: BackwardContext<A>,
    gradOutput: Tensor,
    into: readonly (Tensor | null)[],
  ): (Tensor | DeferredSum | null | typeof ACCUMULATED)[];
}

export interface GraphNode {
  readonly op: OpDefinition<unknown>;
  readonly context: BackwardContext<unknown>;
}

let recording = true;

export function isRecording(): boolean {
  return recording;
}

/** Runs `fn` without recording gradients (evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const previous = recording;
  recording = false;
  try {
    return fn();
  } finally {
    recording = previous;
  }
}

/** A second handle on a tensor's buffer that outlives the original's release; not tracked by scopes. */
function alias(tensor: Tensor): Tensor {
  const copy = keep(new Tensor(tensor.device, tensor.shape, tensor.dtype, tensor.storage.retain()));
  return copy;
}

export function apply<A>(op: OpDefinition<A>, inputs: readonly Tensor[], attrs: A): Tensor {
  const record = recording && inputs.some((t) => t.requiresGrad);
  if (!record) return noGrad(() => op.forward(inputs, attrs, () => {}));
  const saved: Tensor[] = [];
  const output = noGrad(() => op.forward(inputs, attrs, (t) => saved.push(alias(t))));
  output.requiresGrad = true;
  output.producer = {
    op: op as OpDefinition<unknown>,
    context: { inputs: [...inputs], saved, attrs, needsGrad: inputs.map((t) => t.requiresGrad) },
  };
  return output;
}

export interface BackwardOptions {
  /** Gradient of the output; defaults to ones (so a scalar loss gets 1). */
  gradient?: Tensor;
  /** Keep the graph for another backward pass. */
  retainGraph?: boolean;
}

/** Fills `.grad` of every leaf tensor with requiresGrad that `output` depends on, adding to what is there. */
export function backward(output: Tensor, options: BackwardOptions = {}): void {
  if (!output.requiresGrad) throw new Error(`backward(): ${output} does not require a gradient`);
  const order = topologicalOrder(output);
  const grads = new Map<Tensor, Tensor>();
  const seed = options.gradient ?? fillTensor(output.device, output.shape, 1);
  if (options.gradient && options.gradient.size !== output.size) {
    throw new ShapeError(`backward(): gradient [${options.gradient.shape}] does not match output [${output.shape}]`);
  }
  grads.set(output, keep(seed === options.gradient ? alias(seed) : seed));
  const deferred = new DeferredSums(output.device);
  try {
    noGrad(() => {
      for (let i = order.length - 1; i >= 0; i--) {
        const tensor = order[i];
        const node = tensor.producer!;
        const gradOutput = grads.get(tensor);
        grads.delete(tensor);
        if (!gradOutput) continue; // Nothing downstream needed this tensor's gradient.
        const accumulatorOf = (input: Tensor) => (input.producer ? grads.get(input) : input.grad) ?? null;
        // A gradient whose buffer another handle shares is never written in place (addToGradient's rule).
        const exclusive = (t: Tensor | null) => (t && !t.storage.shared ? t : null);
        // An input listed twice gets no target: both of its gradients come back as tensors and are added here.
        const into = node.context.inputs.map((input, k) =>
          node.context.needsGrad[k] && node.context.inputs.indexOf(input) === node.context.inputs.lastIndexOf(input)
            ? exclusive(accumulatorOf(input))
            : null,
        );
        const inputGrads = tidy(() => node.op.backward(node.context, gradOutput, into));
        gradOutput.release();
        node.context.inputs.forEach((input, k) => {
          let grad = inputGrads[k];
          if (grad === ACCUMULATED) {
            if (!into[k]) throw new Error(`${node.op.name} backward: input ${k} reported an accumulation without a target`);
            return;
          }
          if (grad instanceof DeferredSum) {
            keep(grad.source);
            if (!node.context.needsGrad[k]) return grad.source.release();
            if (!input.producer && deferred.offer(input, grad)) return;
            grad = grad.computeAlone();
          }
          if (!grad) return;
          keep(grad);
          if (!node.context.needsGrad[k]) return grad.release();
          if (grad.size !== input.size) {
            throw new ShapeError(`${node.op.name} backward: gradient [${grad.shape}] for input [${input.shape}]`);
          }
          const target = accumulatorOf(input);
          const total = target ? keep(addToGradient(target, grad)) : grad;
          if (total !== grad) grad.release();
          if (total === target) return; // added in place: the target is already where it belongs
          if (input.producer) grads.set(input, total);
          else input.grad = total.shape.join() === input.shape.join() ? total : reshaped(total, input);
        });
      }
      deferred.flush();
    });
  } finally {
    deferred.release();
  }
  for (const grad of grads.values()) grad.release();
  if (!options.retainGraph) for (const tensor of order) freeNode(tensor);
}

function reshaped(grad: Tensor, like: Tensor): Tensor {
  const view = keep(grad.view(like.shape));
  grad.release();
  return view;
}

function freeNode(tensor: Tensor): void {
  const node = tensor.producer;
  if (!node) return;
  for (const saved of node.context.saved) saved.release();
  tensor.producer = null;
}

/** Tensors with a producer, each after everything it depends on. */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative DFS: deep models would overflow the stack with recursion.
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length > 0) {
    const [tensor, expanded] = stack.pop()!;
    if (expanded) {
      order.push(tensor);
      continue;
    }
    if (visited.has(tensor) || !tensor.producer) continue;
    visited.add(tensor);
    stack.push([tensor, true]);
    for (const input of tensor.producer.context.inputs) {
      if (input.producer && !visited.has(input)) stack.push([input, false]);
    }
  }
  return order;
}

/** Releases the graph behind `output` without computing gradients (e.g. an evaluation made with grads on). */
export function releaseGraph(output: Tensor): void {
  for (const tensor of topologicalOrder(output)) freeNode(tensor);
}
