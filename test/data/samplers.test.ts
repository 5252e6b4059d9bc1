// Samplers: each epoch's order is a pure function of seed and epoch; the empirical class frequencies match
// each definition (chi-square at p = 0.001 with fixed seeds); batches and shards partition the epoch.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  ChunkedBatchSampler,
  ClassAwareSampler,
  RandomSampler,
  SequentialSampler,
  longTailCounts,
  shardRange,
} from '../../src/data/index.js';

/** CIFAR-10-LT IR100 labels: 5000 of class 0 ... 50 of class 9, interleaved as records are. */
function cifar10LtLabels(): { labels: Int32Array; numClasses: number; length: number; counts: number[] } {
  const counts = longTailCounts(5000, 10, 100);
  const labels: number[] = [];
  const left = [...counts];
  while (labels.length < 12406)
    for (let c = 0; c < 10; c++)
      if (left[c]! > 0) {
        labels.push(c);
        left[c]!--;
      }
  return { labels: Int32Array.from(labels), numClasses: 10, length: labels.length, counts };
}

/** Pearson's chi-square of observed counts against expected probabilities. */
function chiSquare(observed: number[], probabilities: ArrayLike<number>): number {
  const total = observed.reduce((a, b) => a + b, 0);
  return observed.reduce((sum, count, c) => sum + (count - total * probabilities[c]!) ** 2 / (total * probabilities[c]!), 0);
}

const CHI_SQUARE_9_DOF_P001 = 27.88;

function classFrequencies(indices: Int32Array, labels: Int32Array, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const index of indices) counts[labels[index]!]!++;
  return counts;
}

