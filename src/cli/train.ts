/**
 * `webtrainer train`: trains a SequenceClassifier from a TSV/CSV/JSONL file (default: the bundled SST-2 sample),
 * evaluates it, and saves model.safetensors, config.json and labels.json to the output directory.
 * Any TrainingArguments key can be given as --kebab-case; model settings as --model-kebab-case (`--model-hidden-size`,
 * parsed as a sweep config's `model:` block is: src/train/model-settings.ts).
 * The output directory is checked before training; a loss or weight that stops being finite ends the run with
 * an error and nothing saved; SIGINT, SIGTERM and SIGHUP stop it after the current step, nothing saved.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultModelConfig, validateModelConfig, type ModelConfig } from '../nn/config.js';
import { SequenceClassifier } from '../nn/sequence-classifier.js';
import type { TrainableModel } from '../nn/trainable-model.js';
import { readDataset, type TextDataset } from '../train/data/read-dataset.js';
import { classificationMetrics } from '../train/metrics.js';
import { BertTokenizer } from '../train/tokenizer/bert-tokenizer.js';
import { describeError, ensureDirectory, prepareOutputDirectory, removeIfEmpty } from '../train/checkpoint/files.js';
import { Trainer } from '../train/trainer.js';
import { saveModelWeights, TrainingDivergedError } from '../train/training-group.js';
import { launchedCollective } from '../train/launched-collective.js';
import { ModelSettingsError, parseModelSettings } from '../train/model-settings.js';
import { trainingArgumentsFrom, TrainingArgumentsError, type TrainingArguments } from '../train/training-arguments.js';
import { reportActivity } from './activity.js';
import { parseOptions, UsageError } from './args.js';
import { handleInterrupts } from './interrupt.js';
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

/** How the commands print a warning (the run goes on). */
export function warn(message: string): void {
  process.stderr.write(`webtrainer: warning: ${message}\n`);
}

/**
 * Reads the command line into a job: data, tokenizer, model config and training arguments. An unknown option
 * or a bad value is a UsageError (exit 2); a file that cannot be read or parsed is an Error (exit 1).
 */
export async function trainJobFrom(values: Map<string, string>): Promise<TrainJob> {
  const modelValues: Record<string, string> = {};
  const trainingValues: Record<string, unknown> = { ...FROM_SCRATCH_DEFAULTS };
  for (const [key, value] of values) {
    if (DATA_OPTIONS.includes(key)) continue;
    if (key.startsWith('model-')) modelValues[key.slice('model-'.length)] = value;
    else trainingValues[key] = value;
  }
  // The same parser as a sweep config's `model:` block: `--model-hidden-size` is `hidden_size`.
  const modelOverrides = asUsageError(() => parseModelSettings(modelValues, { label: (key) => `--model-${key}`, onWarning: warn }), ModelSettingsError);
  const args = asUsageError(() => trainingArgumentsFrom(trainingValues), TrainingArgumentsError);
  const columns = { textColumn: values.get('text-column'), labelColumn: values.get('label-column'), labels: 'auto' as const, onWarning: warn };
  const trainPath = values.get('train') ?? bundled.sst2Train();
  const evalPath = values.get('eval') ?? (values.has('train') ? undefined : bundled.sst2Dev());
  const train = await readDataset(trainPath, columns);
  const evalSet = evalPath ? await readDataset(evalPath, { ...columns, labels: train.labelMap }) : null;
  const vocabPath = values.get('vocab') ?? bundled.vocab();
  const tokenizer = await namingPath(vocabPath, () => BertTokenizer.fromVocabFile(vocabPath));
  // The model's numbers come from the command line (or from the data, which cannot make them invalid).
  const model = asUsageError(() => validateModelConfig({
    ...defaultModelConfig,
    vocabSize: tokenizer.vocab.size,
    numLabels: train.labelMap.size,
    maxPositionEmbeddings: Math.max(defaultModelConfig.maxPositionEmbeddings, args.maxSeqLength),
    ...modelOverrides,
  }), Error);
  return { train, eval: evalSet, tokenizer, model, args };
}

/** Runs `read`; a file-system error from it (Node's EISDIR or EACCES name no path) gets `path` in front. */
export async function namingPath<T>(path: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).syscall === undefined) throw error;
    throw new Error(`${path}: cannot read: ${describeError(error)}`, { cause: error });
  }
}

function asUsageError<T>(make: () => T, kind: new (...args: never[]) => Error): T {
  try {
    return make();
  } catch (error) {
    if (error instanceof kind) throw new UsageError(error.message, { cause: error });
    throw error;
  }
}

