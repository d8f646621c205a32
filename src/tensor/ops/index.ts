/** Every op with autograd, as functions. The registry (registry.ts) lists their definitions. */
export { add, sub, mul, div, neg, exp, log, sqrt, relu, tanh, gelu, scale, broadcastTo } from './elementwise.js';
export { sum, mean, max, sumToShape } from './reduce.js';
export { reshape } from './shape.js';
export { permute, transpose } from './permute.js';
export { matmul, linear } from './matmul.js';
export { softmax } from './softmax.js';
export { attention } from './attention.js';
export { layerNorm } from './layernorm.js';
export { residualLayerNorm } from './residual-layernorm.js';
export { crossEntropy, crossEntropyPerRow } from './cross-entropy.js';
export { embedding } from './embedding.js';
export { embeddingsLayerNorm } from './embeddings-layernorm.js';
export { selectFirstRows, selectRows } from './select-rows.js';
export { dropout, tanhDropout } from './dropout.js';
export { OPS } from './registry.js';
