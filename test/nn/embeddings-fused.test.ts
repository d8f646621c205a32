/**
 * SequenceClassifier's fused embeddings block and [CLS] selection (embeddingsLayerNorm, selectRows: the
 * `fuseEmbeddings = true` default) against the composition they replace (embedding + embedding, add, LayerNorm,
 * dropout; an embedding lookup of clsIndex): two models with the same seeds and weights, T = 2 slots with their own
 * dropout rates and steps; logits, loss and every parameter's gradient, in training with dropout and in
 * evaluation; and the fused step records fewer dispatches. The embedding dropout masks must be the same draws, or
 * the outputs differ at order 1 (the test checks that dropout moves the logits by > 1e-3).
 *
 * Tolerances (compare.ts's measure; gradients also against 1% of the RMS of all gradients, as
 * test/nn/residual-layernorm.test.ts): logits and loss 1e-5, gradients 1e-3. Both paths compute the same float32
 * operations except the summation order of the embedding norm's statistics (shifted sums here, layernorm v4's
 * two-pass on lavapipe) and contracted multiply-adds: ulp-level differences in the embeddings, which the backward
 * through two post-LN layers grows to ~1e-5 of the gradients' RMS (as in residual-layernorm.test.ts, the same
 * kind of change). The [CLS] selection is an exact copy either way, and the position table's gradient sums the same
 * rows in the same (token) order. Both models run the same crossEntropy (its one-dispatch mean is checked against
 * the two-kernel v1 in kernels/cross-entropy).
 */
import { describeFusedAgainstUnfused } from '../helpers/fused-model-comparison.js';

describeFusedAgainstUnfused('SequenceClassifier: fused embeddings block and [CLS] rows against the unfused composition', (model, fused) => {
  model.fuseEmbeddings = fused;
});
