/**
 * Slot refill (issue 14): a trial started in a slot another trial freed trains exactly as it would alone, while the
 * slot's neighbour goes on undisturbed; a NaN in one slot changes no bit of the others; in a search, trials of
 * different lengths share a group and reach the objectives they reach alone, and a pruned (ASHA) or finished trial's
 * slot takes the next trial at the very next step.
 *
 * Tolerances: loss curves and evaluation metrics within 1e-4 (relative, expectClose); weights within 1e-4 of a 2e-4
 * scale, as the fused-versus-single test of training-group.test.ts: a refilled slot's batches are padded to the
 * longest sequence of both slots, its single run's to its own, and the summation order of attention's masked keys
 * moves the last bits.
 */
import { describe, expect, it } from 'vitest';
import { AdamW } from '../../src/nn/adamw.js';
import { SequenceClassifier } from '../../src/nn/sequence-classifier.js';
import type { Device } from '../../src/gpu/device.js';
import type { FrozenTrial } from '../../src/search/frozen-trial.js';
import { SuccessiveHalvingPruner } from '../../src/search/pruners/successive-halving.js';
import { GridSampler } from '../../src/search/samplers/grid.js';
import { RandomSampler } from '../../src/search/samplers/random.js';
import { TPESampler } from '../../src/search/samplers/tpe/sampler.js';
import type { EncodedExample } from '../../src/train/data/collator.js';
import { Trainer } from '../../src/train/trainer.js';
import type { TrainerEvent } from '../../src/train/trainer-callback.js';
import { optimizerSettings, trainingArgumentsFrom, type TrainingArguments } from '../../src/train/training-arguments.js';
import { TrainingGroup, type SlotRefill, type TrainOutput } from '../../src/train/training-group.js';
import { expectClose } from '../helpers/compare.js';
import { useDevice } from '../helpers/gpu.js';
import { randomInts } from '../helpers/random.js';
import { tinyModelConfig } from '../helpers/tiny-model.js';

const device = useDevice();

const config = { ...tinyModelConfig, maxPositionEmbeddings: 16 };

/** Examples of 3 to 6 tokens (so that fused slots pad differently from single runs), labels alternating. */
function examples(count: number, seed: number): EncodedExample[] {
  const ids = randomInts(count * 6, seed, 5, 30);
  return Array.from({ length: count }, (_, i) => ({ inputIds: Array.from(ids.subarray(i * 6, i * 6 + 3 + (i % 4))), attentionMask: new Array(3 + (i % 4)).fill(1), label: i % 2 }));
}

const train = examples(12, 1);
const evalSet = examples(8, 2);

const dropout = 0.1;

function group(d: Device, slotArgs: TrainingArguments[], hooks: { nextTrial?: (slot: number) => SlotRefill | null; onSlotEnd?: (slot: number, output: TrainOutput) => void } = {}) {
  const model = new SequenceClassifier(d, config, slotArgs.map((a) => a.seed));
  const optimizer = new AdamW(d, model.namedParameters(), slotArgs.map(optimizerSettings));
  const g = new TrainingGroup({
    device: d, model, optimizer, slotArgs: [...slotArgs], trainExamples: train, evalExamples: evalSet,
    hiddenDropout: slotArgs.map(() => dropout), attentionDropout: slotArgs.map(() => dropout),
    ...hooks,
  });
  return { model, optimizer, group: g, release: () => { g.release(); optimizer.release(); model.release(); } };
}

async function slotWeights(model: SequenceClassifier, slot: number): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, t] of model.namedParameters()) {
    const per = t.size / model.slots;
    out.set(name, (await t.toArray() as Float32Array).slice(slot * per, (slot + 1) * per));
  }
  return out;
}

const lossCurve = (history: Record<string, number>[]) => history.filter((e) => e.loss !== undefined).map((e) => e.loss);
const evalCurve = (history: Record<string, number>[]) => history.filter((e) => e.eval_loss !== undefined).map((e) => e.eval_loss);

function args(values: Record<string, unknown>): TrainingArguments {
  return trainingArgumentsFrom({ per_device_train_batch_size: 4, logging_steps: 1, eval_strategy: 'steps', eval_steps: 2, save_strategy: 'no', weight_decay: 0.01, warmup_steps: 1, ...values });
}

