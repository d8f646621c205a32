/**
 * EncoderLayer's fused residualLayerNorm against its unfused layerNorm(add(x, dropout(branch))) (the
 * `fuseResidualNorm = false` path): two SequenceClassifiers with the same seeds, T = 2 slots with their own dropout
 * rates and steps; logits, loss and every parameter's gradient, in training with dropout and in evaluation; and the
 * fused step records fewer dispatches. The masks must be the same draws, or the outputs differ at order 1.
 *
 * Tolerances (compare.ts's measure; gradients also against 1% of the RMS of all gradients, since a key bias's is 0 in
 * exact arithmetic): logits and loss 1e-5, gradients 1e-3. Both paths compute the same float32 operations except
 * the summation order of the norm's statistics (shifted sums here, layernorm v4's exact two-pass on lavapipe) and
 * whatever multiply-adds a compiler contracts into FMAs: ulp-level differences, which the backward through two
 * layers (LN's dx cancels terms) grows to ~1e-5 of the gradients' RMS. Measured on lavapipe (2026-12-02): forward
 * ≤ 1.2e-6; gradients worst 6e-5 to 1.4e-4 with rates 0.3/0.5, and as large (1.6e-4) with rates 0, where no mask can
 * differ. A mask drawn differently moves values at order 1 (the test checks that dropout moves the logits by > 1e-3).
 */
import { describeFusedAgainstUnfused } from '../helpers/fused-model-comparison.js';

describeFusedAgainstUnfused('EncoderLayer: fused residualLayerNorm against layerNorm(add(x, dropout(branch)))', (model, fused) => {
  for (const layer of model.layers) layer.fuseResidualNorm = fused;
});
