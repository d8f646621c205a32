/**
 * The registry's gradient check (ARCHITECTURE.md, "Where to add things"): every op in `OPS` runs through its public
 * function on small seeded inputs, its forward is compared with the kernel family's float64 CPU reference
 * (kernels/<family>/reference.ts), and each differentiable input's gradient with float64 central finite differences
 * of that same reference (test/helpers/gradcheck.ts: loss = sum(output · random weights), step h = 1e-6·max(1, |x|)).
 *
 * Tolerances (compare.ts's measure: max over elements of |error| / (|expected| + 1% of the expected RMS)):
 * forward 1e-4 and gradient 1e-3, the helper's defaults, for every case. The float64 finite difference is exact to
 * about 1e-8 here (truncation ~h² = 1e-12; rounding ~1e-16·Σ|output·weight| / h, at most ~1e-8 for these
 * sizes), so the bound measures only the GPU's float32 arithmetic: a few ulps (6e-8) per term over sums of at most 8
 * terms, the looser transcendental builtins (Vulkan allows exp 3 + 2|x| ulp), and cancellation where a derivative
 * is a small difference (tanh's 1 − y² at |x| = 4 is 1.3e-3, so y's rounding is amplified ~1000×). Measured on
 * lavapipe (printed at the end of the run): gradients worst 3.7e-5 (tanh), then 2.3e-5 (linear with GELU) and
 * 1.6e-5 (gelu); forward worst 1.6e-5 (layer_norm with a mean offset to [2, 4]); everything else below 1e-5. So
 * the gradient bound sits 27× above the worst measured error and a wrong or missing term in a backward, an error
 * of order 1, lands three orders above it; the forward bound has 6× margin. Inputs keep away from kinks and poles
 * (log, sqrt and div's divisor in [0.2, 4] or [0.5, 2]; distinct values so max has one argmax), where a finite
 * difference would be meaningless.
 *
 * Each op needs an entry in CASES below: an op added to the registry without one fails this file, and so does an
 * `OpDefinition` exported from src/tensor/ops that the registry does not list.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { attentionReference } from '../../kernels/attention/reference.js';
import { binaryReference, broadcastReference, unaryReference } from '../../kernels/elementwise/reference.js';
import { crossEntropyMeanReference, crossEntropyReference } from '../../kernels/cross-entropy/reference.js';
import { dropoutReference } from '../../kernels/dropout/reference.js';
import { embeddingReference, selectFirstRowsReference, selectRowsReference } from '../../kernels/embedding/reference.js';
import { embeddingsLayerNormReference, type EmbeddingsDropoutReference } from '../../kernels/embeddings-layernorm/reference.js';
import { layerNormReference } from '../../kernels/layernorm/reference.js';
import { residualLayerNormReference } from '../../kernels/residual-layernorm/reference.js';
import { matmulReference } from '../../kernels/matmul/reference.js';
import { permuteReference } from '../../kernels/permute/reference.js';
import { reduceReference } from '../../kernels/reduce/reference.js';
import { softmaxReference } from '../../kernels/softmax/reference.js';
import type { OpDefinition } from '../../src/tensor/autograd.js';
import * as ops from '../../src/tensor/ops/index.js';
import { OPS } from '../../src/tensor/ops/registry.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { checkForwardAndGradients, type GradCheckErrors, type GradCheckInput } from '../helpers/gradcheck.js';
import { useDevice } from '../helpers/gpu.js';
import { randomArray, randomInts } from '../helpers/random.js';

const device = useDevice();

/** One small input set for an op: `run` calls the op's public function, whose output must come from that op. */
interface OpCase {
  what: string;
  inputs: GradCheckInput[];
  run: (inputs: Tensor[]) => Tensor;
  reference: (inputs: Float64Array[]) => Float64Array;
}

const size = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

function binaryCases(op: 'add' | 'sub' | 'mul' | 'div'): OpCase[] {
  // Broadcasting on a leading and a middle axis; the gradient of b is summed back over them.
  const [aShape, bShape, outShape] = [[2, 3, 4], [3, 1], [2, 3, 4]];
  return [
    {
      what: `${op} [${aShape}] x [${bShape}]`,
      inputs: [{ shape: aShape }, { shape: bShape, data: op === 'div' ? randomArray(size(bShape), 5, 0.5, 2) : undefined }],
      run: ([a, b]) => ops[op](a, b),
      reference: ([a, b]) => broadcastReference(a, aShape, b, bShape, outShape, binaryReference[op]),
    },
  ];
}