/** Trains `a` alone; returns its output and its final weights. */
async function alone(a: TrainingArguments): Promise<{ output: TrainOutput; weights: Map<string, Float32Array> }> {
  const single = group(device(), [a]);
  const [output] = await single.group.train();
  const weights = await slotWeights(single.model, 0);
  single.release();
  return { output, weights };
}

describe('slot refill', () => {
  it('a trial started in a freed slot trains as it would alone, and the other slot goes on undisturbed', async () => {
    const first = args({ learning_rate: 0.01, seed: 11, max_steps: 3 });
    const long = args({ learning_rate: 0.005, seed: 12, max_steps: 9 });
    // Another length, schedule, seed and data order than the trial it replaces.
    const refilled = args({ learning_rate: 0.02, seed: 13, num_train_epochs: 2, lr_scheduler_type: 'cosine', max_grad_norm: 0.5 });
    const outputs: { slot: number; output: TrainOutput; weights?: Map<string, Float32Array> }[] = [];
    let refills = 0;
    const d = device();
    let fused: ReturnType<typeof group> | null = null;
    let init: SequenceClassifier | null = null;
    fused = group(d, [first, long], {
      onSlotEnd: (slot, output) => void outputs.push({ slot, output }),
      nextTrial: (slot) => {
        if (slot !== 0 || refills++ > 0) return null;
        init = new SequenceClassifier(d, config, [refilled.seed]);
        return { args: refilled, weights: init.namedParameters().map(([, t]) => t), hiddenDropout: dropout, attentionDropout: dropout, trialNumber: 7, release: () => init!.release() };
      },
    });
    const last = await fused.group.train();
    // Slot 0 ran `first` (3 steps) then `refilled` (2 epochs of 3 steps), slot 1 ran `long` (9 steps).
    expect(outputs.map((o) => [o.slot, o.output.globalStep])).toEqual([[0, 3], [0, 6], [1, 9]]);
    expect(fused.group.state.globalStep).toBe(9);
    const refilledWeights = await slotWeights(fused.model, 0);
    const longWeights = await slotWeights(fused.model, 1);
    fused.release();

    for (const [name, a, output, weights] of [['refilled', refilled, last[0], refilledWeights], ['long', long, last[1], longWeights], ['first', first, outputs[0].output, null]] as const) {
      const single = await alone(a);
      expect(output.globalStep, name).toBe(single.output.globalStep);
      expectClose(lossCurve(output.logHistory), lossCurve(single.output.logHistory), 1e-4, `${name}: loss curve`);
      expectClose(evalCurve(output.logHistory), evalCurve(single.output.logHistory), 1e-4, `${name}: eval_loss curve`);
      expect(output.logHistory.map((e) => e.step), name).toEqual(single.output.logHistory.map((e) => e.step));
      expect(output.logHistory.map((e) => e.learning_rate).filter((v) => v !== undefined), name).toEqual(single.output.logHistory.map((e) => e.learning_rate).filter((v) => v !== undefined));
      if (weights) for (const [tensor, values] of single.weights) expectClose(weights.get(tensor)!, values, 1e-4, `${name}: ${tensor}`, 2e-4);
    }
  });

  it('a NaN in one slot leaves every bit of the other slot unchanged', async () => {
    const healthy = args({ learning_rate: 0.01, seed: 21, max_steps: 6 });
    const run = async (neighbour: TrainingArguments) => {
      const fused = group(device(), [healthy, neighbour]);
      const [output, other] = await fused.group.train();
      const weights = await slotWeights(fused.model, 0);
      fused.release();
      return { output, other, weights };
    };
    // The same seed (the same batches and padding) in both neighbours; one learning rate blows up at step 2.
    const calm = await run(args({ learning_rate: 0.003, seed: 22, max_steps: 6, max_grad_norm: 0, lr_scheduler_type: 'constant', warmup_steps: 0 }));
    const blown = await run(args({ learning_rate: 1e30, seed: 22, max_steps: 6, max_grad_norm: 0, lr_scheduler_type: 'constant', warmup_steps: 0 }));
    expect(blown.other.diverged).not.toBeNull();
    expect(calm.other.diverged).toBeNull();
    const numbers = (h: Record<string, number>[]) => h.map(({ loss, eval_loss, grad_norm, learning_rate, step }) => [loss, eval_loss, grad_norm, learning_rate, step]);
    expect(numbers(blown.output.logHistory)).toEqual(numbers(calm.output.logHistory));
    for (const [name, values] of calm.weights) expect(Buffer.from(blown.weights.get(name)!.buffer).equals(Buffer.from(values.buffer)), name).toBe(true);
  });
});

