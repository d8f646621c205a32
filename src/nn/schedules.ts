/**
 * Learning-rate schedules as multipliers of the base rate, with Hugging Face's definitions
 * (transformers/optimization.py: get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup (0.5 cycles),
 * get_constant_schedule, get_constant_schedule_with_warmup). As with HF's LambdaLR, optimizer step k (0-based)
 * uses factor(k): with warmup, the very first update has learning rate 0.
 */
export type ScheduleName = 'linear' | 'cosine' | 'constant' | 'constant_with_warmup';

export const SCHEDULE_NAMES: readonly ScheduleName[] = ['linear', 'cosine', 'constant', 'constant_with_warmup'];

export function scheduleFactor(name: ScheduleName, step: number, warmupSteps: number, totalSteps: number): number {
  if (name !== 'constant' && step < warmupSteps) return step / Math.max(1, warmupSteps);
  switch (name) {
    case 'constant':
    case 'constant_with_warmup':
      return 1;
    case 'linear':
      return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
    case 'cosine': {
      const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
    }
  }
}

/** HF's TrainingArguments.get_warmup_steps: warmup_steps when > 0, else ceil(total · warmup_ratio). */
export function warmupStepsFor(totalSteps: number, warmupSteps: number, warmupRatio: number): number {
  return warmupSteps > 0 ? warmupSteps : Math.ceil(totalSteps * warmupRatio);
}