function unaryCases(name: 'neg' | 'exp' | 'log' | 'sqrt' | 'relu' | 'tanh' | 'gelu', low: number, high: number): OpCase[] {
  const shape = [3, 5];
  return [
    {
      what: `${name} [${shape}] in [${low}, ${high}]`,
      inputs: [{ shape, data: randomArray(size(shape), 17, low, high) }],
      run: ([x]) => ops[name](x),
      reference: ([x]) => x.map((v) => unaryReference[name](v, 1, 0)),
    },
  ];
}

/** x reduced over `axes` (dropped): the kept axes permuted to the front, then the kernel family's reference. */
function reduceOver(x: Float64Array, shape: number[], axes: number[], op: 'sum' | 'mean' | 'max'): Float64Array {
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const moved = permuteReference(x, shape, [...kept, ...axes]);
  return reduceReference(moved, size(kept.map((i) => shape[i])), size(axes.map((i) => shape[i])), 1, op);
}

function reduceCases(op: 'sum' | 'mean' | 'max'): OpCase[] {
  // Axes 0 and 2: two separate runs in the kernel, and a broadcast back over both in the backward.
  const [shape, axes] = [[2, 3, 4], [0, 2]];
  return [
    {
      what: `${op} [${shape}] over [${axes}]`,
      // Distinct values: max has one argmax, so its gradient is defined.
      inputs: [{ shape, data: randomArray(size(shape), 23, -2, 2) }],
      run: ([x]) => ops[op](x, axes),
      reference: ([x]) => reduceOver(x, shape, axes, op),
    },
  ];
}

