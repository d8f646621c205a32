/**
 * Counting, and releasing, the native objects behind Dawn's JavaScript wrappers.
 *
 * WebGPU has no `destroy()` for a bind group: Dawn's Node binding frees the native object (on lavapipe, a Vulkan
 * descriptor set backed by its own memory mapping) only when V8 collects its wrapper. V8 does not know how much
 * native memory a wrapper holds, so once wrappers reach the old generation it may not collect them for thousands of
 * training steps: a run that drops bind groups faster than V8 collects them grows without bound until lavapipe fails
 * to map another descriptor pool and the process dies with SIGSEGV (issue 17: 65,530 mappings, the kernel's
 * `vm.max_map_count`, after ~500 steps on SST-2). So the Device counts the wrappers it has dropped that are still
 * alive, and asks V8 for a full collection when there are many.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let fullCollection: (() => void) | null | undefined;

/**
 * Runs a full garbage collection, so dropped wrappers release their native objects now. Uses `global.gc` when
 * Node runs with `--expose-gc`, else turns the flag on for a new context (the flag is read when a context is made).
 * Returns false where neither works (then the caller's bound is only as good as V8's own schedule).
 */
export function collectGarbage(): boolean {
  if (fullCollection === undefined) fullCollection = findFullCollection();
  if (!fullCollection) return false;
  fullCollection();
  return true;
}

function findFullCollection(): (() => void) | null {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

/** Counts wrappers created and wrappers V8 has collected (their native objects released), per kind. */
export class NativeObjectCounter<Kind extends string> {
  private readonly created = new Map<Kind, number>();
  private readonly collected = new Map<Kind, number>();
  private readonly registry = new FinalizationRegistry<Kind>((kind) => {
    this.collected.set(kind, (this.collected.get(kind) ?? 0) + 1);
  });

  track<T extends object>(kind: Kind, wrapper: T): T {
    this.created.set(kind, (this.created.get(kind) ?? 0) + 1);
    this.registry.register(wrapper, kind);
    return wrapper;
  }

  /** Wrappers of `kind` created so far. */
  createdCount(kind: Kind): number {
    return this.created.get(kind) ?? 0;
  }

  /** Wrappers of `kind` not yet collected: referenced, or garbage V8 has not collected yet. */
  liveCount(kind: Kind): number {
    return this.createdCount(kind) - (this.collected.get(kind) ?? 0);
  }
}
