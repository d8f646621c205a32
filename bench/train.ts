/**
 * `webtrainer bench train`: training throughput of the default SequenceClassifier (BERT-style, 2 layers, hidden 64;
 * see bench/peers/train-model-spec.ts) next to the same model written in tfjs-webgpu and jax-js (webgpu and wasm),
 * one implementation after another in the same process on the same adapter.
 *
 * Timing: each implementation builds its model, runs `warmupSteps` untimed steps (shader compiles, pools fill),
 * then `steps` timed steps; samples/s = steps × batch / seconds. webtrainer runs the product's own step
 * (src/train/training-step.ts, what TrainingGroup runs: upload → forward → loss → backward → AdamW → flush) and waits once, with
 * `await device.sync()`, before the timer stops; the peers wait for every step (their notes say how). The losses
 * of the first and last timed steps are kept on the device and read after the timer stops: on the one repeated
 * synthetic batch the loss must fall (a check that gradients and updates are wired, not a quality measure).
 * webtrainer's step is also taken apart (`StepCost`): dispatches and submits counted by the Device, the CPU time of
 * recording it, and its fixed cost (those dispatches at the fixed-cost probe's price) apart from its kernels' work.
 *
 * Peers that are not installed (they are dev dependencies, loaded with a dynamic `import()`) appear in `skipped`
 * with the reason.
 */
import { AdamW } from '../src/nn/adamw.js';
import { createSlotDropout } from '../src/nn/forward-context.js';
import type { HostBatch } from '../src/nn/model-input.js';
import { SequenceClassifier } from '../src/nn/sequence-classifier.js';
import { zeros } from '../src/tensor/create.js';
import { keep } from '../src/tensor/scope.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { CapturedTrainingStep } from '../src/train/captured-training-step.js';
import { recordTrainingStep } from '../src/train/training-step.js';
import { createDevice, type Device } from '../src/gpu/device.js';
import { measureFixedCost, warmUpGpu } from './probes/probes.js';
import {
  parameterCount,
  syntheticBatch,
  trainModelSpec,
  type TrainImpl,
  type TrainModelSpec,
  type TrainRunner,
} from './peers/train-model-spec.js';

export type { TrainImpl } from './peers/train-model-spec.js';

export interface TrainResult {
  impl: TrainImpl;
  samplesPerSecond: number;
  msPerStep: number;
  /** Loss of the first timed step. */
  firstLoss?: number;
  /** Loss of the last timed step. */
  finalLoss?: number;
  /** finalLoss < firstLoss: the sanity check on the repeated synthetic batch. */
  lossDecreased?: boolean;
  /** What this implementation omits or does differently, and how it waits for the device. */
  notes: string[];
  /** webtrainer only: the step's fixed cost apart from its work. */
  stepCost?: StepCost;
}

/**
 * What one webtrainer step costs besides its kernels' work. The device's fixed costs come from the kernels
 * benchmark's probe (bench/probes/probes.ts `measureFixedCost`): a tiny dispatch recorded among 1,000 in one submit
 * (recording plus launch) and one submit + wait. A step of `dispatches` dispatches pays at least `dispatches ×
 * dispatchUs` whatever its arithmetic; its timed run also paid `waits` submit + waits in all (one, at the end).
 */
export interface StepCost {
  dispatchesPerStep: number;
  submitsPerStep: number;
  /** CPU time to record one step (its `step()` call: encoding and flushes, no waiting). */
  recordMsPerStep: number;
  /** Timed steps that replayed a captured step (the rest were captured or recorded in full). */
  replayedSteps: number;
  /**
   * CPU time to record one step in full through the tensor layer (`recordTrainingStep`, no capture), measured over
   * as many steps right after the timed ones: the peer of `recordMsPerStep`.
   */
  recordInFullMsPerStep: number;
  dispatchUs: number;
  submitWaitUs: number;
  /** dispatchesPerStep × dispatchUs + the run's submit + waits spread over its steps. */
  fixedMsPerStep: number;
  /** msPerStep − fixedMsPerStep: the kernels' arithmetic and memory traffic. */
  workMsPerStep: number;
}