/** A case per registry entry, by `OpDefinition.name`. */
const CASES: Record<string, () => OpCase[]> = {
  add: () => binaryCases('add'),
  sub: () => binaryCases('sub'),
  mul: () => binaryCases('mul'),
  div: () => binaryCases('div'),
  neg: () => unaryCases('neg', -3, 3),
  exp: () => unaryCases('exp', -3, 3),
  log: () => unaryCases('log', 0.2, 4),
  sqrt: () => unaryCases('sqrt', 0.2, 4),
  relu: () => unaryCases('relu', -3, 3),
  tanh: () => unaryCases('tanh', -4, 4),
  gelu: () => unaryCases('gelu', -4, 4),
  affine: () => [
    {
      what: 'scale [3, 5] by -2.5, +0.75',
      inputs: [{ shape: [3, 5] }],
      run: ([x]) => ops.scale(x, -2.5, 0.75),
      reference: ([x]) => x.map((v) => unaryReference.affine(v, -2.5, 0.75)),
    },
  ],
  sum: () => reduceCases('sum'),
  mean: () => reduceCases('mean'),
  max: () => reduceCases('max'),
  reshape: () => [
    {
      what: 'reshape [2, 3, 4] to [4, -1]',
      inputs: [{ shape: [2, 3, 4] }],
      run: ([x]) => ops.reshape(x, [4, -1]),
      reference: ([x]) => Float64Array.from(x),
    },
  ],
  permute: () => [
    {
      what: 'permute [2, 3, 4] by [2, 0, 1]',
      inputs: [{ shape: [2, 3, 4] }],
      run: ([x]) => ops.permute(x, [2, 0, 1]),
      reference: ([x]) => permuteReference(x, [2, 3, 4], [2, 0, 1]),
    },
  ],
  matmul: () => [
    {
      // A batched, B shared: the forward flattens the batch; B's gradient is one product over it.
      what: 'matmul [2, 3, 5] · [5, 4]',
      inputs: [{ shape: [2, 3, 5] }, { shape: [5, 4] }],
      run: ([a, b]) => ops.matmul(a, b),
      reference: ([a, b]) => matmulReference(a, b, { batch: 2, m: 3, k: 5, n: 4, bBatched: false }).out,
    },
    {
      // Both transposed, both batched: the gradients go through the kernel's transpose flags.
      what: 'matmul [2, 5, 3]ᵀ · [2, 4, 5]ᵀ',
      inputs: [{ shape: [2, 5, 3] }, { shape: [2, 4, 5] }],
      run: ([a, b]) => ops.matmul(a, b, { transposeA: true, transposeB: true }),
      reference: ([a, b]) => matmulReference(a, b, { batch: 2, m: 3, k: 5, n: 4, transposeA: true, transposeB: true }).out,
    },
  ],
  linear: () => [
    {
      what: 'linear x [2, 3, 5] · W [5, 4] + b [4]',
      inputs: [{ shape: [2, 3, 5] }, { shape: [5, 4] }, { shape: [4] }],
      run: ([x, w, b]) => ops.linear(x, w, b),
      reference: ([x, w, b]) => matmulReference(x, w, { batch: 1, m: 6, k: 5, n: 4, bias: b }).out,
    },
    {
      // The trial form with the fused GELU epilogue (its backward uses the saved pre-activation).
      what: 'linear x [2, 3, 5] · W [2, 5, 4] + b [2, 4], GELU',
      inputs: [{ shape: [2, 3, 5], data: randomArray(30, 31, -2, 2) }, { shape: [2, 5, 4] }, { shape: [2, 4] }],
      run: ([x, w, b]) => ops.linear(x, w, b, { activation: 'gelu' }),
      reference: ([x, w, b]) => matmulReference(x, w, { batch: 2, m: 3, k: 5, n: 4, bias: b, biasBatched: true, gelu: true }).out,
    },
  ],
  softmax: () => [
    {
      what: 'softmax [3, 7]',
      inputs: [{ shape: [3, 7], data: randomArray(21, 41, -3, 3) }],
      run: ([x]) => ops.softmax(x),
      reference: ([x]) => softmaxReference(x, 3, 7),
    },
  ],
  attention: () => {
    // 2 slots of one sequence of 5, 2 heads of 3; slot 1's sequence ends in 2 padding keys.
    const dims = { slots: 2, batch: 1, seq: 5, heads: 2, headSize: 3 };
    const [shape, scale] = [[2, 5, 6], Math.fround(1 / Math.sqrt(3))];
    const [seeds, probabilities] = [[3, 4], [0.2, 0.4]];
    const mask = { shape: [2, 1, 1, 1, 5], data: Float32Array.from({ length: 10 }, (_, n) => (n >= 8 ? -1e9 : 0)), differentiable: false };
    const qkv = [{ shape, data: randomArray(60, 51, -2, 2) }, { shape, data: randomArray(60, 52, -2, 2) }, { shape }];
    return [
      {
        what: 'attention q, k, v [2, 5, 6] (2 heads of 3), padding',
        inputs: [...qkv, mask],
        run: ([q, k, v, m]) => ops.attention(q, k, v, m, { slots: 2, batch: 1, seq: 5, heads: 2 }),
        reference: ([q, k, v, m]) => attentionReference(q, k, v, m, dims, scale),
      },
      {
        what: 'attention q, k, v [2, 5, 6] (2 heads of 3), padding, dropout p per slot',
        inputs: [
          ...qkv,
          mask,
          { shape: [2], ints: Int32Array.from(seeds) },
          { shape: [2], data: Float32Array.from(probabilities), differentiable: false },
        ],
        run: ([q, k, v, m, s, p]) =>
          ops.attention(q, k, v, m, { slots: 2, batch: 1, seq: 5, heads: 2, dropout: { seeds: s, probabilities: p, callIndex: 6 } }),
        reference: ([q, k, v, m]) => attentionReference(q, k, v, m, dims, scale, { seeds, probabilities, callIndex: 6 }),
      },
    ];
  },
  cross_entropy: () => {
    const [slots, perSlot, classes] = [2, 3, 5];
    const rows = slots * perSlot;
    const labels = randomInts(rows, 43, 0, classes);
    labels[1] = -100; // One ignored row: out of the loss and the mean's count.
    return [
      {
        what: `crossEntropy (mean per slot) T=${slots} rows=${rows} classes=${classes}`,
        inputs: [{ shape: [rows, classes], data: randomArray(rows * classes, 44, -3, 3) }, { shape: [rows], ints: labels }],
        run: ([logits, y]) => ops.crossEntropy(logits, y, { slots }),
        reference: ([logits, y]) => crossEntropyMeanReference(logits, y, rows, classes, slots),
      },
      {
        what: `crossEntropyPerRow [${slots}, ${perSlot}, ${classes}]`,
        inputs: [{ shape: [slots, perSlot, classes] }, { shape: [slots, perSlot], ints: labels }],
        run: ([logits, y]) => ops.crossEntropyPerRow(logits, y),
        reference: ([logits, y]) => crossEntropyReference(logits, y, rows, classes),
      },
    ];
  },
  layer_norm: () => {
    const [slots, perSlot, hidden] = [2, 4, 8];
    return [
      {
        what: `layerNorm x [${slots}, ${perSlot}, ${hidden}], weight and bias per slot`,
        inputs: [
          // An offset mean checks the variance is computed stably.
          { shape: [slots, perSlot, hidden], data: randomArray(slots * perSlot * hidden, 47, 2, 4) },
          { shape: [slots, hidden], data: randomArray(slots * hidden, 48, 0.5, 1.5) },
          { shape: [slots, hidden], data: randomArray(slots * hidden, 49, -0.5, 0.5) },
        ],
        run: ([x, w, b]) => ops.layerNorm(x, w, b, { eps: 1e-5 }),
        reference: ([x, w, b]) => layerNormReference(x, w, b, slots * perSlot, hidden, slots, 1e-5).y,
      },
    ];
  },
  residual_layer_norm: () => {
    const [slots, batch, seq, hidden] = [2, 2, 3, 6];
    const [rows, shape, slotShape] = [slots * batch * seq, [slots, batch * seq, hidden], [batch, seq, hidden]];
    const [seeds, probabilities] = [[3, 4], [0.25, 0.5]];
    const inputs = (k: number): GradCheckInput[] => [
      // An offset mean checks the variance is computed stably.
      { shape, data: randomArray(rows * hidden, k, 1, 3) },
      { shape, data: randomArray(rows * hidden, k + 1, -1, 1) },
      { shape: [slots, hidden], data: randomArray(slots * hidden, k + 2, 0.5, 1.5) },
      { shape: [slots, hidden], data: randomArray(slots * hidden, k + 3, -0.5, 0.5) },
    ];
    return [
      {
        what: `residualLayerNorm x, branch [${shape}], weight and bias per slot, dropout p per slot`,
        inputs: [...inputs(51), { shape: [slots], ints: Int32Array.from(seeds) }, { shape: [slots], data: Float32Array.from(probabilities), differentiable: false }],
        run: ([x, branch, w, b, s, p]) => ops.residualLayerNorm(x, branch, w, b, { eps: 1e-5, dropout: { seeds: s, probabilities: p, callIndex: 9, slots, slotShape } }),
        reference: ([x, branch, w, b]) => residualLayerNormReference(x, branch, w, b, rows, hidden, slots, 1e-5, { seeds, probabilities, slotShape, callIndex: 9 }).y,
      },
      {
        what: `residualLayerNorm x, branch [${shape}], no dropout`,
        inputs: inputs(55),
        run: ([x, branch, w, b]) => ops.residualLayerNorm(x, branch, w, b, { eps: 1e-5 }),
        reference: ([x, branch, w, b]) => residualLayerNormReference(x, branch, w, b, rows, hidden, slots, 1e-5, null).y,
      },
    ];
  },
  embedding: () => {
    const [slots, vocab, hidden, perSlot] = [2, 6, 5, 4];
    // Repeated ids: the table's gradient must add every row that gathered it.
    const ids = Int32Array.from([0, 3, 3, 5, 1, 1, 4, 1]);
    return [
      {
        what: `embedding table [${slots}, ${vocab}, ${hidden}] ids [${slots}, ${perSlot}]`,
        inputs: [{ shape: [slots, vocab, hidden] }, { shape: [slots, perSlot], ints: ids }],
        run: ([table, i]) => ops.embedding(table, i),
        reference: ([table]) => embeddingReference(table, ids, slots, vocab, hidden),
      },
    ];
  },
  embeddings_layer_norm: () => {
    const [slots, batch, seq, hidden, vocab, positions] = [2, 2, 3, 6, 5, 4];
    const rows = slots * batch * seq;
    const ids = Int32Array.from({ length: rows }, (_, r) => (r * 7) % vocab); // Repeated ids: the scatter adds rows.
    const positionIds = Int32Array.from({ length: rows }, (_, r) => r % seq); // uploadBatch's layout
    const [seeds, probabilities, slotShape] = [[3, 4], [0.25, 0.5], [batch, seq, hidden]];
    const inputs = (k: number): GradCheckInput[] => [
      { shape: [slots, vocab, hidden], data: randomArray(slots * vocab * hidden, k, -1, 1) },
      { shape: [slots, positions, hidden], data: randomArray(slots * positions * hidden, k + 1, -1, 1) },
      { shape: [slots, batch * seq], ints: ids },
      { shape: [slots, batch * seq], ints: positionIds },
      { shape: [slots, hidden], data: randomArray(slots * hidden, k + 2, 0.5, 1.5) },
      { shape: [slots, hidden], data: randomArray(slots * hidden, k + 3, -0.5, 0.5) },
    ];
    const reference = (dropout: EmbeddingsDropoutReference | null) => ([words, positionTable, , , weight, bias]: Float64Array[]) =>
      embeddingsLayerNormReference({ words, positionTable, inputIds: ids, positionIds, weight, bias, slots, vocab, positions, hidden, eps: 1e-5, dropout }).out;
    return [
      {
        what: `embeddingsLayerNorm [${slots}, ${batch * seq}, ${hidden}], periodic positions, dropout p per slot`,
        inputs: [...inputs(57), { shape: [slots], ints: Int32Array.from(seeds) }, { shape: [slots], data: Float32Array.from(probabilities), differentiable: false }],
        run: ([w, p, i, pi, weight, bias, s, prob]) =>
          ops.embeddingsLayerNorm(w, p, i, pi, weight, bias, { eps: 1e-5, positionPeriod: seq, dropout: { seeds: s, probabilities: prob, callIndex: 9, slots, slotShape } }),
        reference: reference({ seeds, probabilities, slotShape, callIndex: 9 }),
      },
      {
        what: `embeddingsLayerNorm [${slots}, ${batch * seq}, ${hidden}], positionIds read, no dropout`,
        inputs: inputs(63),
        run: ([w, p, i, pi, weight, bias]) => ops.embeddingsLayerNorm(w, p, i, pi, weight, bias, { eps: 1e-5 }),
        reference: reference(null),
      },
      (() => {
        // Packed: per slot, sequences of 2 and 4 rows end to end, positions counting up along each.
        const packedPositions = Int32Array.from({ length: rows }, (_, r) => [0, 1, 0, 1, 2, 3][r % (batch * seq)]);
        const sequences = Int32Array.from([0, 2, 2, 4, 0, 2, 2, 4]);
        const packedInputs = inputs(69);
        packedInputs[3] = { shape: [slots, batch * seq], ints: packedPositions };
        return {
          what: `embeddingsLayerNorm [${slots}, ${batch * seq}, ${hidden}], positions counting up along packed sequences (one-dispatch gradient)`,
          inputs: [...packedInputs, { shape: [slots, batch, 2], ints: sequences }],
          run: ([w, p, i, pi, weight, bias, s]: Tensor[]) => ops.embeddingsLayerNorm(w, p, i, pi, weight, bias, { eps: 1e-5, positionSequences: s }),
          reference: ([words, positionTable, , , weight, bias]: Float64Array[]) =>
            embeddingsLayerNormReference({ words, positionTable, inputIds: ids, positionIds: packedPositions, weight, bias, slots, vocab, positions, hidden, eps: 1e-5, dropout: null }).out,
        };
      })(),
    ];
  },
  select_rows: () => [
    {
      what: 'selectRows [2, 6, 5], stride 3, offset 1',
      inputs: [{ shape: [2, 6, 5] }],
      run: ([x]) => ops.selectRows(x, { stride: 3, offset: 1 }),
      reference: ([x]) => selectRowsReference(x, 2, 3, 1, 5),
    },
  ],
  select_first_rows: () => {
    // Packed: slot 0's sequences at rows 0, 2, 5 (the last owning the tail), slot 1's at 0, 1, 5.
    const sequences = Int32Array.from([0, 2, 2, 3, 5, 2, 0, 1, 1, 4, 5, 2]);
    return [4, 5].map((hidden) => ({
      what: `selectFirstRows [2, 7, ${hidden}], packed sequences`,
      inputs: [{ shape: [2, 7, hidden] }, { shape: [2, 3, 2], ints: sequences }],
      run: ([x, s]: Tensor[]) => ops.selectFirstRows(x, s),
      reference: ([x]: Float64Array[]) => selectFirstRowsReference(x, sequences, 2, hidden),
    }));
  },
  dropout: () => {
    const [seeds, probabilities] = [[3, 4], [0.25, 0.6]];
    return [
      {
        what: 'dropout x [2, 5, 7], p per slot',
        inputs: [
          { shape: [2, 5, 7] },
          { shape: [2], ints: Int32Array.from(seeds) },
          { shape: [2], data: Float32Array.from(probabilities), differentiable: false },
        ],
        run: ([x, s, p]) => ops.dropout(x, { seeds: s, probabilities: p, callIndex: 9, slots: 2, training: true }),
        reference: ([x]) => dropoutReference(x, seeds, probabilities, 9, [5, 7]),
      },
    ];
  },
  tanhDropout: () => {
    const [seeds, probabilities] = [[3, 4], [0.25, 0.6]];
    return [
      {
        what: 'tanhDropout x [2, 5, 7] in [-3, 3], p per slot',
        inputs: [
          { shape: [2, 5, 7], data: randomArray(70, 23, -3, 3) },
          { shape: [2], ints: Int32Array.from(seeds) },
          { shape: [2], data: Float32Array.from(probabilities), differentiable: false },
        ],
        run: ([x, s, p]) => ops.tanhDropout(x, { seeds: s, probabilities: p, callIndex: 9, slots: 2, training: true }),
        reference: ([x]) => dropoutReference(x.map(Math.tanh), seeds, probabilities, 9, [5, 7]),
      },
    ];
  },
};

