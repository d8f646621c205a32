/**
 * A leaf's gradient that is a column sum (a linear layer's bias gradient: its output gradient summed over rows),
 * which a backward hands to autograd instead of computing it. Autograd gathers the leaves' column sums and computes
 * them several to a dispatch (kernels/reduce, `launchReduceSumBatched`) as soon as a dispatch's worth is waiting
 * and at the end of `backward()`: a BERT layer's four bias gradients take one dispatch instead of four. Each result
 * has the bits a lone reduction (v2, one pass) gives it.
 */
import { launchReduce, launchReduceSumBatched, reduceBatchCapacity, ROWS_PER_WORKGROUP } from '../../kernels/reduce/reduce.js';
import type { Device } from '../gpu/device.js';
import { ShapeError } from '../gpu/errors.js';
import { keep } from './scope.js';
import { addToGradient, emptyTensor } from './tensor-fill.js';
import type { Tensor } from './tensor.js';

export class DeferredSum {
  /** Its own handle on the source (a view of shape (outer, reduced, inner)), released once the sum is computed. */
  readonly source: Tensor;

  /** The gradient `source` (outer, reduced, inner) summed over `reduced`: (outer, inner) values. */
  constructor(source: Tensor, readonly outer: number, readonly reduced: number, readonly inner: number) {
    if (outer * reduced * inner !== source.size) {
      throw new ShapeError(`DeferredSum: (outer=${outer}, reduced=${reduced}, inner=${inner}) does not cover source [${source.shape}]`);
    }
    this.source = source.view([outer, reduced, inner]);
  }

  /** Whether the batched kernel takes it (longer reductions need two passes). */
  get batchable(): boolean {
    return this.reduced >= 1 && this.reduced <= ROWS_PER_WORKGROUP;
  }

  /** The sum now, on its own, as a new (outer, inner) tensor; releases the source. */
  computeAlone(): Tensor {
    const out = emptyTensor(this.source.device, [this.outer, this.inner], 'f32', 'deferred sum');
    launchReduce(this.source.device, 'sum', this.source.buffer, out.buffer, this.outer, this.reduced, this.inner);
    this.source.release();
    return out;
  }
}

/**
 * The leaves waiting for their column sums during one `backward()`. A leaf waits at most once (a second column sum
 * for it is computed alone), and what the leaf's `.grad` holds when the batch runs is added to, not replaced.
 */
export class DeferredSums {
  private readonly waiting = new Map<Tensor, DeferredSum>();

  constructor(private readonly device: Device) {}

  /** Takes `sum` for `leaf` (and with it the source, kept out of scopes), or says no (the caller computes it alone). */
  offer(leaf: Tensor, sum: DeferredSum): boolean {
    if (sum.outer * sum.inner !== leaf.size) {
      throw new ShapeError(`DeferredSum: (outer=${sum.outer}, inner=${sum.inner}) for a leaf of shape [${leaf.shape}]`);
    }
    // Only a source nobody else holds can wait: no later backward can write into it.
    if (this.waiting.has(leaf) || !sum.batchable || sum.source.storage.shared) return false;
    this.waiting.set(leaf, sum);
    if (this.waiting.size >= reduceBatchCapacity(this.device)) this.flush();
    return true;
  }

  /** Computes every waiting sum, into each leaf's `.grad`. */
  flush(): void {
    if (this.waiting.size === 0) return;
    // A gradient there already is added to in place, unless another handle shares its buffer (addToGradient's
    // rule): then the sum goes to a new tensor, added to it by addToGradient afterwards.
    const sharedGrads: [Tensor, Tensor][] = [];
    const entries = [...this.waiting].map(([leaf, sum]) => {
      const accumulate = leaf.grad !== null && !leaf.grad.storage.shared;
      const output = accumulate ? leaf.grad! : keep(emptyTensor(this.device, leaf.shape, 'f32', 'gradient'));
      if (!accumulate && leaf.grad) sharedGrads.push([leaf, output]);
      else if (!accumulate) leaf.grad = output;
      return { input: sum.source.buffer, output: output.buffer, outer: sum.outer, reduced: sum.reduced, inner: sum.inner, accumulate };
    });
    try {
      launchReduceSumBatched(this.device, entries);
    } finally {
      this.release();
    }
    for (const [leaf, sum] of sharedGrads) {
      leaf.grad = keep(addToGradient(leaf.grad!, sum));
      sum.release();
    }
  }

  /** Lets go of every waiting source without computing (a backward that failed). */
  release(): void {
    for (const sum of this.waiting.values()) sum.source.release();
    this.waiting.clear();
  }
}
