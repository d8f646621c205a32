/**
 * `webtrainer train`: trains a SequenceClassifier from a TSV/CSV/JSONL file (default: the bundled SST-2 sample),
 * evaluates it, and saves model.safetensors, config.json and labels.json to the output directory.
 * Any TrainingArguments key can be given as --kebab-case; model config keys as --model-kebab-case.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultModelConfig, validateModelConfig, type ModelConfig } from '../nn/config.js';
import { SequenceClassifier } from '../nn/sequence-classifier.js';
import { readDataset, type TextDataset } from '../train/data/read-dataset.js';
import { classificationMetrics } from '../train/metrics.js';
import { BertTokenizer } from '../train/tokenizer/bert-tokenizer.js';
import { Trainer } from '../train/trainer.js';
import { saveModelWeights } from '../train/training-group.js';
import { camelCase, trainingArgumentsFrom, type TrainingArguments } from '../train/training-arguments.js';
import { parseOptions } from './args.js';
import { bundled } from './package-files.js';
import { formatTable, ProgressBar } from './progress.js';

/**
 * The CLI's defaults where Hugging Face's assume fine-tuning a pretrained model: a small model trained from
 * scratch wants a larger learning rate and batch, warmup, and an evaluation each epoch. Any can be overridden.
 */
export const FROM_SCRATCH_DEFAULTS: Partial<TrainingArguments> = {
  learningRate: 1e-3,
  perDeviceTrainBatchSize: 32,
  perDeviceEvalBatchSize: 64,
  numTrainEpochs: 3,
  warmupRatio: 0.1,
  weightDecay: 0.01,
  evalStrategy: 'epoch',
  saveStrategy: 'no',
  loggingSteps: 10,
  outputDir: 'webtrainer-output',
};

export interface TrainJob {
  train: TextDataset;
  eval: TextDataset | null;
  tokenizer: BertTokenizer;
  model: ModelConfig;
  args: TrainingArguments;
}

const DATA_OPTIONS = ['train', 'eval', 'text-column', 'label-column', 'vocab'];

/** Reads the command line into a job: data, tokenizer, model config and training arguments. */
export async function trainJobFrom(values: Map<string, string>): Promise<TrainJob> {
  const modelOverrides: Record<string, number> = {};
  const trainingValues: Record<string, unknown> = { ...FROM_SCRATCH_DEFAULTS };
  for (const [key, value] of values) {
    if (DATA_OPTIONS.includes(key)) continue;
    if (key.startsWith('model-')) {
      const name = camelCase(key.slice('model-'.length));
      if (!(name in defaultModelConfig)) throw new Error(`--${key}: unknown model setting '${name}' (known: ${Object.keys(defaultModelConfig).join(', ')})`);
      const number = Number(value);
      if (value.trim() === '' || Number.isNaN(number)) throw new Error(`--${key}: expected a number, got '${value}'`);
      modelOverrides[name] = number;
    } else {
      trainingValues[key] = value;
    }
  }
  const args = trainingArgumentsFrom(trainingValues);
  const columns = { textColumn: values.get('text-column'), labelColumn: values.get('label-column'), labels: 'auto' as const };
  const trainPath = values.get('train') ?? bundled.sst2Train();
  const evalPath = values.get('eval') ?? (values.has('train') ? undefined : bundled.sst2Dev());
  const train = await readDataset(trainPath, columns);
  const evalSet = evalPath ? await readDataset(evalPath, { ...columns, labels: train.labelMap }) : null;
  const tokenizer = await BertTokenizer.fromVocabFile(values.get('vocab') ?? bundled.vocab());
  const model = validateModelConfig({
    ...defaultModelConfig,
    vocabSize: tokenizer.vocab.size,
    numLabels: train.labelMap.size,
    maxPositionEmbeddings: Math.max(defaultModelConfig.maxPositionEmbeddings, args.maxSeqLength),
    ...modelOverrides,
  });
  return { train, eval: evalSet, tokenizer, model, args };
}

export async function runTrain(argv: string[]): Promise<number> {
  const { flags, values } = parseOptions(argv, ['json']);
  const json = flags.has('json');
  const job = await trainJobFrom(values);
  const say = (text: string) => (json ? process.stderr : process.stdout).write(text);
  say(`training on ${job.train.path} (${job.train.examples.length} examples, ${job.model.numLabels} labels)` + (job.eval ? `, evaluating on ${job.eval.path}\n` : '\n'));
  let progress: ProgressBar | null = null;
  const trainer = new Trainer({
    modelInit: (device, seeds) => new SequenceClassifier(device, job.model, seeds),
    args: job.args,
    trainDataset: job.train,
    evalDataset: job.eval ?? undefined,
    tokenizer: job.tokenizer,
    computeMetrics: ({ predictions, labelIds, numLabels }) => classificationMetrics(predictions, labelIds, numLabels),
    callbacks: [
      {
        onStepEnd: ({ globalStep, epoch }) => progress?.update(globalStep, epoch),
        onLog: (_e, logs) => {
          if (progress) progress.loss = logs.loss;
        },
        onEvaluate: ({ globalStep }, metrics) => {
          progress?.finish();
          say(`evaluation at step ${globalStep}:\n${formatTable(Object.entries(metrics))}`);
        },
      },
    ],
  });
  const model = await trainer.getModel();
  const steps = job.args.maxSteps > 0 ? job.args.maxSteps : Math.ceil(job.args.numTrainEpochs * Math.ceil(job.train.examples.length / job.args.perDeviceTrainBatchSize));
  progress = new ProgressBar(steps, job.args.perDeviceTrainBatchSize);
  const output = await trainer.train();
  progress.finish();
  const evalMetrics = job.eval ? await trainer.evaluate() : {};
  const metrics = { ...output.metrics, ...evalMetrics };
  await saveModel(job.args.outputDir, model, job.train);
  trainer.release();
  if (json) process.stdout.write(JSON.stringify(metrics) + '\n');
  else say(`final metrics (model saved in ${job.args.outputDir}):\n${formatTable(Object.entries(metrics))}`);
  return 0;
}

/** model.safetensors + config.json + labels.json (the label mapping the model was trained with). */
export async function saveModel(dir: string, model: SequenceClassifier, train: TextDataset): Promise<void> {
  await mkdir(dir, { recursive: true });
  await saveModelWeights(model, join(dir, 'model.safetensors'));
  await writeFile(join(dir, 'config.json'), JSON.stringify(model.config, null, 2) + '\n');
  await writeFile(join(dir, 'labels.json'), JSON.stringify(train.labelMap.toJSON(), null, 2) + '\n');
}
