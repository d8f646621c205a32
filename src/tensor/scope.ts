/**
 * Deterministic release of GPU memory. Tensors made inside `tidy(fn)` are released when `fn` returns, except the
 * ones it returns and the ones passed to `keep`. Garbage collection never frees GPU buffers: what is not released
 * explicitly stays allocated, so long-lived tensors (parameters, optimizer state) are made outside any scope.
 */
import type { Tensor } from './tensor.js';

const scopes: Set<Tensor>[] = [];

export function trackTensor(tensor: Tensor): void {
  scopes[scopes.length - 1]?.add(tensor);
}

/** Takes a tensor out of every open scope, so it outlives them (parameters' gradients, optimizer state). */
export function keep<T extends Tensor>(tensor: T): T {
  for (const scope of scopes) scope.delete(tensor);
  return tensor;
}

export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  // An async fn would return before its tensors exist, and they would escape the scope.
  if (typeof (result as { then?: unknown } | null)?.then === 'function') throw new Error('tidy() takes a sync function, not one returning a promise');
  const survivors = new Set<Tensor>();
  collectTensors(result, survivors);
  for (const tensor of scope) {
    if (survivors.has(tensor)) trackTensor(tensor); // Hand it to the enclosing scope.
    else tensor.release();
  }
  return result;
}

function collectTensors(value: unknown, into: Set<Tensor>): void {
  if (value === null || typeof value !== 'object') return;
  if ((value as { isTensor?: boolean }).isTensor === true) {
    into.add(value as Tensor);
    return;
  }
  const items = Array.isArray(value) ? value : value instanceof Map ? [...value.values()] : Object.values(value);
  for (const item of items) collectTensors(item, into);
}