export interface TrainSkipped {
  impl: TrainImpl;
  reason: string;
}

export interface TrainReport {
  device: { description: string; vendor: string; architecture: string; backend: string };
  spec: TrainModelSpec & { parameterCount: number; warmupSteps: number; timedSteps: number };
  results: TrainResult[];
  skipped: TrainSkipped[];
}

export interface BenchTrainOptions {
  /** Machine-readable run: no progress lines on stderr. */
  json?: boolean;
  /** 5 timed steps instead of 20 (unless `steps` is given). */
  quick?: boolean;
  /** Timed steps per implementation. */
  steps?: number;
  /** Untimed steps before timing (default 3). */
  warmupSteps?: number;
  /** Which implementations to run (default: all four); the others are reported as skipped. */
  impls?: readonly TrainImpl[];
  /**
   * Wait for the device after every timed step in every implementation (the peers always do): webtrainer then
   * pays a submit + wait per step as they do, instead of one at the end as its TrainingGroup does.
   */
  syncEachStep?: boolean;
}

export const TRAIN_IMPLS: readonly TrainImpl[] = ['webtrainer', 'tfjs-webgpu', 'jax-webgpu', 'jax-wasm'];

// ---------------------------------------------------------------------------------------------------------------
// webtrainer: the product's own training step (src/train/training-step.ts), as TrainingGroup runs it

