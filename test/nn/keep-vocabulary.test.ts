/**
 * A model that keeps only the token embedding rows its data reaches (SequenceClassifier.keepVocabulary,
 * src/train/data/reached-vocabulary.ts) against the same model with its whole table, fed the original ids: the
 * second implementation is the full model itself. Without clipping, training steps give the same bits everywhere
 * (the kept rows' values, every other parameter, the losses): each row's gradient sums the same tokens in the same
 * order, and AdamW is element by element. With clipping, the norm sums the same squares without the untouched
 * rows' zeros, in another grouping: within 1e-6 after three steps. The rows left out never moved in the full model
 * but for weight decay, which moves no output.
 */
import { describe, expect, it } from 'vitest';
import { AdamW } from '../../src/nn/adamw.js';
import type { ModelConfig } from '../../src/nn/config.js';
import { createSlotDropout } from '../../src/nn/forward-context.js';
import type { HostBatch } from '../../src/nn/model-input.js';
import { withPlaceholderWeights } from '../../src/nn/module.js';
import { SequenceClassifier } from '../../src/nn/sequence-classifier.js';
import { zeros } from '../../src/tensor/create.js';
import { keep } from '../../src/tensor/scope.js';
import { ReachedVocabulary } from '../../src/train/data/reached-vocabulary.js';
import { recordTrainingStep } from '../../src/train/training-step.js';
import { optimizerSettings, trainingArgumentsFrom } from '../../src/train/training-arguments.js';
import { saveModelWeights } from '../../src/train/training-group.js';
import type { Device } from '../../src/gpu/device.js';
import { maxRelativeError } from '../helpers/compare.js';
import { useDevice } from '../helpers/gpu.js';

const device = useDevice();

const config: ModelConfig = {
  vocabSize: 500, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16, maxPositionEmbeddings: 8,
  numLabels: 2, hiddenDropoutProb: 0.1, attentionDropoutProb: 0.1, layerNormEps: 1e-12,
};
const SEEDS = [5, 6];
/** The ids the data uses: a few, spread over the vocabulary, one of them repeated within a sequence. */
const SEQUENCES = [[101, 7, 412, 7, 102, 0], [101, 250, 499, 33, 102, 0], [101, 33, 102, 0, 0, 0], [101, 412, 250, 102, 0, 0]];
const PAD = 0;

function hostBatch(renumber: (id: number) => number): HostBatch {
  const [batch, seq] = [2, 6];
  const slots = SEEDS.length;
  const rows = Array.from({ length: slots * batch }, (_, r) => SEQUENCES[r % SEQUENCES.length]);
  return {
    slots, batch, seq,
    inputIds: Int32Array.from(rows.flat().map(renumber)),
    attentionMask: Int32Array.from(rows.flat().map((id, i) => (id !== PAD || i % seq === 0 ? 1 : 0))),
    labels: Int32Array.from({ length: slots * batch }, (_, i) => i % 2),
  };
}

/** Trains `steps` steps; returns every parameter (the kept rows of a full table) and the summed losses. */
async function train(d: Device, vocabulary: ReachedVocabulary | null, maxGradNorm: number, steps = 3) {
  const model = new SequenceClassifier(d, config, SEEDS);
  if (vocabulary) model.keepVocabulary(vocabulary.rows);
  const args = trainingArgumentsFrom({ weight_decay: 0.01, max_grad_norm: maxGradNorm });
  const optimizer = new AdamW(d, model.namedParameters(), SEEDS.map(() => optimizerSettings(args)));
  const dropout = createSlotDropout(d, SEEDS, [0.1, 0.2], [0.1, 0.05]);
  const lossSum = keep(zeros(d, [SEEDS.length]));
  const host = hostBatch((id) => (vocabulary ? vocabulary.numberOf(id) : id));
  for (let s = 0; s < steps; s++) recordTrainingStep({ device: d, model, optimizer, dropout }, host, SEEDS.map(() => s), [0.01, 0.003], lossSum);
  const parameters = new Map<string, Float32Array>();
  for (const [name, t] of model.namedParameters()) parameters.set(name, (await t.toArray()) as Float32Array);
  const losses = (await lossSum.toArray()) as Float32Array;
  lossSum.release();
  for (const t of Object.values(dropout)) t.release();
  optimizer.release();
  model.release();
  return { parameters, losses };
}

/** Rows `rows` of each slot of a (T, vocab, hidden) table. */
function rowsOf(table: Float32Array, rows: Int32Array, vocab: number, hidden: number): Float32Array {
  const out = new Float32Array(SEEDS.length * rows.length * hidden);
  for (let t = 0; t < SEEDS.length; t++) {
    rows.forEach((id, i) => out.set(table.subarray((t * vocab + id) * hidden, (t * vocab + id + 1) * hidden), (t * rows.length + i) * hidden));
  }
  return out;
}

const vocabulary = new ReachedVocabulary([SEQUENCES.map((ids) => ({ inputIds: ids, attentionMask: ids.map(() => 1), label: 0 }))], [PAD]);
const WORDS = 'word_embeddings.weight';

