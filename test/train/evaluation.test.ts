// Top-1 and the many / medium / few accuracies against hand-computed cases.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { shotGroups } from '../../src/data/index.js';
import { evaluate } from '../../src/train/evaluation.js';

const thresholds = { many: 100, few: 20 };

test('groups follow the training counts: > 100 many, 20-100 medium, < 20 few', () => {
  assert.deepEqual(shotGroups([5000, 101, 100, 20, 19, 5], thresholds), { many: [0, 1], medium: [2, 3], few: [4, 5] });
});

test('accuracy by hand: overall, per class, per group, confusion matrix', () => {
  // classes: 0 many (500), 1 medium (50), 2 few (5); 2 test images per class
  const labels = [0, 0, 1, 1, 2, 2];
  const predictions = [0, 0, 1, 0, 0, 0];
  const result = evaluate(predictions, labels, [500, 50, 5], thresholds);
  assert.equal(result.top1, 3 / 6);
  assert.deepEqual(result.perClass, [1, 0.5, 0]);
  assert.deepEqual([result.many, result.medium, result.few], [1, 0.5, 0]);
  assert.deepEqual(result.confusion, [
    [2, 0, 0],
    [1, 1, 0],
    [2, 0, 0],
  ]);
  assert.equal(result.samples, 6);
});

test('an empty group is null, and bad input is refused', () => {
  const result = evaluate([0, 1], [0, 1], [5000, 50], thresholds);
  assert.equal(result.few, null);
  assert.throws(() => evaluate([0], [0, 1], [10, 10], thresholds), /1 predictions for 2 labels/);
  assert.throws(() => evaluate([3], [0], [10, 10], thresholds), /outside \[0, 2\)/);
});
