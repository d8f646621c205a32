/**
 * Classification metrics from predicted and true class ids: accuracy, F1 (binary: of class 1, as scikit-learn's
 * f1_score default; macro: unweighted mean over classes present in either array) and Matthews correlation
 * (multiclass form, Gorodkin 2004, as scikit-learn's matthews_corrcoef). Undefined ratios (0/0) count as 0, as
 * scikit-learn's zero_division=0.
 */
export function accuracy(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkLengths(predictions, labels);
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) correct++;
  return labels.length ? correct / labels.length : 0;
}

function f1Of(cls: number, predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    if (predictions[i] === cls && labels[i] === cls) tp++;
    else if (predictions[i] === cls) fp++;
    else if (labels[i] === cls) fn++;
  }
  return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}

export function f1Binary(predictions: ArrayLike<number>, labels: ArrayLike<number>, positive = 1): number {
  checkLengths(predictions, labels);
  return f1Of(positive, predictions, labels);
}

export function f1Macro(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkLengths(predictions, labels);
  const classes = new Set<number>([...Array.from(labels), ...Array.from(predictions)]);
  let total = 0;
  for (const cls of classes) total += f1Of(cls, predictions, labels);
  return classes.size ? total / classes.size : 0;
}

export function matthewsCorrelation(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkLengths(predictions, labels);
  const n = labels.length;
  const truth = new Map<number, number>();
  const predicted = new Map<number, number>();
  let correct = 0;
  for (let i = 0; i < n; i++) {
    truth.set(labels[i], (truth.get(labels[i]) ?? 0) + 1);
    predicted.set(predictions[i], (predicted.get(predictions[i]) ?? 0) + 1);
    if (predictions[i] === labels[i]) correct++;
  }
  let tk = 0;
  let tt = 0;
  let pp = 0;
  for (const cls of new Set([...truth.keys(), ...predicted.keys()])) {
    const t = truth.get(cls) ?? 0;
    const p = predicted.get(cls) ?? 0;
    tk += t * p;
    tt += t * t;
    pp += p * p;
  }
  const numerator = correct * n - tk;
  const denominator = Math.sqrt(n * n - pp) * Math.sqrt(n * n - tt);
  return denominator === 0 ? 0 : numerator / denominator;
}

/** Metrics the Trainer reports by default: accuracy, F1 (binary for 2 classes, else macro) and MCC. */
export function classificationMetrics(predictions: ArrayLike<number>, labels: ArrayLike<number>, numLabels: number) {
  return {
    accuracy: accuracy(predictions, labels),
    f1: numLabels === 2 ? f1Binary(predictions, labels) : f1Macro(predictions, labels),
    mcc: matthewsCorrelation(predictions, labels),
  };
}

function checkLengths(predictions: ArrayLike<number>, labels: ArrayLike<number>): void {
  if (predictions.length !== labels.length) {
    throw new Error(`metrics: ${predictions.length} predictions for ${labels.length} labels`);
  }
}
