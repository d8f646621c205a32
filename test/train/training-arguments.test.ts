/** TrainingArguments: Hugging Face's defaults and names, and errors that name the argument. */
import { describe, expect, it } from 'vitest';
import { bestModelMetric, trainingArgumentsFrom, TrainingArgumentsError, validateTrainingArguments } from '../../src/train/training-arguments.js';

describe('TrainingArguments', () => {
  it("has HF's defaults", () => {
    const args = trainingArgumentsFrom();
    expect(args).toMatchObject({
      learningRate: 5e-5, perDeviceTrainBatchSize: 8, perDeviceEvalBatchSize: 8, numTrainEpochs: 3, maxSteps: -1,
      weightDecay: 0, adamBeta1: 0.9, adamBeta2: 0.999, adamEpsilon: 1e-8, warmupRatio: 0, warmupSteps: 0,
      lrSchedulerType: 'linear', maxGradNorm: 1, seed: 42, evalStrategy: 'no', loggingSteps: 500, saveStrategy: 'steps',
    });
  });
  it('takes snake_case and kebab-case keys and numeric strings (config files, CLI)', () => {
    const args = trainingArgumentsFrom({ learning_rate: '3e-4', 'per-device-train-batch-size': '16', evaluation_strategy: 'epoch' });
    expect(args.learningRate).toBe(3e-4);
    expect(args.perDeviceTrainBatchSize).toBe(16);
    expect(args.evalStrategy).toBe('epoch');
  });
  it('names unknown keys and bad values', () => {
    expect(() => trainingArgumentsFrom({ learning_rat: 1 })).toThrow(/unknown argument 'learning_rat'/);
    expect(() => trainingArgumentsFrom({ learning_rate: -1 })).toThrow(/learningRate \(-1\) must be > 0/);
    expect(() => trainingArgumentsFrom({ lr_scheduler_type: 'step' })).toThrow(/lrSchedulerType \("step"\) must be one of/);
    expect(() => trainingArgumentsFrom({ learning_rate: 'fast' })).toThrow(/learning_rate must be a number, got "fast"/);
    expect(() => trainingArgumentsFrom({ load_best_model_at_end: true, eval_strategy: 'epoch' })).toThrow(/saveStrategy \(steps\) to match evalStrategy \(epoch\)/);
  });
  it('refuses non-finite numbers, from the command line or from code, naming the argument', () => {
    expect(() => trainingArgumentsFrom({ 'learning-rate': 'Infinity' })).toThrow("training arguments: learning-rate must be a finite number, got \"Infinity\"");
    expect(() => trainingArgumentsFrom({ learning_rate: '-Infinity' })).toThrow('learning_rate must be a finite number, got "-Infinity"');
    expect(() => trainingArgumentsFrom({ weight_decay: Infinity })).toThrow('training arguments: weight_decay must be a finite number, got Infinity');
    expect(() => trainingArgumentsFrom({ max_grad_norm: NaN })).toThrow('max_grad_norm must be a finite number, got NaN');
    expect(() => trainingArgumentsFrom({ num_train_epochs: '1e400' })).toThrow('num_train_epochs must be a finite number, got "1e400"');
    // validateTrainingArguments (what the Trainer runs on arguments set in code) catches them too.
    expect(() => validateTrainingArguments({ ...trainingArgumentsFrom(), adamEpsilon: Infinity })).toThrow(
      'training arguments: adamEpsilon (Infinity) must be a finite number',
    );
    expect(() => trainingArgumentsFrom({ learning_rate: Infinity })).toThrow(TrainingArgumentsError);
  });
  it('best-model metric defaults as HF', () => {
    expect(bestModelMetric(trainingArgumentsFrom())).toEqual({ metric: 'eval_loss', greaterIsBetter: false });
    expect(bestModelMetric(trainingArgumentsFrom({ metric_for_best_model: 'accuracy' }))).toEqual({ metric: 'eval_accuracy', greaterIsBetter: true });
  });
});
