/**
 * `webtrainer bench sweep`: what fusing K trials into one set of kernels buys a sweep. The same trials (the same
 * random sampler seed, so the same learning rates in the same order) of a small classifier on the bundled SST-2
 * sample, with ASHA pruning, run with K = 1, 2, 4, 8 (and 16 in the full run) slots on one device, one K after
 * another in one process; a freed slot (finished or pruned) takes the next trial at once (slot refill).
 *
 * Per K: trials, pruned, wall seconds, trials per hour, the best objective (eval accuracy), and the device's
 * allocated bytes (the buffer pool's, free buffers given back) before the search and after the trainer was released:
 * a sweep must give back what it took. The peer each K is
 * measured against is K = 1 in the same run: `speedup` is trialsPerHour(K) / trialsPerHour(1). Before each K's
 * first search, an untimed warm-up (max(4, K) trials at that K) compiles its shaders and grows the scratch
 * textures, so no K pays one-time costs of the process that a long sweep spreads over hours.
 *
 * The full run times every K in 3 rounds (the quick run in 1), every other round in the reverse order, and reports
 * each K's median: on a shared machine the load drifts over a run, and K = 1, always first, took it alone.
 */
import { createDevice } from '../src/gpu/device.js';
import { SequenceClassifier } from '../src/nn/sequence-classifier.js';
import { defaultModelConfig, type ModelConfig } from '../src/nn/config.js';
import { SuccessiveHalvingPruner } from '../src/search/pruners/successive-halving.js';
import { RandomSampler } from '../src/search/samplers/random.js';
import { readDataset } from '../src/train/data/read-dataset.js';
import { classificationMetrics } from '../src/train/metrics.js';
import { BertTokenizer } from '../src/train/tokenizer/bert-tokenizer.js';
import { Trainer } from '../src/train/trainer.js';
import { bundled } from '../src/cli/package-files.js';

export interface SweepBenchResult {
  k: number;
  trials: number;
  pruned: number;
  /** The median of the rounds' seconds. */
  seconds: number;
  /** Each round's seconds, in round order. */
  roundSeconds: number[];
  trialsPerHour: number;
  /** The best eval_accuracy among complete trials. */
  bestObjective: number | null;
  /** Device bytes allocated (pool trimmed) before the first round's search and after the last round's trainer was released. */
  bytesBefore: number;
  bytesAfter: number;
  /** trialsPerHour against K = 1's in the same run. */
  speedup: number | null;
  /** The learning rates tried, in trial order (the same for every K: the same sampler seed). */
  learningRates: number[];
}

export interface SweepBenchReport {
  device: string;
  setup: { trainExamples: number; evalExamples: number; trials: number; maxSteps: number; evalSteps: number; batchSize: number; maxSeqLength: number; model: Partial<ModelConfig>; pruner: string; rounds: number };
  results: SweepBenchResult[];
}