const measured: string[] = [];
const format = (e: number) => (Number.isNaN(e) ? '—' : e.toExponential(1));
afterAll(() => {
  if (measured.length > 0) console.log(`gradcheck errors (forward; gradient per input):\n${measured.join('\n')}`);
});

describe('the OPS registry', () => {
  it('lists each op once, by a unique name', () => {
    expect(new Set(OPS).size).toBe(OPS.length);
    expect(new Set(OPS.map((op) => op.name)).size).toBe(OPS.length);
  });

  it('lists every OpDefinition that src/tensor/ops exports', async () => {
    const folder = fileURLToPath(new URL('../../src/tensor/ops/', import.meta.url));
    const unlisted: string[] = [];
    for (const file of readdirSync(folder).filter((f) => f.endsWith('.ts'))) {
      const module = (await import(pathToFileURL(folder + file).href)) as Record<string, unknown>;
      for (const [exported, value] of Object.entries(module)) {
        const candidate = value as Partial<OpDefinition<unknown>> | null;
        const isOp = typeof candidate === 'object' && candidate !== null && typeof candidate.name === 'string' &&
          typeof candidate.forward === 'function' && typeof candidate.backward === 'function';
        if (isOp && !OPS.includes(value as OpDefinition<never>)) unlisted.push(`${file}: ${exported}`);
      }
    }
    expect(unlisted, 'OpDefinitions missing from src/tensor/ops/registry.ts').toEqual([]);
  });

  it('has a gradcheck case for every op, and none for an op it does not list', () => {
    expect(OPS.filter((op) => !CASES[op.name]?.().length).map((op) => op.name), 'ops without a case').toEqual([]);
    expect(Object.keys(CASES).filter((name) => !OPS.some((op) => op.name === name)), 'cases without an op').toEqual([]);
  });
});

describe('gradient check of every registered op', () => {
  for (const op of OPS) {
    const cases = CASES[op.name]?.() ?? [];
    if (cases.length === 0) {
      it(`${op.name}: gradient check`, () => expect.fail(`no gradcheck case for '${op.name}': add one to CASES`));
      continue;
    }
    for (const c of cases) {
      it(`${op.name}: ${c.what}`, async () => {
        const errors: GradCheckErrors = await checkForwardAndGradients(device(), {
          what: `${op.name}: ${c.what}`,
          inputs: c.inputs,
          gpu: (inputs) => {
            const out = c.run(inputs);
            // The case must exercise this registry entry, not another op.
            expect(out.producer?.op, `${c.what} is not computed by the registered '${op.name}'`).toBe(op);
            return out;
          },
          reference: c.reference,
        });
        measured.push(`  ${op.name}: ${c.what}: ${format(errors.forward)}; ${errors.gradients.map(format).join(', ')}`);
      });
    }
  }
});