async function loadWebtrainerTrainer(device: Device, spec: TrainModelSpec): Promise<TrainRunner | string> {
  const config = {
    vocabSize: spec.vocabSize,
    hiddenSize: spec.hiddenSize,
    numLayers: spec.numLayers,
    numHeads: spec.numHeads,
    intermediateSize: spec.intermediateSize,
    maxPositionEmbeddings: spec.maxPositionEmbeddings,
    numLabels: spec.numLabels,
    hiddenDropoutProb: spec.hiddenDropoutProb,
    attentionDropoutProb: spec.attentionDropoutProb,
    layerNormEps: spec.layerNormEps,
  };
  const model = new SequenceClassifier(device, config, [spec.initSeed]);
  model.train();
  const o = spec.optimizer;
  const optimizer = new AdamW(device, model.namedParameters(), [
    { learningRate: o.learningRate, beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon, weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm },
  ]);
  const dropout = createSlotDropout(device, [spec.dataSeed % 1_000_000], [spec.hiddenDropoutProb], [spec.attentionDropoutProb]);
  const data = syntheticBatch(spec);
  const host: HostBatch = {
    slots: 1,
    batch: data.batch,
    seq: data.seq,
    inputIds: data.inputIds,
    attentionMask: data.attentionMask,
    labels: data.labels,
  };
  let stepIndex = 0;
  let keepNext = false;
  // Every step adds its loss into one (1) accumulator, so every step has the same commands and is replayed; a kept
  // step's loss is the accumulator's growth over it (two copies, read after the timer stops).
  const lossSum = keep(zeros(device, [1]));
  const snapshots: [Tensor, Tensor][] = [];
  const snapshot = () => {
    const copy = keep(zeros(device, [1]));
    device.copy(lossSum.buffer, 0, copy.buffer, 0, 4);
    return copy;
  };
  const captured = new CapturedTrainingStep();

  const step = async () => {
    const before = keepNext ? snapshot() : undefined;
    captured.record({ device, model, optimizer, dropout }, host, [stepIndex], [o.learningRate], lossSum);
    if (before) snapshots.push([before, snapshot()]);
    keepNext = false;
    stepIndex++;
  };

  return {
    impl: 'webtrainer',
    notes: [
      "the product's CapturedTrainingStep (TrainingGroup's step: captured on the first step, replayed after), dropout included; steps only flushed, one `await device.sync()` before the timer stops",
    ],
    step,
    sync: () => device.sync(),
    keepNextLoss: () => {
      keepNext = true;
    },
    readKeptLosses: async () => {
      const values: number[] = [];
      for (const [before, after] of snapshots.splice(0)) {
        values.push((await after.toArray())[0] - (await before.toArray())[0]);
        before.release();
        after.release();
      }
      return values;
    },
    replayCounts: () => ({ ...captured.counts }),
    stepInFull: async () => {
      recordTrainingStep({ device, model, optimizer, dropout }, host, [stepIndex], [o.learningRate]);
      stepIndex++;
    },
    parameterCount: () => model.parameters().reduce((sum, p) => sum + p.size, 0),
    release: async () => {
      for (const pair of snapshots.splice(0)) for (const t of pair) t.release();
      captured.release();
      lossSum.release();
      optimizer.release();
      model.release();
      for (const t of Object.values(dropout)) t.release();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The run

async function timeTraining(
  runner: TrainRunner,
  warmupSteps: number,
  steps: number,
  batch: number,
  syncEachStep: boolean,
  warmUpClocks: () => Promise<void>,
  device: Device,
  fixed: { dispatchUs: number; submitWaitUs: number } | undefined,
): Promise<TrainResult> {
  for (let i = 0; i < warmupSteps; i++) await runner.step();
  await runner.sync();
  await warmUpClocks();
  const [dispatches, submits] = [device.dispatchCount, device.submitCount];
  const replayedBefore = runner.replayCounts?.().replayed ?? 0;
  let recordMs = 0;
  let waits = 0;
  const start = performance.now();
  for (let i = 0; i < steps; i++) {
    if (i === 0 || i === steps - 1) runner.keepNextLoss();
    const stepStart = performance.now();
    await runner.step();
    recordMs += performance.now() - stepStart;
    if (syncEachStep) {
      await runner.sync();
      waits++;
    }
  }
  await runner.sync();
  waits++;
  const seconds = (performance.now() - start) / 1000;
  // Only webtrainer records on `device`; the peers have devices of their own.
  let stepCost: StepCost | undefined;
  if (runner.impl === 'webtrainer' && fixed && runner.stepInFull) {
    const dispatchesPerStep = (device.dispatchCount - dispatches) / steps;
    const replayedSteps = (runner.replayCounts?.().replayed ?? 0) - replayedBefore;
    let inFullMs = 0;
    for (let i = 0; i < steps; i++) {
      const stepStart = performance.now();
      await runner.stepInFull();
      inFullMs += performance.now() - stepStart;
      if (i % 8 === 7) await runner.sync(); // keep the queue short, as the timed run's device.flush() does not
    }
    await runner.sync();
    const fixedMsPerStep = (dispatchesPerStep * fixed.dispatchUs + (waits * fixed.submitWaitUs) / steps) / 1000;
    const msPerStep = (seconds * 1000) / steps;
    stepCost = {
      dispatchesPerStep,
      submitsPerStep: (device.submitCount - submits) / steps,
      recordMsPerStep: recordMs / steps,
      replayedSteps,
      recordInFullMsPerStep: inFullMs / steps,
      ...fixed,
      fixedMsPerStep,
      workMsPerStep: msPerStep - fixedMsPerStep,
    };
  }
  const losses = await runner.readKeptLosses();
  const [firstLoss, finalLoss] = [losses[0], losses[losses.length - 1]];
  return {
    impl: runner.impl,
    samplesPerSecond: (steps * batch) / seconds,
    msPerStep: (seconds * 1000) / steps,
    firstLoss,
    finalLoss,
    lossDecreased: losses.length >= 2 ? finalLoss < firstLoss : undefined,
    notes: syncEachStep && runner.impl === 'webtrainer' ? [...runner.notes, 'syncEachStep: also `await device.sync()` after every step'] : runner.notes,
    ...(stepCost ? { stepCost } : {}),
  };
}

export async function benchTrain(options: BenchTrainOptions = {}): Promise<TrainReport> {
  const { json = false, quick = false } = options;
  const steps = options.steps ?? (quick ? 5 : 20);
  const warmupSteps = options.warmupSteps ?? 3;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`bench train: steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) throw new Error(`bench train: warmupSteps must be an integer >= 0, got ${warmupSteps}`);
  const wanted = new Set(options.impls ?? TRAIN_IMPLS);
  const log = (line: string) => {
    if (!json) process.stderr.write(`${line}\n`);
  };
  const spec = trainModelSpec;
  const results: TrainResult[] = [];
  const skipped: TrainSkipped[] = [];

  const device = await createDevice();
  const { description, vendor, architecture, backend } = device.info;
  log(`device: ${description} (${vendor}, ${backend}); ${parameterCount(spec)} parameters, batch ${spec.batchSize}×${spec.seqLength}`);
  // The device's fixed costs, for webtrainer's step breakdown (StepCost).
  const fixed = wanted.has('webtrainer') ? await measureFixedCost(device) : undefined;
  if (fixed && !fixed.counted) throw new Error('bench train: the fixed-cost probe did not run every dispatch');

  const loaders: [TrainImpl, () => Promise<TrainRunner | string>][] = [
    ['webtrainer', () => loadWebtrainerTrainer(device, spec)],
    ['tfjs-webgpu', async () => (await import('./peers/tfjs-train.js')).loadTfjsTrainer(spec)],
    // jax-js on wasm before webgpu: after a webgpu run, the wasm run failed reading some array of jax-js's back from
    // WebGPU synchronously ("OffscreenCanvas is not available…"); the other order moves data the other way only.
    ['jax-wasm', async () => (await import('./peers/jax-train.js')).loadJaxTrainer('wasm', spec, { threads: 2 })],
    ['jax-webgpu', async () => (await import('./peers/jax-train.js')).loadJaxTrainer('webgpu', spec)],
  ];
  try {
    for (const [impl, load] of loaders) {
      if (!wanted.has(impl)) {
        skipped.push({ impl, reason: 'not selected' });
        continue;
      }
      log(`${impl}: building the model…`);
      let runner: TrainRunner | string;
      try {
        runner = await load();
      } catch (error) {
        runner = `failed to build: ${((error as Error).message ?? String(error)).split('\n')[0]}`;
      }
      if (typeof runner === 'string') {
        skipped.push({ impl, reason: runner });
        log(`${impl}: skipped (${runner})`);
        continue;
      }
      try {
        const built = runner.parameterCount();
        if (built !== parameterCount(spec)) throw new Error(`built ${built} parameters, the spec has ${parameterCount(spec)}`);
        log(`${impl}: ${warmupSteps} warm-up + ${steps} timed steps…`);
        const result = await timeTraining(
          runner,
          warmupSteps,
          steps,
          spec.batchSize,
          options.syncEachStep ?? false,
          () => warmUpGpu(device),
          device,
          fixed,
        );
        results.push(result);
        log(
          `${impl}: ${result.samplesPerSecond.toFixed(2)} samples/s, ${result.msPerStep.toFixed(0)} ms/step, ` +
            `loss ${result.firstLoss?.toFixed(4)} → ${result.finalLoss?.toFixed(4)}`,
        );
      } catch (error) {
        const reason = `failed: ${((error as Error).message ?? String(error)).split('\n')[0]}`;
        skipped.push({ impl, reason });
        log(`${impl}: ${reason}`);
      } finally {
        await runner.release().catch(() => undefined);
      }
    }
  } finally {
    if (wanted.has('jax-wasm')) await (await import('./peers/jax-train.js').catch(() => null))?.stopWasmWorkers();
    device.destroy();
  }
  return {
    device: { description, vendor, architecture, backend },
    spec: { ...spec, parameterCount: parameterCount(spec), warmupSteps, timedSteps: steps },
    results,
    skipped,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Text output

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, col) => Math.max(...rows.map((row) => row[col].length)));
  return rows.map((row) => row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]) : cell.padStart(widths[col]))).join('  ').trimEnd());
}

export function formatTrainReport(report: TrainReport): string {
  const { device, spec } = report;
  const own = report.results.find((r) => r.impl === 'webtrainer');
  const lines = [
    `webtrainer bench train: ${device.description || 'unknown adapter'} (${device.vendor || '?'}, ${device.architecture || '?'}, ${device.backend})`,
    `model: BERT-style classifier, ${spec.numLayers} layers, hidden ${spec.hiddenSize}, ${spec.numHeads} heads, FFN ${spec.intermediateSize}, ` +
      `vocab ${spec.vocabSize}: ${spec.parameterCount.toLocaleString('en-US')} parameters; AdamW + clipping at ${spec.optimizer.maxGradNorm}`,
    `data: batch ${spec.batchSize} × sequence ${spec.seqLength} (${spec.paddingPerRow} padding per row), one synthetic batch repeated; ` +
      `${spec.warmupSteps} warm-up + ${spec.timedSteps} timed steps each`,
    'wt/peer = webtrainer samples/s ÷ peer samples/s (>1: webtrainer is faster)',
    '',
  ];
  const header = ['impl', 'samples/s', 'ms/step', 'first loss', 'last loss', 'falls', 'wt/peer'];
  const fmt = (v: number | undefined, digits: number) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));
  const body = report.results.map((r) => [
    r.impl,
    fmt(r.samplesPerSecond, 2),
    fmt(r.msPerStep, 0),
    fmt(r.firstLoss, 4),
    fmt(r.finalLoss, 4),
    r.lossDecreased === undefined ? '–' : r.lossDecreased ? 'yes' : 'NO',
    r.impl === 'webtrainer' ? '' : own ? `${(own.samplesPerSecond / r.samplesPerSecond).toFixed(2)}×` : '–',
  ]);
  lines.push(...table([header, ...body]));
  const cost = own?.stepCost;
  if (cost) {
    const share = (ms: number) => `${((100 * ms) / own!.msPerStep).toFixed(0)}%`;
    lines.push(
      '',
      `webtrainer step: ${cost.dispatchesPerStep.toFixed(0)} dispatches and ${cost.submitsPerStep.toFixed(1)} submits; ` +
        `recording it takes ${cost.recordMsPerStep.toFixed(1)} ms of CPU (${share(cost.recordMsPerStep)} of the step; ` +
        `${cost.replayedSteps} of ${report.spec.timedSteps} timed steps replayed)`,
      `  recorded in full through the tensor layer instead: ${cost.recordInFullMsPerStep.toFixed(1)} ms of CPU per step ` +
        `(replay ${(cost.recordInFullMsPerStep / cost.recordMsPerStep).toFixed(1)}× faster to record)`,
      `  fixed cost ${cost.fixedMsPerStep.toFixed(1)} ms (${share(cost.fixedMsPerStep)}): ${cost.dispatchesPerStep.toFixed(0)} dispatches × ` +
        `${cost.dispatchUs.toFixed(1)} µs + ${cost.submitWaitUs.toFixed(0)} µs per submit + wait, spread over the run's steps`,
      `  the kernels' work ${cost.workMsPerStep.toFixed(1)} ms (${share(cost.workMsPerStep)})`,
    );
  }
  const notes = report.results.filter((r) => r.notes.length > 0);
  if (notes.length > 0) {
    lines.push('', 'notes:');
    for (const r of notes) for (const note of r.notes) lines.push(`  ${r.impl}: ${note}`);
  }
  if (report.skipped.length > 0) {
    lines.push('', 'skipped:');
    for (const s of report.skipped) lines.push(`  ${s.impl}: ${s.reason}`);
  }
  return lines.join('\n');
}
