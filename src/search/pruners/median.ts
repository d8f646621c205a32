/** Median stopping rule (Golovin et al. 2017, Google Vizier): PercentilePruner at the 50th percentile (Optuna's MedianPruner). */
import { PercentilePruner, type PercentilePrunerOptions } from './percentile.js';

export class MedianPruner extends PercentilePruner {
  constructor(opts: PercentilePrunerOptions = {}) {
    super(50, opts);
  }
}