describe('keepVocabulary', () => {
  it('trains the kept rows, and every other parameter, to the same bits as the whole table without clipping', async () => {
    expect([...vocabulary.rows]).toEqual([0, 7, 33, 101, 102, 250, 412, 499]);
    const whole = await train(device(), null, 0);
    const kept = await train(device(), vocabulary, 0);
    expect(Buffer.from(kept.losses.buffer).equals(Buffer.from(whole.losses.buffer))).toBe(true);
    for (const [name, values] of whole.parameters) {
      const expected = name === WORDS ? rowsOf(values, vocabulary.rows, config.vocabSize, config.hiddenSize) : values;
      expect(kept.parameters.get(name)!.length, name).toBe(expected.length);
      expect(Buffer.from(kept.parameters.get(name)!.buffer).equals(Buffer.from(expected.buffer)), name).toBe(true);
    }
  });

  it('with clipping, trains within 1e-6 of the whole table (the norm adds the same squares in another grouping)', async () => {
    const whole = await train(device(), null, 0.01); // small enough that every step clips
    const kept = await train(device(), vocabulary, 0.01);
    expect(maxRelativeError(kept.losses, whole.losses)).toBeLessThan(1e-6);
    for (const [name, values] of whole.parameters) {
      const expected = name === WORDS ? rowsOf(values, vocabulary.rows, config.vocabSize, config.hiddenSize) : values;
      expect(maxRelativeError(kept.parameters.get(name)!, expected, 1e-3), name).toBeLessThan(1e-6);
    }
  });

  it('keeps rows by a gather of the initial table: the kept rows start with the values the whole table drew', async () => {
    const whole = new SequenceClassifier(device(), config, SEEDS);
    const kept = new SequenceClassifier(device(), config, SEEDS);
    kept.keepVocabulary(vocabulary.rows);
    const full = (await whole.wordEmbeddings.table.toArray()) as Float32Array;
    expect(kept.wordEmbeddings.table.shape).toEqual([2, 8, 8]);
    expect(kept.wordEmbeddings.count).toBe(8);
    expect([...((await kept.wordEmbeddings.table.toArray()) as Float32Array)]).toEqual([...rowsOf(full, vocabulary.rows, config.vocabSize, config.hiddenSize)]);
    whole.release();
    kept.release();
  });

  it('built with keptVocabulary, draws the kept rows and every later parameter with the bits of building whole, then keeping', async () => {
    // Hidden 7 (one head): rows of an odd length split Box-Muller pairs between kept and skipped rows.
    for (const c of [config, { ...config, hiddenSize: 7, numHeads: 1 }]) {
      const after = new SequenceClassifier(device(), c, SEEDS);
      after.keepVocabulary(vocabulary.rows);
      const built = new SequenceClassifier(device(), c, SEEDS, { keptVocabulary: vocabulary.rows });
      expect([...built.keptVocabulary!]).toEqual([...vocabulary.rows]);
      const expected = after.namedParameters();
      for (const [i, [name, t]] of built.namedParameters().entries()) {
        expect(t.shape, name).toEqual(expected[i][1].shape);
        const [a, b] = [(await t.toArray()) as Float32Array, (await expected[i][1].toArray()) as Float32Array];
        expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer)), `hidden ${c.hiddenSize}: ${name}`).toBe(true);
      }
      after.release();
      built.release();
    }
    expect(() => new SequenceClassifier(device(), config, [1], { keptVocabulary: Int32Array.of(4, 600) })).toThrow(/row 600 to keep is outside the table's 500 rows/);
  });

  it('refuses rows out of order, repeated or outside the table, once kept refuses again, and cannot be saved', async () => {
    const model = new SequenceClassifier(device(), config, [1]);
    expect(() => model.keepVocabulary(Int32Array.of(3, 2))).toThrow(/ascend without repeats, got 3 then 2/);
    expect(() => model.keepVocabulary(Int32Array.of(2, 2))).toThrow(/ascend without repeats/);
    expect(() => model.keepVocabulary(Int32Array.of(1, 500))).toThrow(/row 500 to keep is outside the table's 500 rows/);
    expect(() => model.keepVocabulary(new Int32Array(0))).toThrow(/no row to keep/);
    model.keepVocabulary(Int32Array.of(1, 2));
    expect(() => model.keepVocabulary(Int32Array.of(1))).toThrow(/already restricted/);
    await expect(saveModelWeights(model, '/tmp/never-written.safetensors')).rejects.toThrow(/keeps 2 rows of its token embedding/);
    model.release();
  });
});

describe('withPlaceholderWeights', () => {
  it('builds zero weights without drawing: a model built after one draws what it would have drawn first', async () => {
    const placeholder = withPlaceholderWeights(() => new SequenceClassifier(device(), config, [9]));
    for (const [name, t] of placeholder.namedParameters()) expect(((await t.toArray()) as Float32Array).every((v) => v === 0), name).toBe(true);
    // The slot random streams are per model (seeded), so what matters is that the scope ends: the next model draws.
    const drawn = new SequenceClassifier(device(), config, [9]);
    const table = (await drawn.wordEmbeddings.table.toArray()) as Float32Array;
    expect(table.some((v) => v !== 0)).toBe(true);
    placeholder.release();
    drawn.release();
  });
});
