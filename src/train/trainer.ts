/**
 * `Trainer`, the way Hugging Face's works: give it a model (or `modelInit`), `TrainingArguments`, datasets and
 * optionally `computeMetrics` and callbacks; call `train()`, `evaluate()`, `predict()`. It tokenizes text
 * datasets once, builds AdamW with HF's decay rules, and runs a TrainingGroup of one slot.
 */
import { AdamW } from '../nn/adamw.js';
import type { TrainableModel } from '../nn/trainable-model.js';
import { createDevice, type Device } from '../gpu/device.js';
import type { Batch, EncodedExample } from './data/collator.js';
import type { TextDataset } from './data/read-dataset.js';
import type { BertTokenizer } from './tokenizer/bert-tokenizer.js';
import type { TrainerCallback } from './trainer-callback.js';
import { optimizerSettings, trainingArgumentsFrom, validateTrainingArguments, type TrainingArguments, type TrainingArgumentsInput } from './training-arguments.js';
import type { Collective } from '../distributed/collective.js';
import { launchedCollective } from './launched-collective.js';
import { TrainingDivergedError, TrainingGroup, type ComputeMetrics, type TrainOutput } from './training-group.js';
import type { ModelConfig } from '../nn/config.js';
import type { Direction } from '../search/frozen-trial.js';
import type { Trial } from '../search/trial.js';
import type { BestRun, HyperparameterSearchOptions } from './hyperparameter-search.js';

export type DatasetInput = TextDataset | readonly EncodedExample[];

/**
 * What a search tells `modelInit` (HF's `model_init(trial)`): the group's trials, one per slot, and the model
 * settings they sampled (`hidden_size`, `num_layers`, … as ModelConfig fields). Every trial of a group has the same
 * model settings (they set shapes, so trials that differ train in separate groups); per-slot dropout is applied by
 * the search itself. The model built must have these settings in its `config`, or the trials fail, naming the
 * setting (a trial's hyperparameters are the values it trained with).
 */
export interface ModelInitContext {
  trials: Trial[];
  model: Partial<ModelConfig>;
  /**
   * The token ids the search's data reaches, ascending, when the group trains on them alone (fused-runner.ts): a
   * model may build its token embedding with only these rows (SequenceClassifier's `keptVocabulary`); one that does
   * not is made to keep them after it is built (`keepVocabulary`), which costs drawing the whole table first.
   */
  vocabulary?: Int32Array;
}

/**
 * Builds a model for the given slot seeds (one per fused trial; one for plain training). In a search, `context`
 * holds the trials, their model settings and the reached vocabulary:
 * `new SequenceClassifier(device, { ...config, ...context?.model }, seeds, { keptVocabulary: context?.vocabulary })`.
 */
export type ModelInit = (device: Device, seeds: number[], context?: ModelInitContext) => TrainableModel;

export interface TrainerOptions {
  model?: TrainableModel;
  modelInit?: ModelInit;
  /** Hugging Face's TrainingArguments, snake_case (`learning_rate`, `num_train_epochs`, …). */
  args?: TrainingArgumentsInput;
  trainDataset?: DatasetInput;
  evalDataset?: DatasetInput;
  /** Needed for text datasets. */
  tokenizer?: BertTokenizer;
  dataCollator?: (examples: EncodedExample[]) => Batch;
  computeMetrics?: ComputeMetrics;
  callbacks?: TrainerCallback[];
  device?: Device;
  /**
   * The group of processes this one trains in, data-parallel (one rank each; see data-parallel.ts). Default: the
   * group the launch variables describe (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, …: set by `webtrainer launch`,
   * torchrun or any launcher), or none when they are unset.
   */
  collective?: Collective;
}

export class Trainer {
  readonly args: TrainingArguments;
  readonly options: TrainerOptions;
  private device: Device | null;
  private model: TrainableModel | null;
  private group: TrainingGroup | null = null;
  private optimizer: AdamW | null = null;
  private readonly encoded = new Map<DatasetInput, Map<number, EncodedExample[]>>();

  constructor(options: TrainerOptions) {
    if (!options.model && !options.modelInit) throw new Error('Trainer: pass a model or a modelInit');
    this.options = options;
    this.args = validateTrainingArguments(trainingArgumentsFrom(options.args));
    this.device = options.device ?? options.model?.parameters()[0]?.device ?? null;
    this.model = options.model ?? null;
    if (this.model && this.model.slots !== 1) throw new Error(`Trainer: the model has ${this.model.slots} slots; use TrainingGroup for fused trials`);
  }

  /**
   * Trains the model. Throws a TrainingDivergedError (naming the step and the value) when the loss or the weights
   * stop being finite: training stops there, and no checkpoint is written from then on.
   */
  async train(options: { resumeFromCheckpoint?: string } = {}): Promise<TrainOutput> {
    const group = await this.trainingGroup();
    const [output] = await group.train(options);
    if (output.diverged) throw new TrainingDivergedError(output.diverged);
    return output;
  }

  async evaluate(evalDataset = this.options.evalDataset): Promise<Record<string, number>> {
    if (!evalDataset) throw new Error('Trainer.evaluate: no evalDataset');
    const group = await this.trainingGroup();
    const [metrics] = await group.evaluate(this.encode(evalDataset, 'evalDataset'));
    return metrics;
  }

