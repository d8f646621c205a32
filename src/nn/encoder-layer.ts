/** A post-LN transformer encoder layer as in BERT: x = LN(x + attention(x)); x = LN(x + W2 gelu(W1 x)). */
import { add } from '../tensor/ops/elementwise.js';
import { residualLayerNorm } from '../tensor/ops/residual-layernorm.js';
import type { Tensor } from '../tensor/tensor.js';
import { SelfAttention, slotTokenShape } from './attention.js';
import { Dropout } from './dropout.js';
import type { ForwardContext } from './forward-context.js';
import { LayerNorm } from './layer-norm.js';
import { Linear } from './linear.js';
import type { ModelInput } from './model-input.js';
import { Module, type BuildContext } from './module.js';

export class EncoderLayer extends Module {
  readonly attention: SelfAttention;
  readonly attentionNorm: LayerNorm;
  readonly intermediate: Linear;
  readonly output: Linear;
  readonly outputNorm: LayerNorm;
  private readonly attentionDropout = this.child('attention_dropout', new Dropout('hidden'));
  private readonly outputDropout = this.child('output_dropout', new Dropout('hidden'));
  /**
   * True: each sublayer ends in one residualLayerNorm op (one forward dispatch for dropout, residual add and
   * LayerNorm). False: the unfused layerNorm(add(x, dropout(branch))), the same values and dropout masks; kept to
   * check the fused op against (test/nn/residual-layernorm.test.ts).
   */
  fuseResidualNorm = true;

  constructor(context: BuildContext, hiddenSize: number, numHeads: number, intermediateSize: number, eps: number) {
    super();
    this.attention = this.child('attention', new SelfAttention(context, hiddenSize, numHeads));
    this.attentionNorm = this.child('attention_norm', new LayerNorm(context, hiddenSize, eps));
    this.intermediate = this.child('intermediate', new Linear(context, hiddenSize, intermediateSize, 'gelu'));
    this.output = this.child('output', new Linear(context, intermediateSize, hiddenSize));
    this.outputNorm = this.child('output_norm', new LayerNorm(context, hiddenSize, eps));
  }

  /** x (T, rows, hidden) → same shape. */
  forward(x: Tensor, input: ModelInput, context: ForwardContext): Tensor {
    const attended = this.attention.forward(x, input, context);
    const tokens = slotTokenShape(input.dims, x.shape[x.rank - 1]); // dropout's view of one slot of x
    const h = this.residualNorm(x, attended, this.attentionDropout, this.attentionNorm, context, tokens);
    const expanded = this.output.forward(this.intermediate.forward(h));
    return this.residualNorm(h, expanded, this.outputDropout, this.outputNorm, context, tokens);
  }

  /** norm(x + dropout(branch)); the dropout site takes its call number here either way, so later sites keep theirs. */
  private residualNorm(x: Tensor, branch: Tensor, dropout: Dropout, norm: LayerNorm, context: ForwardContext, tokens: number[]): Tensor {
    if (!this.fuseResidualNorm) return norm.forward(add(x, dropout.forward(branch, context, tokens)));
    return residualLayerNorm(x, branch, norm.weight, norm.bias, { eps: norm.eps, dropout: dropout.settings(context, tokens) });
  }
}
