/**
 * Every op webtrainer differentiates, in one explicit list: each entry holds its forward and its backward together
 * (src/tensor/autograd.ts). Nothing registers itself by being imported.
 *
 * test/tensor/ops-gradcheck.test.ts walks this list and checks each op's forward against its kernel family's
 * float64 reference and its gradients against finite differences of that reference. It fails when an
 * `OpDefinition` exported from this folder is missing here, or when an entry here has no case there.
 */
import type { OpDefinition } from '../autograd.js';
import { attentionOp } from './attention.js';
import { crossEntropyOp } from './cross-entropy.js';
import { dropoutOp, tanhDropoutOp } from './dropout.js';
import { addOp, affineOp, divOp, expOp, geluOp, logOp, mulOp, negOp, reluOp, sqrtOp, subOp, tanhOp } from './elementwise.js';
import { embeddingOp } from './embedding.js';
import { embeddingsLayerNormOp } from './embeddings-layernorm.js';
import { layerNormOp } from './layernorm.js';
import { linearOp, matmulOp } from './matmul.js';
import { permuteOp } from './permute.js';
import { maxOp, meanOp, sumOp } from './reduce.js';
import { residualLayerNormOp } from './residual-layernorm.js';
import { reshapeOp } from './shape.js';
import { selectFirstRowsOp, selectRowsOp } from './select-rows.js';
import { softmaxOp } from './softmax.js';

export const OPS: readonly OpDefinition<never>[] = [
  addOp, subOp, mulOp, divOp, negOp, expOp, logOp, sqrtOp, reluOp, tanhOp, geluOp, affineOp,
  sumOp, meanOp, maxOp, reshapeOp, permuteOp,
  matmulOp, linearOp, softmaxOp, attentionOp, crossEntropyOp, layerNormOp, residualLayerNormOp, embeddingOp, embeddingsLayerNormOp, selectRowsOp,
  selectFirstRowsOp, dropoutOp,
  tanhDropoutOp,
] as readonly OpDefinition<never>[];
