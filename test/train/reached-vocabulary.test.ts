/**
 * The vocabulary a search's data reaches (src/train/data/reached-vocabulary.ts) and the groups that train on it
 * (fused-runner.ts): worked by hand, then a search whose groups keep the reached rows against the same search on
 * the whole table (`keepReachedVocabulary: false`), the second implementation. Without clipping every trial's
 * objective has the same bits; groups that save checkpoints or use a collator of the user's keep the whole table.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Device } from '../../src/gpu/device.js';
import { SequenceClassifier } from '../../src/nn/sequence-classifier.js';
import { GridSampler } from '../../src/search/samplers/grid.js';
import { collateEncoded, type EncodedExample } from '../../src/train/data/collator.js';
import { ReachedVocabulary } from '../../src/train/data/reached-vocabulary.js';
import { Trainer } from '../../src/train/trainer.js';
import { useDevice } from '../helpers/gpu.js';
import { randomInts } from '../helpers/random.js';
import { tinyModelConfig } from '../helpers/tiny-model.js';

const device = useDevice();
const outputDir = mkdtempSync(join(tmpdir(), 'webtrainer-reached-'));
afterAll(() => rmSync(outputDir, { recursive: true, force: true }));

describe('ReachedVocabulary', () => {
  it('collects the ids of every example and the pad id, ascending, and renumbers examples to their places', () => {
    const train = [{ inputIds: [101, 7592, 102], attentionMask: [1, 1, 1], label: 1 }];
    const evaluation = [{ inputIds: [101, 2023, 2023, 102], attentionMask: [1, 1, 1, 1], label: 0 }];
    const vocabulary = new ReachedVocabulary([train, evaluation], [0]);
    expect([...vocabulary.rows]).toEqual([0, 101, 102, 2023, 7592]);
    expect(vocabulary.renumber(evaluation)).toEqual([{ inputIds: [1, 3, 3, 2], attentionMask: [1, 1, 1, 1], label: 0 }]);
    expect(vocabulary.renumber(train)[0].inputIds).toEqual([1, 4, 2]);
    expect(vocabulary.numberOf(0)).toBe(0);
    expect(() => vocabulary.numberOf(5)).toThrow(/token id 5 is not among the 5 ids the data reaches/);
  });
});

describe('a search on the reached vocabulary', () => {
  // A vocabulary of 400 of which the data reaches ids 5 … 29 and [CLS]-like 300 / [SEP]-like 301.
  const config = { ...tinyModelConfig, vocabSize: 400, maxPositionEmbeddings: 8 };
  function examples(count: number, seed: number): EncodedExample[] {
    const ids = randomInts(count * 4, seed, 5, 30);
    return Array.from({ length: count }, (_, i) => ({ inputIds: [300, ...ids.subarray(i * 4, i * 4 + 2 + (i % 3)), 301], attentionMask: new Array(4 + (i % 3)).fill(1), label: i % 2 }));
  }
  const train = examples(12, 1);
  const evalSet = examples(6, 2);
  const grid = { learning_rate: [0.003, 0.01, 0.03], weight_decay: [0, 0.1] };

  async function search(d: Device, options: { keep?: boolean; args?: Record<string, unknown>; dataCollator?: (e: EncodedExample[]) => ReturnType<typeof collateEncoded>; buildKept?: boolean } = {}) {
    const kept: number[] = [];
    const trainer = new Trainer({
      device: d,
      modelInit: (dev, seeds, context) => {
        // buildKept: as the CLI's modelInit, the model is built on the vocabulary it is told; else it is made to keep it.
        if (options.buildKept) {
          kept.push(context?.vocabulary?.length ?? -1);
          return new SequenceClassifier(dev, config, seeds, { keptVocabulary: context?.vocabulary });
        }
        const model = new SequenceClassifier(dev, config, seeds);
        const keepVocabulary = model.keepVocabulary.bind(model);
        model.keepVocabulary = (rows) => (kept.push(rows.length), keepVocabulary(rows));
        return model;
      },
      args: { per_device_train_batch_size: 4, max_steps: 4, eval_strategy: 'steps', eval_steps: 2, save_strategy: 'no', max_grad_norm: 0, seed: 3, output_dir: outputDir, ...options.args },
      trainDataset: train,
      evalDataset: evalSet,
      ...(options.dataCollator ? { dataCollator: options.dataCollator } : {}),
    });
    const values = new Map<string, number>();
    await trainer.hyperparameterSearch({
      nTrials: 6,
      slots: 3,
      keepReachedVocabulary: options.keep,
      hpSpace: (trial) => ({ learning_rate: trial.suggestCategorical('learning_rate', grid.learning_rate), weight_decay: trial.suggestCategorical('weight_decay', grid.weight_decay) }),
      sampler: new GridSampler(grid, { seed: 4 }),
      onTrialEnd: (_s, t) => {
        if (!t.values) throw new Error(String(t.userAttrs.fail_reason));
        values.set(JSON.stringify(t.params), t.values[0]);
      },
    });
    return { values, kept };
  }

  it('reaches every trial\'s objective to the same bits as the whole table, with the reached rows only', async () => {
    const whole = await search(device(), { keep: false });
    const reached = await search(device());
    expect(whole.kept).toEqual([]);
    // The first group's model, each refill's, the evaluation models (one per slot count), shrunk ones: all of them
    // keep the ids the examples use and the pad id 0 (a Trainer without a tokenizer pads with 0).
    const rows = new Set([0, ...[...train, ...evalSet].flatMap((e) => e.inputIds)]).size;
    expect(rows).toBeLessThan(30);
    expect(reached.kept.length).toBeGreaterThanOrEqual(4);
    expect(new Set(reached.kept)).toEqual(new Set([rows]));
    expect(reached.values.size).toBe(6);
    for (const [params, value] of whole.values) expect(reached.values.get(params), params).toBe(value);
    const built = await search(device(), { buildKept: true });
    expect(new Set(built.kept)).toEqual(new Set([rows]));
    for (const [params, value] of whole.values) expect(built.values.get(params), params).toBe(value);
  });

  it('keeps the whole table when the trials save checkpoints or the Trainer has a data collator of its own', async () => {
    const saving = await search(device(), { args: { save_strategy: 'steps', save_steps: 4 } });
    expect(saving.kept).toEqual([]);
    const collating = await search(device(), { dataCollator: (e) => collateEncoded(e, 0) });
    expect(collating.kept).toEqual([]);
  });
});
