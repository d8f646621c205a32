/**
 * Comparing GPU float32 results with float64 references. The error of element i is |actual - expected| divided by
 * |expected| + 1% of the reference's RMS, so values near zero are judged against the result's scale rather than
 * against themselves.
 */
import { expect } from 'vitest';

/** `scaleFloor`: an absolute scale added to the denominator, for arrays whose true values are all (near) zero. */
export function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>, scaleFloor = 0): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != expected ${expected.length}`);
  let squares = 0;
  for (let i = 0; i < expected.length; i++) squares += expected[i] ** 2;
  const floor = 0.01 * Math.sqrt(squares / Math.max(expected.length, 1)) + scaleFloor + 1e-30;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i] - expected[i]) / (Math.abs(expected[i]) + floor);
    if (!(error <= worst)) worst = error; // NaN propagates as a failure.
  }
  return worst;
}

export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance = 1e-4,
  what = '',
  scaleFloor = 0,
): void {
  const error = maxRelativeError(actual, expected, scaleFloor);
  if (!(error < tolerance)) {
    let index = 0;
    let worst = -1;
    for (let i = 0; i < expected.length; i++) {
      const e = Math.abs(actual[i] - expected[i]);
      if (!(e <= worst)) [worst, index] = [e, i];
    }
    expect.fail(
      `${what} relative error ${error.toExponential(2)} >= ${tolerance}: at [${index}] got ${actual[index]}, expected ${expected[index]}`,
    );
  }
}