export async function benchSweep(options: { quick?: boolean; json?: boolean; ks?: number[]; rounds?: number } = {}): Promise<SweepBenchReport> {
  const quick = options.quick ?? false;
  const log = (line: string) => {
    if (!options.json) process.stderr.write(`${line}\n`);
  };
  const ks = options.ks ?? (quick ? [1, 2, 4, 8] : [1, 2, 4, 8, 16]);
  const setup = {
    trainExamples: quick ? 128 : 1024,
    evalExamples: quick ? 32 : 256,
    trials: quick ? 8 : 32,
    maxSteps: quick ? 8 : 48,
    evalSteps: quick ? 4 : 12,
    batchSize: 16,
    maxSeqLength: quick ? 32 : 64,
    model: { hiddenSize: quick ? 16 : 32, numLayers: 1, numHeads: 2, intermediateSize: quick ? 32 : 64 },
    pruner: '',
    rounds: options.rounds ?? (quick ? 1 : 3),
  };
  if (!Number.isInteger(setup.rounds) || setup.rounds < 1) throw new Error(`bench sweep: rounds must be an integer ≥ 1, got ${setup.rounds}`);
  const tokenizer = await BertTokenizer.fromVocabFile(bundled.vocab());
  const trainSet = await readDataset(bundled.sst2Train());
  const evalSet = await readDataset(bundled.sst2Dev(), { labels: trainSet.labelMap });
  const train = { ...trainSet, examples: trainSet.examples.slice(0, setup.trainExamples) };
  const evaluation = { ...evalSet, examples: evalSet.examples.slice(0, setup.evalExamples) };
  const model: ModelConfig = {
    ...defaultModelConfig, ...setup.model, vocabSize: tokenizer.vocab.size, numLabels: trainSet.labelMap.size, maxPositionEmbeddings: setup.maxSeqLength,
  };
  const device = await createDevice();
  device.poisonAllocations = false;
  const name = `${device.info.description} ${device.info.device}`.trim();
  log(`bench sweep on ${name}: ${setup.trials} trials × ${setup.maxSteps} steps (ASHA), K = ${ks.join(', ')}, ${setup.rounds} round${setup.rounds === 1 ? '' : 's'}`);
  const results: SweepBenchResult[] = [];
  setup.pruner = `SuccessiveHalving(minResource ${setup.evalSteps}, reductionFactor 2)`;
  const trainerFor = () =>
    new Trainer({
      device,
      modelInit: (d, seeds, context) => new SequenceClassifier(d, model, seeds, { keptVocabulary: context?.vocabulary }),
      args: {
        per_device_train_batch_size: setup.batchSize, per_device_eval_batch_size: 64, max_steps: setup.maxSteps, max_seq_length: setup.maxSeqLength,
        eval_strategy: 'steps', eval_steps: setup.evalSteps, logging_steps: 1000, save_strategy: 'no', seed: 1,
      },
      trainDataset: train,
      evalDataset: evaluation,
      tokenizer,
      computeMetrics: ({ predictions, labelIds, numLabels }) => classificationMetrics(predictions, labelIds, numLabels),
    });
  const search = (trainer: Trainer, k: number, trials: number, ended: { state: string; value?: number; lr: number; number: number }[] = []) =>
    trainer.hyperparameterSearch({
      nTrials: trials,
      slots: k,
      direction: 'maximize',
      computeObjective: (m) => m.eval_accuracy,
      hpSpace: (trial) => ({ learning_rate: trial.suggestFloat('learning_rate', 1e-4, 3e-2, { log: true }) }),
      sampler: new RandomSampler({ seed: 7 }),
      pruner: new SuccessiveHalvingPruner({ minResource: setup.evalSteps, reductionFactor: 2 }),
      onTrialEnd: (_s, t) => void ended.push({ state: t.state, value: t.values?.[0], lr: t.params.learning_rate as number, number: t.number }),
    });
  const timedSearch = async (k: number): Promise<SweepBenchResult> => {
    device.trimPool();
    const bytesBefore = device.poolStats().bytesLive;
    const trainer = trainerFor();
    const ended: { state: string; value?: number; lr: number; number: number }[] = [];
    const started = performance.now();
    await search(trainer, k, setup.trials, ended);
    const seconds = (performance.now() - started) / 1000;
    trainer.release();
    await device.sync();
    device.trimPool();
    const complete = ended.filter((t) => t.state === 'COMPLETE' && t.value !== undefined).map((t) => t.value!);
    return {
      k,
      trials: ended.length,
      pruned: ended.filter((t) => t.state === 'PRUNED').length,
      seconds: round(seconds, 3),
      roundSeconds: [round(seconds, 3)],
      trialsPerHour: round((ended.length / seconds) * 3600, 1),
      bestObjective: complete.length ? Math.max(...complete) : null,
      bytesBefore,
      bytesAfter: device.poolStats().bytesLive,
      speedup: null,
      learningRates: [...ended].sort((a, b) => a.number - b.number).map((t) => t.lr),
    };
  };
  const rounds = new Map<number, SweepBenchResult[]>(ks.map((k) => [k, []]));
  try {
    for (let pass = 0; pass < setup.rounds; pass++) {
      for (const k of pass % 2 === 0 ? ks : [...ks].reverse()) {
        if (pass === 0) {
          // Untimed: a few trials at this K first compile the shaders of most of its batch and evaluation shapes and
          // grow the scratch textures to its operands: one-time costs of a process, which a long sweep does not see.
          const warmup = trainerFor();
          await search(warmup, k, Math.min(Math.max(4, k), setup.trials));
          warmup.release();
        }
        const result = await timedSearch(k);
        rounds.get(k)!.push(result);
        log(`round ${pass + 1}, K=${k}: ${result.trials} trials (${result.pruned} pruned) in ${result.seconds} s, best ${result.bestObjective?.toFixed(4) ?? '—'}, bytes ${result.bytesBefore} → ${result.bytesAfter}`);
      }
    }
    for (const k of ks) {
      const all = rounds.get(k)!;
      const seconds = median(all.map((r) => r.seconds));
      const result: SweepBenchResult = {
        ...all[0],
        seconds,
        roundSeconds: all.flatMap((r) => r.roundSeconds),
        trialsPerHour: round((all[0].trials / seconds) * 3600, 1),
        bytesAfter: all[all.length - 1].bytesAfter,
      };
      const base = results.find((r) => r.k === 1);
      result.speedup = base ? round(result.trialsPerHour / base.trialsPerHour, 2) : k === 1 ? 1 : null;
      results.push(result);
      log(`K=${k}: ${result.trials} trials (${result.pruned} pruned), median ${result.seconds} s of ${result.roundSeconds.join(', ')}, ${result.trialsPerHour} trials/h` +
        `${result.speedup === null ? '' : ` (${result.speedup}× K=1)`}, best ${result.bestObjective?.toFixed(4) ?? '—'}, bytes ${result.bytesBefore} → ${result.bytesAfter}`);
    }
  } finally {
    device.destroy();
  }
  return { device: name, setup, results };
}

export function formatSweepReport(report: SweepBenchReport): string {
  const { rounds } = report.setup;
  const lines = [
    `bench sweep on ${report.device}: ${report.setup.trials} trials × ${report.setup.maxSteps} steps, ${report.setup.pruner}${rounds > 1 ? `; seconds: the median of ${rounds} rounds` : ''}`,
    '   K  trials  pruned   seconds  trials/h  vs K=1   best  bytes before → after',
  ];
  for (const r of report.results) {
    lines.push(`${String(r.k).padStart(4)}  ${String(r.trials).padStart(6)}  ${String(r.pruned).padStart(6)}  ${r.seconds.toFixed(1).padStart(8)}  ${r.trialsPerHour.toFixed(0).padStart(8)}  ${(r.speedup === null ? '—' : `${r.speedup.toFixed(2)}×`).padStart(6)}  ${r.bestObjective === null ? '   —  ' : r.bestObjective.toFixed(4)}  ${r.bytesBefore} → ${r.bytesAfter}`);
  }
  return lines.join('\n') + '\n';
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
