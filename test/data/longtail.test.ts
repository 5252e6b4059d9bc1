// Long-tail construction: the field's exact CIFAR-LT counts, LDAM-DRW's formula to the integer, the step
// profile, first-n versus seeded choice, and the many / medium / few split.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';

import { InMemoryDataset, Subset, classCounts, longTailCounts, makeLongTailed, shotGroups } from '../../src/data/index.js';

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);

/** A balanced data set of `perClass` images per class, labels interleaved (record r has label r % C). */
function balanced(numClasses: number, perClass: number): InMemoryDataset {
  const count = numClasses * perClass;
  const images = Uint8Array.from({ length: count }, (_, r) => r % 256);
  const labels = Int32Array.from({ length: count }, (_, r) => r % numClasses);
  return new InMemoryDataset(
    images,
    [1, 1, 1],
    labels,
    Array.from({ length: numClasses }, (_, c) => `c${c}`),
  );
}

test('CIFAR-10-LT and CIFAR-100-LT counts are the published ones', () => {
  const ir100 = longTailCounts(5000, 10, 100);
  assert.deepEqual(ir100, [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]);
  assert.equal(sum(ir100), 12406);
  assert.equal(sum(longTailCounts(5000, 10, 50)), 13996);
  assert.equal(sum(longTailCounts(5000, 10, 10)), 20431);
  const cifar100 = longTailCounts(500, 100, 100);
  assert.deepEqual([cifar100[0], cifar100[99]], [500, 5]);
  assert.equal(sum(cifar100), 10847);
  assert.equal(sum(longTailCounts(500, 100, 50)), 12608);
  assert.equal(sum(longTailCounts(500, 100, 10)), 19573);
});

test("the counts equal LDAM-DRW's Python formula to the integer over many shapes", {
  skip: !existsSync('/usr/bin/python3') && 'no python3',
}, () => {
  const cases: [number, number, number][] = [];
  for (const maxPerClass of [500, 1280, 5000, 6000]) {
    for (const classes of [2, 10, 37, 100, 365, 1000])
      for (const ratio of [2, 10, 20, 50, 100, 200, 256]) cases.push([maxPerClass, classes, ratio]);
  }
  // get_img_num_per_cls of LDAM-DRW's imbalance_cifar.py, 'exp' and 'step' branches
  const script = `
import json, sys
out = []
for img_max, cls_num, ir in json.loads(sys.argv[1]):
    imb_factor = 1 / ir
    exp = [int(img_max * (imb_factor**(cls_idx / (cls_num - 1.0)))) for cls_idx in range(cls_num)]
    step = [int(img_max)] * (cls_num // 2) + [int(img_max * imb_factor)] * (cls_num - cls_num // 2)
    out.append([exp, step])
print(json.dumps(out))
`;
  const result = spawnSync('/usr/bin/python3', ['-c', script, JSON.stringify(cases)], { encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(result.status, 0, result.stderr);
  const reference = JSON.parse(result.stdout) as [number[], number[]][];
  cases.forEach(([maxPerClass, classes, ratio], i) => {
    assert.deepEqual(longTailCounts(maxPerClass, classes, ratio), reference[i]![0], `exponential ${maxPerClass} ${classes} ${ratio}`);
    assert.deepEqual(longTailCounts(maxPerClass, classes, ratio, 'step'), reference[i]![1], `step ${maxPerClass} ${classes} ${ratio}`);
  });
});

test('the step profile: half the classes keep n_max, the rest n_max / IR', () => {
  assert.deepEqual(longTailCounts(5000, 10, 100, 'step'), [5000, 5000, 5000, 5000, 5000, 50, 50, 50, 50, 50]);
  assert.deepEqual(longTailCounts(100, 5, 10, 'step'), [100, 100, 10, 10, 10]);
  assert.throws(() => longTailCounts(100, 5, 0.5), /imbalance ratio must be >= 1/);
});

test('a long-tailed subset keeps the first n_i of each class in record order, or a seeded random n_i', () => {
  const dataset = balanced(10, 5000);
  const lt = makeLongTailed(dataset, { imbalanceRatio: 100 });
  assert.deepEqual([...classCounts(lt)], [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]);
  assert.equal(lt.length, 12406);
  // Class 9's records are 9, 19, 29, ...: the first 50 of them end at record 499.
  const class9 = [...lt.indices].filter((index) => dataset.labels[index] === 9);
  assert.deepEqual([class9[0], class9[49]], [9, 499]);
  assert.ok(
    lt.indices.every((index, i) => i === 0 || index > lt.indices[i - 1]!),
    'record order',
  );
  assert.equal(lt.storageIndex(5), lt.indices[5]);

  const seeded = makeLongTailed(dataset, { imbalanceRatio: 100, seed: 3 });
  assert.deepEqual([...classCounts(seeded)], [...classCounts(lt)]);
  assert.notDeepEqual([...seeded.indices], [...lt.indices]);
  assert.deepEqual([...makeLongTailed(dataset, { imbalanceRatio: 100, seed: 3 }).indices], [...seeded.indices], 'same seed, same subset');
  const seededClass9 = [...seeded.indices].filter((index) => dataset.labels[index] === 9);
  assert.ok(seededClass9[49]! > 5000, 'a random 50 of 5000 spread over the class');

  const step = makeLongTailed(balanced(4, 100), { imbalanceRatio: 10, profile: 'step' });
  assert.deepEqual([...classCounts(step)], [100, 100, 10, 10]);
  assert.throws(
    () => makeLongTailed(balanced(4, 100), { imbalanceRatio: 10, maxPerClass: 200 }),
    /class 0 \(c0\) has 100 images, the profile asks for 200/,
  );
});

test('a Subset of a Subset maps to the base storage and keeps labels', () => {
  const dataset = balanced(3, 4);
  const outer = new Subset(dataset, Int32Array.from([11, 4, 7, 0]));
  const inner = new Subset(outer, Int32Array.from([2, 0]));
  assert.deepEqual([...inner.labels], [1, 2]);
  assert.deepEqual([inner.storageIndex(0), inner.storageIndex(1)], [7, 11]);
  assert.equal(inner.classNames, dataset.classNames);
  assert.throws(() => new Subset(dataset, Int32Array.from([12])), /index 12 is outside 0\.\.11/);
});

test('many / medium / few: > 100, 20-100, < 20 by default; thresholds configurable', () => {
  const counts = [5000, 101, 100, 20, 19, 5];
  assert.deepEqual(shotGroups(counts), { many: [0, 1], medium: [2, 3], few: [4, 5] });
  assert.deepEqual(shotGroups(counts, { many: 19, few: 6 }), { many: [0, 1, 2, 3], medium: [4], few: [5] });
  const cifar100 = shotGroups(longTailCounts(500, 100, 100));
  assert.deepEqual([cifar100.many.length, cifar100.medium.length, cifar100.few.length], [35, 35, 30]);
});
