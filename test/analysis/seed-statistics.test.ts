// Welch's t-test and its p-value against textbook quantiles of Student's t and against scipy.stats.ttest_ind
// (equal_var=False), whose outputs for these inputs are written here.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { mean, sampleStd, studentTwoSidedP, welchTest } from '../../src/analysis/seed-statistics.js';

const close = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected}`);

test("Student's t two-sided p-values match the tables' 5% quantiles and the Cauchy case", () => {
  // t_{0.975} for 2, 3, 4, 10 and 30 degrees of freedom.
  for (const [t, df] of [
    [4.302653, 2],
    [3.182446, 3],
    [2.776445, 4],
    [2.228139, 10],
    [2.042272, 30],
  ] as const) {
    close(studentTwoSidedP(t, df), 0.05, 2e-6, `p(${t}, ${df})`);
    close(studentTwoSidedP(-t, df), 0.05, 2e-6, `p(${-t}, ${df})`);
  }
  close(studentTwoSidedP(1, 1), 0.5, 1e-12, 'Cauchy, |T| >= 1');
  close(studentTwoSidedP(0, 5), 1, 1e-12, 't = 0');
  close(studentTwoSidedP(2.5, 2.098), 0.12380949079291195, 1e-8, 'fractional degrees of freedom (scipy.stats.t)');
  assert.throws(() => studentTwoSidedP(1, 0), /degrees of freedom must be positive, got 0/);
});

test("Welch's test equals scipy's on hand-sized cases", () => {
  const simple = welchTest([1, 2, 3], [4, 5, 6])!;
  close(simple.difference, -3, 1e-12, 'difference');
  close(simple.t, -3.6742346141747673, 1e-12, 't');
  close(simple.df, 4, 1e-12, 'df');
  close(simple.p, 0.021311641128756713, 1e-9, 'p');
  // Unequal spreads: concat's 3 seeds against whitening alone's (top-1 %, docs/results.md).
  const seeds = welchTest([72.18, 72.09, 72.43], [71.27, 72.39, 70.14])!;
  close(seeds.t, 1.4703583670338447, 1e-9, 't');
  close(seeds.df, 2.098021079373941, 1e-9, 'df');
  close(seeds.p, 0.2737197536927553, 1e-7, 'p');
});

test('mean, sample deviation, and the cases a test cannot be made of', () => {
  assert.equal(mean([1, 2, 6]), 3);
  close(sampleStd([1, 2, 6]), Math.sqrt(7), 1e-12, 'sample std');
  assert.equal(welchTest([1], [2, 3]), null, 'one seed');
  assert.equal(welchTest([1, 1], [2, 2]), null, 'no spread on either side');
  assert.throws(() => sampleStd([1]), /at least 2 values, got 1/);
  assert.throws(() => mean([]), /mean of no values/);
});