describe('evaluating the slots that are due', () => {
  it('gives the metrics the whole group\'s evaluation gives those slots, in a model of their own', async () => {
    const d = device();
    const slotArgs = [0.01, 0.02, 0.005].map((lr, i) => args({ learning_rate: lr, seed: 30 + i, max_steps: 3 }));
    const model = new SequenceClassifier(d, config, slotArgs.map((a) => a.seed));
    const optimizer = new AdamW(d, model.namedParameters(), slotArgs.map(optimizerSettings));
    const built: number[] = [];
    const g = new TrainingGroup({
      device: d, model, optimizer, slotArgs, trainExamples: train, evalExamples: evalSet,
      evalModel: (slots) => (built.push(slots), new SequenceClassifier(d, config, new Array(slots).fill(99))),
    });
    await g.train();
    const all = await g.evaluate();
    const some = await g.evaluateSlots([2, 0]);
    expect(built).toEqual([2]); // evaluations during training ran all three slots (all due together)
    const pick = (m: Record<string, number>) => [m.eval_loss];
    expectClose(some.map(pick).flat(), [all[2], all[0]].map(pick).flat(), 1e-6, 'eval_loss of slots 2 and 0');
    g.release();
    optimizer.release();
    model.release();
  });
});

describe('refill in a search', () => {
  function searchTrainer(callbacks: { onStepEnd?: (event: TrainerEvent) => void } = {}) {
    return new Trainer({
      device: device(),
      modelInit: (d, seeds) => new SequenceClassifier(d, config, seeds),
      args: { per_device_train_batch_size: 4, logging_steps: 2, eval_strategy: 'steps', eval_steps: 2, save_strategy: 'no', seed: 3 },
      trainDataset: train,
      evalDataset: evalSet,
      callbacks: [callbacks],
    });
  }

  it('trials of different lengths share a group and reach the objectives they reach alone', async () => {
    const grid = { max_steps: [2, 6, 4], learning_rate: [0.003, 0.01] };
    const objectives = async (slots: number) => {
      const values = new Map<string, { value: number; steps: number }>();
      const stepsOf = new Map<number, number>();
      await searchTrainer({ onStepEnd: (e) => void stepsOf.set(e.trialNumber ?? -1, e.globalStep) }).hyperparameterSearch({
        nTrials: 6,
        slots,
        hpSpace: (trial) => ({ max_steps: trial.suggestCategorical('max_steps', grid.max_steps), learning_rate: trial.suggestCategorical('learning_rate', grid.learning_rate) }),
        sampler: new GridSampler(grid, { seed: 4 }),
        onTrialEnd: (_s, t) => { if (!t.values) throw new Error(String(t.userAttrs.fail_reason)); values.set(JSON.stringify(t.params), { value: t.values[0], steps: stepsOf.get(t.number) ?? -1 }); },
      });
      return values;
    };
    const fused = await objectives(3);
    const single = await objectives(1);
    expect(fused.size).toBe(6);
    for (const [params, { value }] of single) {
      expect(fused.get(params)!.value, params).toBeCloseTo(value, 5);
      // Each trial took its own number of steps in the group (events name the slot's trial).
      expect(fused.get(params)!.steps, params).toBe(JSON.parse(params).max_steps);
    }
  });

  it('when no trial is left, the group shrinks to its training slots, which train on as they would alone', async () => {
    // Trial 0 (2 steps) and trial 1 (8) start; trial 2 (3) takes slot 0 at step 2 and ends at group step 5; then
    // slot 0 idles with no trial left, and the group goes on with trial 1 alone, in slot 0 of a one-slot model.
    const plan = [{ max_steps: 2, learning_rate: 0.01 }, { max_steps: 8, learning_rate: 0.003 }, { max_steps: 3, learning_rate: 0.02 }];
    const run = async (slots: number) => {
      const seen = new Map<number, number[]>();
      const values = new Map<number, number>();
      await searchTrainer({ onStepEnd: ({ trialNumber, slot }) => void seen.set(trialNumber!, [...(seen.get(trialNumber!) ?? []), slot]) }).hyperparameterSearch({
        nTrials: 3,
        slots,
        hpSpace: (trial) => plan[trial.number],
        onTrialEnd: (_s, t) => void values.set(t.number, t.values![0]),
      });
      return { seen, values };
    };
    const fused = await run(2);
    expect(fused.seen.get(1)).toEqual([1, 1, 1, 1, 1, 0, 0, 0]);
    expect(fused.seen.get(2)).toEqual([0, 0, 0]);
    const single = await run(1);
    expect(single.values.size).toBe(3);
    for (const [number, value] of single.values) expect(fused.values.get(number), `trial ${number}`).toBeCloseTo(value, 5);
  });

  it('with ASHA, a pruned or finished trial\'s slot takes the next trial at the very next step', async () => {
    // Per group step, the (slot, trial, step) of every slot that trained: onStepEnd fires for the slots in order.
    const steps: { slot: number; trial: number; step: number }[][] = [];
    let lastSlot = Infinity;
    const trials: FrozenTrial[] = [];
    await searchTrainer({
      onStepEnd: ({ slot, trialNumber, globalStep }) => {
        if (slot <= lastSlot) steps.push([]);
        lastSlot = slot;
        steps[steps.length - 1].push({ slot, trial: trialNumber!, step: globalStep });
      },
    }).hyperparameterSearch({
      nTrials: 9,
      slots: 3,
      hpSpace: (trial) => ({ learning_rate: trial.suggestFloat('learning_rate', 1e-4, 3e-2, { log: true }), max_steps: 8 }),
      sampler: new RandomSampler({ seed: 5 }),
      pruner: new SuccessiveHalvingPruner({ minResource: 2, reductionFactor: 3 }),
      direction: 'minimize',
      onTrialEnd: (_s, t) => void trials.push(t),
    });
    expect(trials).toHaveLength(9);
    expect(trials.filter((t) => t.state === 'PRUNED').length).toBeGreaterThan(0);
    expect(trials.filter((t) => t.state === 'COMPLETE').length).toBeGreaterThan(0);
    // A trial ends at its last step or when pruned; by the next group step, its slot runs a new trial from step 1.
    const started = new Set<number>();
    for (let g = 0; g + 1 < steps.length; g++) {
      for (const { slot, trial } of steps[g]) {
        const next = steps[g + 1].find((s) => s.slot === slot);
        const ended = !steps.slice(g + 1).some((later) => later.some((s) => s.trial === trial));
        if (!ended) continue;
        const remaining = 9 - new Set(steps.slice(0, g + 1).flat().map((s) => s.trial)).size;
        if (remaining > 0) {
          expect(next, `slot ${slot} after trial ${trial} (group step ${g + 1})`).toBeDefined();
          expect(next!.step, `slot ${slot}: trial ${next!.trial} starts at step 1`).toBe(1);
          started.add(next!.trial);
        }
      }
    }
    expect(started.size).toBeGreaterThan(0);
    // Pruned trials stopped before their last step: the compute they would have used went to other trials.
    for (const t of trials.filter((x) => x.state === 'PRUNED')) expect(Math.max(...t.intermediateValues.keys())).toBeLessThan(8);
  });

  it('asks a TPE sampler it chose with the constant liar when trials run side by side; a sampler passed in is kept', async () => {
    const liar = async (slots: number, sampler?: TPESampler) => {
      let used: unknown = null;
      await searchTrainer().hyperparameterSearch({
        nTrials: 2, slots, sampler,
        hpSpace: (trial) => ({ learning_rate: trial.suggestFloat('learning_rate', 1e-3, 1e-2, { log: true }), max_steps: 2 }),
        onStudy: (study) => void (used = study.sampler),
      });
      return used;
    };
    expect(((await liar(2)) as TPESampler).constantLiar).toBe(true);
    expect(((await liar(1)) as TPESampler).constantLiar).toBe(false);
    const mine = new TPESampler({ seed: 1 });
    expect(await liar(2, mine)).toBe(mine);
  });
});