  /** HF's PredictionOutput: predictions are the logits, labelIds the true classes, metrics with a test_ prefix. */
  async predict(dataset: DatasetInput): Promise<{ predictions: Float32Array; predictedClasses: Int32Array; labelIds: Int32Array; metrics: Record<string, number> }> {
    const group = await this.trainingGroup();
    const examples = this.encode(dataset, 'dataset');
    const [result] = await group.predict(examples);
    const metrics: Record<string, number> = { test_loss: result.loss };
    for (const [k, v] of Object.entries(result.metrics)) metrics[`test_${k}`] = v;
    return { predictions: result.logits, predictedClasses: result.predictions, labelIds: Int32Array.from(examples, (e) => e.label), metrics };
  }

  /** The trained model (built on first use). */
  async getModel(): Promise<TrainableModel> {
    await this.trainingGroup();
    return this.model!;
  }

  /**
   * Hugging Face's hyperparameter_search: runs `nTrials` trainings from `modelInit`, sampled from `hpSpace`, and
   * returns the best run, or with `directions` (several objectives) the Pareto front. Fused trials share one set of
   * kernels (`slots`). The integration lives beside the Trainer (hyperparameter-search.ts), loaded on demand.
   */
  async hyperparameterSearch(options: HyperparameterSearchOptions & { directions: Direction[] }): Promise<BestRun[]>;
  async hyperparameterSearch(options?: HyperparameterSearchOptions & { directions?: undefined }): Promise<BestRun>;
  async hyperparameterSearch(options: HyperparameterSearchOptions): Promise<BestRun | BestRun[]>;
  async hyperparameterSearch(options: HyperparameterSearchOptions = {}): Promise<BestRun | BestRun[]> {
    const { hyperparameterSearch } = await import('./hyperparameter-search.js');
    return hyperparameterSearch(this, options);
  }

  /** The data-parallel group this process trains in, or null when it trains alone. */
  async getCollective(): Promise<Collective | null> {
    const collective = this.options.collective ?? (await launchedCollective());
    return collective && collective.worldSize > 1 ? collective : null;
  }

  /** The device, created on first use. */
  async getDevice(): Promise<Device> {
    this.device ??= await createDevice();
    return this.device;
  }

  /**
   * Tokenized datasets, truncated to `maxSeqLength` (default: the Trainer's max_seq_length; a search trial may set
   * its own), tokenized once per length and cached. Datasets given already encoded are returned as they are.
   */
  encodedDatasets(maxSeqLength = this.args.maxSeqLength): { train?: EncodedExample[]; eval?: EncodedExample[] } {
    return {
      train: this.options.trainDataset ? this.encode(this.options.trainDataset, 'trainDataset', maxSeqLength) : undefined,
      eval: this.options.evalDataset ? this.encode(this.options.evalDataset, 'evalDataset', maxSeqLength) : undefined,
    };
  }

  get state() {
    return this.group?.state ?? null;
  }

  /** Returns GPU memory: the optimizer state and, if the Trainer built it, the model. */
  release(): void {
    this.group?.release();
    this.optimizer?.release();
    if (!this.options.model) this.model?.release();
    this.group = null;
  }

  private async trainingGroup(): Promise<TrainingGroup> {
    if (this.group) return this.group;
    this.device ??= await createDevice();
    this.model ??= this.options.modelInit!(this.device, [this.args.seed]);
    const a = this.args;
    this.optimizer = new AdamW(this.device, this.model.namedParameters(), [optimizerSettings(a)]);
    const collective = await this.getCollective();
    this.group = new TrainingGroup({
      ...(collective ? { collective } : {}),
      device: this.device,
      model: this.model,
      optimizer: this.optimizer,
      slotArgs: [a],
      trainExamples: this.options.trainDataset ? this.encode(this.options.trainDataset, 'trainDataset') : undefined,
      evalExamples: this.options.evalDataset ? this.encode(this.options.evalDataset, 'evalDataset') : undefined,
      padId: this.options.tokenizer?.padId ?? 0,
      dataCollator: this.options.dataCollator,
      computeMetrics: this.options.computeMetrics,
      callbacks: this.options.callbacks,
    });
    return this.group;
  }

  private encode(dataset: DatasetInput, what: string, maxSeqLength = this.args.maxSeqLength): EncodedExample[] {
    if (Array.isArray(dataset)) return dataset as EncodedExample[];
    const byLength = this.encoded.get(dataset) ?? new Map<number, EncodedExample[]>();
    this.encoded.set(dataset, byLength);
    let encoded = byLength.get(maxSeqLength);
    if (encoded) return encoded;
    const text = dataset as TextDataset;
    const tokenizer = this.options.tokenizer;
    if (!tokenizer) throw new Error(`Trainer: ${what} is text (${text.path}); pass a tokenizer`);
    encoded = encodeDataset(text, tokenizer, maxSeqLength);
    byLength.set(maxSeqLength, encoded);
    return encoded;
  }
}

export function encodeDataset(dataset: TextDataset, tokenizer: BertTokenizer, maxLength: number): EncodedExample[] {
  return dataset.examples.map((example) => {
    const { inputIds, attentionMask } = tokenizer.encode(example.text, { maxLength });
    return { inputIds, attentionMask, label: example.label };
  });
}
