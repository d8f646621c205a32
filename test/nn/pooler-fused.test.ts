/**
 * SequenceClassifier's pooler activation and dropout as one tanhDropout op (the `fusePooler = true` default)
 * against tanh then the Dropout module: the same float32 operations in the same order, so logits, loss and every
 * gradient match bit for bit, in training with dropout (T = 2, own rates and steps) and in evaluation; the fused
 * training step records fewer dispatches.
 */
import { describeFusedAgainstUnfused } from '../helpers/fused-model-comparison.js';

describeFusedAgainstUnfused(
  'SequenceClassifier: pooler tanh + dropout fused against tanh, then dropout',
  (model, fused) => {
    model.fusePooler = fused;
  },
  { exact: true },
);
