/** A pruner that never prunes (Optuna's NopPruner). */
import type { Pruner } from './pruner.js';

export class NopPruner implements Pruner {
  prune(): boolean {
    return false;
  }
}
