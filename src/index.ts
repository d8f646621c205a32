/** webtrainer's public API. */
export { createDevice, Device, packParams, type AdapterSummary, type DeviceOptions, type Dispatch } from './gpu/device.js';
export { GpuError, ShaderCompileError, ShapeError, DeviceLostError } from './gpu/errors.js';
export { Tensor, type DType, type Shape } from './tensor/tensor.js';
export { tensor, zeros, ones, full, type TensorOptions } from './tensor/create.js';
export { apply, backward, noGrad, releaseGraph, type OpDefinition, type BackwardContext } from './tensor/autograd.js';
export { tidy, keep } from './tensor/scope.js';
export { waitQuietly } from './gpu/quiet-wait.js';
export * from './tensor/ops/index.js';

export { defaultModelConfig, validateModelConfig, type ModelConfig } from './nn/config.js';
export { Module } from './nn/module.js';
export { Linear } from './nn/linear.js';
export { Embedding } from './nn/embedding.js';
export { LayerNorm } from './nn/layer-norm.js';
export { Dropout } from './nn/dropout.js';
export { SelfAttention } from './nn/attention.js';
export { EncoderLayer } from './nn/encoder-layer.js';
export { SequenceClassifier } from './nn/sequence-classifier.js';
export type { TrainableModel, TrainableModelConfig } from './nn/trainable-model.js';
export { ForwardContext } from './nn/forward-context.js';
export { uploadBatch, type HostBatch, type ModelInput } from './nn/model-input.js';
export { AdamW } from './nn/adamw.js';
export { scheduleFactor, warmupStepsFor, type ScheduleName } from './nn/schedules.js';

export { BertTokenizer } from './train/tokenizer/bert-tokenizer.js';
export { Vocab } from './train/tokenizer/vocab.js';
export { readDataset, parseDataset, type TextDataset, type TextExample } from './train/data/read-dataset.js';
export { LabelMap } from './train/data/label-map.js';
export { collateEncoded, TextCollator, type Batch, type EncodedExample } from './train/data/collator.js';
export { lengthBucketedBatches } from './train/data/length-buckets.js';
export { readSafetensors, writeSafetensors, validateAgainst } from './train/checkpoint/safetensors.js';
export { accuracy, f1Binary, f1Macro, matthewsCorrelation, classificationMetrics } from './train/metrics.js';
export { trainingArgumentsFrom, defaultTrainingArguments, TrainingArgumentsError, type TrainingArguments } from './train/training-arguments.js';
export { Trainer, type TrainerOptions, type ModelInit, type ModelInitContext } from './train/trainer.js';
export { parseModelSettings, ModelSettingsError } from './train/model-settings.js';
export { TrainingGroup, TrainingDivergedError, type Divergence, type TrainOutput, type EvalPrediction, type ComputeMetrics, type SlotRefill } from './train/training-group.js';
export { chooseSlots, type SlotChoice, type SlotProbe } from './train/slot-probe.js';
export { EarlyStoppingCallback, type TrainerCallback } from './train/trainer-callback.js';
export { hyperparameterSearch, trialHyperparameters, type HyperparameterSearchOptions, type BestRun } from './train/hyperparameter-search.js';

// The study layer, also its own entry (`webtrainer/search`), which loads no GPU code.
export * from './search/index.js';
export {
  initCollective,
  broadcastArrays,
  allReduceArrays,
  readLaunchEnvironment,
  launchVariables,
  LAUNCH_VARIABLES,
  freePort,
  TcpCollective,
  SoloCollective,
  CollectiveError,
  LaunchEnvironmentError,
  type Collective,
  type ReduceOp,
  type InitCollectiveOptions,
  type LaunchEnvironment,
  type CollectiveFailureKind,
} from './distributed/index.js';
