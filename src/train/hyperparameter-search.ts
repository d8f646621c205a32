/**
 * `trainer.hyperparameterSearch(...)` with Hugging Face's semantics (transformers Trainer.hyperparameter_search):
 * requires `modelInit`; default 20 trials; the default objective is eval_loss alone when it is the only metric,
 * else the sum of the other evaluation metrics; default spaces per backend as HF's. The space may be written in
 * Optuna's define-by-run style, as a Ray Tune config or as a W&B sweep config; `slots` trials are fused into one
 * set of kernels at a time (FusedRunner). The space is resolved by the study layer (search/spaces/resolve-space.ts); this file is the Trainer's side of the integration, as HF keeps it beside the Trainer.
 * Heartbeats (heartbeatInterval, gracePeriod, failedTrialCallback: see heartbeat.ts) go to the study: every trial,
 * also one waiting in the FusedRunner's queue for its group, beats from ask to tell, and a resumed or concurrent
 * search fails (and may retry) the trials of a killed process.
 */
import type { ParamValue } from '../search/distributions.js';
import type { Direction, FrozenTrial } from '../search/frozen-trial.js';
import type { HeartbeatOptions } from '../search/heartbeat.js';
import { defaultComputeObjective } from '../search/spaces/hf-defaults.js';
import type { SpaceValue } from '../search/spaces/param-spec.js';
import { resolveSpace, type SpaceOptions } from '../search/spaces/resolve-space.js';
import type { StudyStorage } from '../search/storage/storage.js';
import { createStudy, type Study } from '../search/study.js';
import type { Trial } from '../search/trial.js';
import { FusedRunner } from './fused-runner.js';
import { camelCase, trainingArgumentsFrom, type TrainingArguments } from './training-arguments.js';
import type { Trainer } from './trainer.js';

export interface HyperparameterSearchOptions extends HeartbeatOptions, SpaceOptions {
  nTrials?: number;
  /** Seconds after which no new trial starts. */
  timeout?: number;
  computeObjective?: (metrics: Record<string, number>) => number | number[];
  storage?: string | StudyStorage;
  studyName?: string;
  loadIfExists?: boolean;
  /** Trials trained together in one fused group (one set of kernels). Default 1. */
  slots?: number;
  signal?: AbortSignal;
  /** Called after each trial ends (any state). */
  onTrialEnd?: (study: Study, trial: FrozenTrial) => void;
  /** Called when a trial starts (it is RUNNING in the study from then on, also while it waits for its group). */
  onTrialStart?: (study: Study, trial: Trial) => void;
}

/** HF's BestRun: run_id, objective, hyperparameters, run_summary. */
export interface BestRun {
  runId: string;
  objective: number | number[];
  hyperparameters: Record<string, ParamValue>;
  runSummary?: Record<string, unknown>;
}

/** Keys of a sampled configuration that are model settings, trained per slot. */
const DROPOUT_KEYS: Record<string, 'hiddenDropout' | 'attentionDropout'> = {
  hidden_dropout_prob: 'hiddenDropout',
  hiddenDropoutProb: 'hiddenDropout',
  attention_probs_dropout_prob: 'attentionDropout',
  attention_dropout_prob: 'attentionDropout',
  attentionDropoutProb: 'attentionDropout',
};

/** Splits a sampled configuration into training arguments and per-slot dropout rates. */
export function trialConfiguration(base: TrainingArguments, params: Record<string, SpaceValue>) {
  const overrides: Record<string, unknown> = {};
  const dropout: { hiddenDropout?: number; attentionDropout?: number } = {};
  for (const [key, value] of Object.entries(params)) {
    if (key in DROPOUT_KEYS) dropout[DROPOUT_KEYS[key]] = Number(value);
    else if (camelCase(key) in base) overrides[key] = value;
    else throw new Error(`hyperparameter '${key}' is neither a training argument nor a dropout rate`);
  }
  // Integer-valued arguments sampled as floats (Ray's uniform seed) are rounded, as HF's setattr casting does.
  const args = trainingArgumentsFrom({ ...base, ...overrides });
  for (const key of ['seed', 'perDeviceTrainBatchSize', 'warmupSteps', 'maxSteps'] as const) args[key] = Math.round(args[key]);
  return { args, ...dropout };
}

export async function hyperparameterSearch(trainer: Trainer, options: HyperparameterSearchOptions = {}): Promise<BestRun | BestRun[]> {
  const modelInit = trainer.options.modelInit;
  if (!modelInit) throw new Error('hyperparameterSearch: the Trainer needs a modelInit (as in Hugging Face) so each trial starts fresh');
  const { train, eval: evalSet } = trainer.encodedDatasets();
  if (!train) throw new Error('hyperparameterSearch: the Trainer has no trainDataset');
  if (!evalSet) throw new Error('hyperparameterSearch: the Trainer has no evalDataset (the objective comes from evaluation)');
  const space = resolveSpace(options);
  const directions = options.directions ?? [space.direction];
  const study = createStudy({
    storage: options.storage,
    sampler: space.sampler,
    pruner: space.pruner,
    directions,
    studyName: options.studyName,
    loadIfExists: options.loadIfExists,
    heartbeatInterval: options.heartbeatInterval,
    gracePeriod: options.gracePeriod,
    failedTrialCallback: options.failedTrialCallback,
  });
  const computeObjective = options.computeObjective ?? ((m: Record<string, number>) => defaultComputeObjective(m));
  const slots = options.slots ?? 1;
  if (!Number.isInteger(slots) || slots < 1) throw new Error(`hyperparameterSearch: slots (${slots}) must be a positive integer`);
  const runner = new FusedRunner({
    device: await trainer.getDevice(),
    modelInit,
    train,
    eval: evalSet,
    padId: trainer.options.tokenizer?.padId ?? 0,
    slots,
    computeMetrics: trainer.options.computeMetrics,
    computeObjective,
    callbacks: trainer.options.callbacks, // HF keeps the Trainer's callbacks during a search
    signal: options.signal,
  });
  await study.optimize(
    async (trial) => {
      options.onTrialStart?.(study, trial);
      const params = space.hpSpace(trial);
      const { args, hiddenDropout, attentionDropout } = trialConfiguration(trainer.args, params);
      const result = await runner.run({ trial, args, hiddenDropout, attentionDropout });
      trial.setUserAttr('metrics', result.metrics);
      return result.objective;
    },
    {
      nTrials: space.trialCount ? space.trialCount(options.nTrials ?? 20, study.trials.length) : (options.nTrials ?? 20),
      timeout: options.timeout,
      concurrency: slots,
      signal: options.signal,
      callbacks: [...(space.callbacks ?? []), ...(options.onTrialEnd ? [options.onTrialEnd] : [])],
    },
  );
  const toBestRun = (t: FrozenTrial): BestRun => ({
    runId: String(t.number),
    objective: directions.length === 1 ? t.values![0] : t.values!,
    hyperparameters: t.params,
    runSummary: t.userAttrs,
  });
  if (options.signal?.aborted) throw new Error(`hyperparameterSearch: interrupted; study '${study.studyName}' keeps ${study.trials.length} trials and can be resumed`);
  if (!study.trials.some((t) => t.state === 'COMPLETE')) {
    const reasons = [...new Set(study.trials.map((t) => String(t.userAttrs.fail_reason ?? t.state)))].slice(0, 3);
    throw new Error(`hyperparameterSearch: no trial completed (${study.trials.length} ran: ${reasons.join('; ')})`);
  }
  return directions.length === 1 ? toBestRun(study.bestTrial) : study.bestTrials.map(toBestRun);
}