test('instance sampling: a new permutation each epoch, the same for the same seed and epoch', () => {
  const sampler = new RandomSampler(1000, { seed: 1 });
  const epoch0 = sampler.epochIndices(0);
  assert.deepEqual(
    [...epoch0].sort((a, b) => a - b),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.deepEqual(sampler.epochIndices(0), epoch0);
  assert.notDeepEqual(sampler.epochIndices(1), epoch0);
  assert.notDeepEqual(new RandomSampler(1000, { seed: 2 }).epochIndices(0), epoch0);
  assert.deepEqual([...new SequentialSampler(4).epochIndices()], [0, 1, 2, 3]);
});

test('class-balanced: every class equally likely, items uniform within a class', () => {
  const data = cifar10LtLabels();
  const sampler = new ClassAwareSampler(data, { kind: 'classBalanced' }, { seed: 7 });
  const counts = new Array<number>(10).fill(0);
  const tailItems = new Map<number, number>();
  for (let epoch = 0; epoch < 5; epoch++) {
    const indices = sampler.epochIndices(epoch);
    assert.equal(indices.length, 12406, 'an epoch as long as instance sampling');
    classFrequencies(indices, data.labels, 10).forEach((count, c) => {
      counts[c]! += count;
    });
    for (const index of indices) if (data.labels[index] === 9) tailItems.set(index, (tailItems.get(index) ?? 0) + 1);
  }
  const chi = chiSquare(counts, new Array(10).fill(0.1));
  assert.ok(chi < CHI_SQUARE_9_DOF_P001, `chi-square ${chi}: ${counts}`);
  assert.equal(tailItems.size, 50, 'every tail item drawn');
  const tail = [...tailItems.values()];
  const tailChi = chiSquare(tail, new Array(50).fill(1 / 50));
  assert.ok(tailChi < 85.35, `within the tail class: chi-square ${tailChi} over 49 degrees of freedom`);
  assert.deepEqual(sampler.epochIndices(3), sampler.epochIndices(3));
  assert.equal(new ClassAwareSampler(data, { kind: 'classBalanced' }, { seed: 7, numSamples: 100 }).epochIndices(0).length, 100);
});

test('square-root: class probability proportional to sqrt(n_c)', () => {
  const data = cifar10LtLabels();
  const sampler = new ClassAwareSampler(data, { kind: 'squareRoot' }, { seed: 3 });
  const roots = data.counts.map(Math.sqrt);
  const expected = roots.map((root) => root / roots.reduce((a, b) => a + b, 0));
  assert.deepEqual(
    [...sampler.classProbabilities(0)].map((p) => p.toFixed(12)),
    expected.map((p) => p.toFixed(12)),
  );
  const counts = new Array<number>(10).fill(0);
  for (let epoch = 0; epoch < 4; epoch++)
    classFrequencies(sampler.epochIndices(epoch), data.labels, 10).forEach((count, c) => {
      counts[c]! += count;
    });
  const chi = chiSquare(counts, expected);
  assert.ok(chi < CHI_SQUARE_9_DOF_P001, `chi-square ${chi}: ${counts}`);
});

test('progressively balanced: instance-like at epoch 0, halfway at T/2, class-balanced from T on', () => {
  const data = cifar10LtLabels();
  const sampler = new ClassAwareSampler(data, { kind: 'progressive', totalEpochs: 10 }, { seed: 5 });
  const instance = data.counts.map((count) => count / 12406);
  const close = (actual: Float64Array, expected: number[]): void =>
    expected.forEach((p, c) => assert.ok(Math.abs(actual[c]! - p) < 1e-12, `class ${c}: ${actual[c]} vs ${p}`));
  close(sampler.classProbabilities(0), instance);
  close(
    sampler.classProbabilities(5),
    instance.map((p) => 0.5 * p + 0.05),
  );
  close(sampler.classProbabilities(10), new Array(10).fill(0.1));
  close(sampler.classProbabilities(15), new Array(10).fill(0.1));
  for (const epoch of [0, 5, 10]) {
    const counts = classFrequencies(sampler.epochIndices(epoch), data.labels, 10);
    const chi = chiSquare(counts, sampler.classProbabilities(epoch));
    assert.ok(chi < CHI_SQUARE_9_DOF_P001, `epoch ${epoch}: chi-square ${chi}: ${counts}`);
  }
  assert.throws(() => new ClassAwareSampler(data, { kind: 'progressive', totalEpochs: 0 }, { seed: 0 }), /totalEpochs > 0/);
});

test('empty classes are never drawn; the others share the balance', () => {
  const labels = Int32Array.from([0, 0, 0, 2, 2, 3]);
  const sampler = new ClassAwareSampler({ labels, numClasses: 4, length: 6 }, { kind: 'classBalanced' }, { seed: 1, numSamples: 30_000 });
  assert.deepEqual([...sampler.classProbabilities(0)], [1 / 3, 0, 1 / 3, 1 / 3]);
  const counts = classFrequencies(sampler.epochIndices(0), labels, 4);
  assert.equal(counts[1], 0);
  for (const c of [0, 2, 3]) assert.ok(Math.abs(counts[c]! - 10_000) < 400, `class ${c}: ${counts[c]}`);
});

test('batches cut the epoch in order; dropLast drops only a short last batch', () => {
  const sampler = new RandomSampler(10, { seed: 4 });
  const kept = new ChunkedBatchSampler(sampler, 4).epochBatches(2);
  assert.deepEqual(
    kept.map((batch) => batch.length),
    [4, 4, 2],
  );
  assert.deepEqual(
    kept.flatMap((batch) => [...batch]),
    [...sampler.epochIndices(2)],
  );
  assert.deepEqual(
    new ChunkedBatchSampler(sampler, 4, { dropLast: true }).epochBatches(2).map((batch) => batch.length),
    [4, 4],
  );
  assert.deepEqual(
    new ChunkedBatchSampler(sampler, 5, { dropLast: true }).epochBatches(2).map((batch) => batch.length),
    [5, 5],
  );
  assert.throws(() => new ChunkedBatchSampler(sampler, 0), /positive integer/);
});

test("the ranks' shares of a global batch are contiguous, cover it once, in rank order, within one item of each other", () => {
  for (const size of [1, 7, 127, 128, 256]) {
    for (let worldSize = 1; worldSize <= Math.min(size, 8); worldSize++) {
      const shares = Array.from({ length: worldSize }, (_, rank) => shardRange(size, rank, worldSize));
      assert.equal(shares[0]!.start, 0);
      assert.equal(shares[worldSize - 1]!.end, size);
      shares.forEach((share, rank) => {
        if (rank > 0) assert.equal(share.start, shares[rank - 1]!.end);
      });
      const sizes = shares.map((share) => share.end - share.start);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${size} over ${worldSize}: ${sizes}`);
    }
  }
  assert.throws(() => shardRange(8, 2, 2), /rank 2 of world size 2 is not a valid rank/);
});
