// Comparing a result against a reference: relative L2 error, asserted with the measured value in
// the message and in the test's diagnostics, so tolerances can be read off a passing run too.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';

/** ‖a − b‖ / ‖b‖ */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** Asserts relL2(actual, expected) <= tol and reports the value it measured. */
export function assertClose(t: TestContext, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): number {
  const err = relL2(actual, expected);
  t.diagnostic(`${what}: rel L2 ${err.toExponential(2)} (tol ${tol})`);
  assert.ok(err <= tol, `${what}: rel L2 ${err} > ${tol}`);
  return err;
}

export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/** Rows of several [L][H][n] score arrays flattened into one vector. */
export function flatten(scores: ArrayLike<number>[][]): number[] {
  return scores.flatMap((layer) => layer.flatMap((row) => Array.from(row)));
}