export async function runTrain(argv: string[]): Promise<number> {
  const { flags, values } = parseOptions(argv, ['json']);
  const json = flags.has('json');
  const interrupt = handleInterrupts((signal) => process.stderr.write(`\n${signal}: stopping after this step (the model will not be saved); again to exit now\n`));
  let outputDir: { path: string; created: boolean } | null = null;
  let saved = false;
  let trainer: Trainer | null = null;
  let progress: ProgressBar | null = null;
  try {
    const job = await trainJobFrom(values);
    // Before any training: a directory that cannot be created or written would otherwise fail (or, for
    // `mkdir -p` on some paths, hang) only once the work is done.
    const path = job.args.outputDir;
    // Under `webtrainer launch`, rank 0 speaks and saves; the other ranks train with it (data parallel).
    const collective = await launchedCollective();
    const leads = (collective?.rank ?? 0) === 0;
    const worldSize = collective?.worldSize ?? 1;
    if (leads) {
      outputDir = { path, ...(await prepareOutputDirectory(path).catch((error: unknown) => {
        throw new Error(`--output-dir: ${(error as Error).message}`, { cause: error });
      })) };
    }
    const sayStream = json ? process.stderr : process.stdout; // --json: stdout holds only the JSON
    const say = (text: string) => void (leads && sayStream.write(text));
    say(`training on ${job.train.path} (${job.train.examples.length} examples, ${job.model.numLabels} labels)` + (job.eval ? `, evaluating on ${job.eval.path}\n` : '\n'));
    const globalBatch = job.args.perDeviceTrainBatchSize * worldSize;
    const steps = job.args.maxSteps > 0 ? job.args.maxSteps : Math.ceil(job.args.numTrainEpochs * Math.ceil(job.train.examples.length / globalBatch));
    if (worldSize > 1) say(`data parallel: ${worldSize} ranks, ${job.args.perDeviceTrainBatchSize} examples each per step (${globalBatch} per step in all)\n`);
    trainer = new Trainer({
      modelInit: (device, seeds) => new SequenceClassifier(device, job.model, seeds),
      args: job.args,
      trainDataset: job.train,
      evalDataset: job.eval ?? undefined,
      tokenizer: job.tokenizer,
      computeMetrics: ({ predictions, labelIds, numLabels }) => classificationMetrics(predictions, labelIds, numLabels),
      callbacks: [
        {
          onStepEnd: ({ globalStep, epoch }) => {
            progress?.update(globalStep, epoch);
            reportActivity({ doing: `training step ${globalStep + 1} of ${steps}` });
            return interrupt.signal ? { shouldTrainingStop: true } : {};
          },
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
    interrupt.check('before training; the model was not saved');
    if (leads) progress = new ProgressBar(steps, globalBatch, sayStream);
    const output = await trainer.train();
    progress?.finish();
    progress = null;
    if (collective) {
      // The other ranks are done: rank 0 evaluates and saves the model they all hold.
      await collective.barrier();
      if (!leads) return 0;
    }
    interrupt.check(`stopped at step ${output.globalStep} of ${steps}; the model was not saved`);
    const evalMetrics = job.eval ? await trainer.evaluate() : {};
    // The last steps' updates are only seen here: NaN logits mean NaN weights.
    if (job.eval && !Number.isFinite(evalMetrics.eval_loss)) {
      throw new TrainingDivergedError({ step: output.globalStep, what: 'eval_loss', value: evalMetrics.eval_loss });
    }
    interrupt.check('stopped after training, before saving; the model was not saved');
    const metrics = { ...output.metrics, ...evalMetrics, ...(worldSize > 1 ? { world_size: worldSize } : {}) };
    await saveModel(path, model, job.train);
    saved = true;
    if (json) process.stdout.write(JSON.stringify(metrics) + '\n');
    else say(`final metrics (model saved in ${path}):\n${formatTable(Object.entries(metrics))}`);
    return 0;
  } catch (error) {
    progress?.finish();
    if (error instanceof TrainingDivergedError) throw new Error(`${error.message}; the model was not saved`, { cause: error });
    throw error;
  } finally {
    interrupt.dispose();
    trainer?.release();
    // A run that saved nothing leaves no empty directory behind.
    if (outputDir?.created && !saved) await removeIfEmpty(outputDir.path);
  }
}

/** model.safetensors + config.json + labels.json (the label mapping the model was trained with). */
export async function saveModel(dir: string, model: TrainableModel, train: TextDataset): Promise<void> {
  await ensureDirectory(dir);
  await saveModelWeights(model, join(dir, 'model.safetensors'));
  await writeFile(join(dir, 'config.json'), JSON.stringify(model.config, null, 2) + '\n');
  await writeFile(join(dir, 'labels.json'), JSON.stringify(train.labelMap.toJSON(), null, 2) + '\n');
}
