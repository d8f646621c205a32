/**
 * The ranks other than 0 in a data-parallel search (`webtrainer launch -- sweep`): rank 0 alone owns the study; it
 * samples each trial and announces each fused group (its trials' numbers, values and arguments) to the others, which
 * build the same group and train it with rank 0, data-parallel (the TrainingGroup keeps them in step: rank 0's
 * parameters, evaluations, stops and refills). At the end rank 0 announces the best run, which every rank returns.
 */
import type { Collective } from '../distributed/collective.js';
import type { Device } from '../gpu/device.js';
import { AdamW } from '../nn/adamw.js';
import type { ModelConfig } from '../nn/config.js';
import type { TrainableModel } from '../nn/trainable-model.js';
import type { Trial } from '../search/trial.js';
import type { Batch, EncodedExample } from './data/collator.js';
import type { SlotRequest } from './fused-runner.js';
import { shrinkModel } from './shrink-model.js';
import type { ModelInit } from './trainer.js';
import type { TrainerCallback } from './trainer-callback.js';
import { optimizerSettings, type TrainingArguments } from './training-arguments.js';
import { TrainingGroup, type ComputeMetrics, type SlotRefill, type SlotRefillConfig } from './training-group.js';

/** A trial of a group, as rank 0 announces it. */
export interface MemberConfig {
  trialNumber: number;
  params: Record<string, unknown>;
  args: TrainingArguments;
  hiddenDropout?: number;
  attentionDropout?: number;
  model: Partial<ModelConfig>;
}

export type FollowerMessage =
  | { type: 'group'; members: MemberConfig[] }
  | { type: 'done'; result: unknown; error: string | null };

/** Rank 0's search failed (or was interrupted): it says why and sets the exit code; this rank only stops. */
export class LeaderFailed extends Error {
  override name = 'LeaderFailed';
  constructor(reason: string) {
    super(`rank 0: ${reason}`);
  }
}

export function memberConfig(request: SlotRequest): MemberConfig {
  const { trial, args, hiddenDropout, attentionDropout, model } = request;
  return { trialNumber: trial.number, params: { ...trial.params }, args, hiddenDropout, attentionDropout, model: { ...(model ?? {}) } };
}

/**
 * What `modelInit` gets for a trial on a rank other than 0: its number and values (the study is rank 0's, so the
 * suggest methods are not there).
 */
function announcedTrial(config: { trialNumber?: number; params?: Record<string, unknown> }): Trial {
  return { number: config.trialNumber ?? -1, params: config.params ?? {} } as unknown as Trial;
}

/** What building a fused group needs besides its trials: the device, the data and how to collate and score it. */
export type GroupSource = Pick<FollowSearchOptions, 'device' | 'datasets' | 'padId' | 'dataCollator' | 'computeMetrics'>;

/**
 * The TrainingGroup options every rank's group of these trials shares (rank 0's FusedRunner and the followers):
 * the model, the data at the trials' sequence length, collation, metrics, and each slot's arguments, dropout and trial.
 */
export function fusedGroupOptions(o: GroupSource, model: TrainableModel, optimizer: AdamW, members: readonly MemberConfig[]) {
  const config = model.config;
  const data = o.datasets(members[0].args.maxSeqLength);
  return {
    device: o.device,
    model,
    optimizer,
    slotArgs: members.map((m) => m.args),
    trainExamples: data.train,
    evalExamples: data.eval,
    padId: o.padId,
    dataCollator: o.dataCollator,
    computeMetrics: o.computeMetrics,
    hiddenDropout: members.map((m) => m.hiddenDropout ?? config.hiddenDropoutProb),
    attentionDropout: members.map((m) => m.attentionDropout ?? config.attentionDropoutProb),
    trialNumbers: members.map((m) => m.trialNumber),
  };
}

export interface FollowSearchOptions {
  device: Device;
  collective: Collective;
  modelInit: ModelInit;
  datasets: (maxSeqLength: number) => { train: readonly EncodedExample[]; eval: readonly EncodedExample[] };
  padId: number;
  computeMetrics?: ComputeMetrics;
  callbacks?: TrainerCallback[];
  dataCollator?: (examples: EncodedExample[]) => Batch;
}

/** Trains every group rank 0 announces until it announces the end; returns what rank 0 returned (or throws its error). */
export async function followSearch(o: FollowSearchOptions): Promise<unknown> {
  for (;;) {
    const message = await o.collective.broadcastObject<FollowerMessage | null>(null, 0);
    if (!message) throw new Error('data parallel search: rank 0 sent nothing');
    if (message.type === 'done') {
      if (message.error !== null) throw new LeaderFailed(message.error);
      return message.result;
    }
    await followGroup(o, message.members);
  }
}

async function followGroup(o: FollowSearchOptions, first: MemberConfig[]): Promise<void> {
  const members = [...first];
  const settings = members[0].model;
  const build = (seeds: number[], trials: Trial[]): TrainableModel => o.modelInit(o.device, seeds, { trials, model: { ...settings } });
  let model: TrainableModel = build(members.map((m) => m.args.seed), members.map(announcedTrial));
  let optimizer = new AdamW(o.device, model.namedParameters(), members.map((m) => optimizerSettings(m.args)));
  let group: TrainingGroup | null = null;
  try {
    group = new TrainingGroup({
      ...fusedGroupOptions(o, model, optimizer, members),
      collective: o.collective,
      callbacks: o.callbacks,
      buildRefill: (refill: SlotRefillConfig, slot: number): SlotRefill => {
        members[slot] = { trialNumber: refill.trialNumber ?? -1, params: refill.params ?? {}, args: refill.args, hiddenDropout: refill.hiddenDropout, attentionDropout: refill.attentionDropout, model: settings };
        const fresh = build([refill.args.seed], [announcedTrial(refill)]);
        return { ...refill, weights: fresh.namedParameters().map(([, t]) => t), release: () => fresh.release() };
      },
      onSlotEnd: () => {},
      shrink: async (keepSlots) => {
        const kept = keepSlots.map((slot) => members[slot]);
        ({ model, optimizer } = shrinkModel(o.device, (seeds) => build(seeds, kept.map(announcedTrial)), model, optimizer, keepSlots, kept.map((m) => m.args)));
        members.splice(0, members.length, ...kept);
        return { model, optimizer };
      },
    });
    await group.train();
  } finally {
    group?.release();
    optimizer.release();
    model.release();
  }
}
