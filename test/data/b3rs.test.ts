// B3RS and BET: blocks cut from the frequency-sorted classes, the designed per-batch counts in every batch
// and over an epoch, sampling within a block without replacement while it lasts, the spread of blocks along
// a batch (so every rank's share holds every block), determinism, BET's placement and composition, errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  B3RSBatchSampler,
  BatchEmbeddedSampler,
  ChunkedBatchSampler,
  RandomSampler,
  longTailCounts,
  shardRange,
  spreadSlots,
} from '../../src/data/index.js';

interface Labelled {
  labels: Int32Array;
  numClasses: number;
  length: number;
}

/** Labels with counts[c] items of class c, the classes interleaved as records are. */
function labelled(counts: readonly number[]): Labelled {
  const labels: number[] = [];
  const left = [...counts];
  while (left.some((n) => n > 0))
    left.forEach((n, c) => {
      if (n > 0) {
        labels.push(c);
        left[c]!--;
      }
    });
  return { labels: Int32Array.from(labels), numClasses: counts.length, length: labels.length };
}

/** CIFAR-10-LT IR100's counts (5000 ... 50, 12,406 images), dealt to the classes out of frequency order. */
const SCRAMBLE = [3, 7, 0, 9, 1, 5, 8, 2, 6, 4];
function scrambledCifar10Lt(): Labelled & { byRank: number[] } {
  const ranked = longTailCounts(5000, 10, 100); // ranked[r]: the r-th most frequent count
  const counts = new Array<number>(10);
  SCRAMBLE.forEach((c, r) => {
    counts[c] = ranked[r]!;
  });
  return { ...labelled(counts), byRank: ranked };
}

/** How many items of each block a list of positions holds. */
function blockTally(sampler: B3RSBatchSampler, data: Labelled, items: ArrayLike<number>): number[] {
  const tally = new Array<number>(sampler.numBlocks).fill(0);
  for (let i = 0; i < items.length; i++) tally[sampler.classBlock[data.labels[items[i]!]!]!]!++;
  return tally;
}

test('blocks: classes sorted by frequency, cut into equal numbers of classes or about equal numbers of images', () => {
  const data = scrambledCifar10Lt();
  const byClasses = new B3RSBatchSampler(data, 128, { seed: 0, numBlocks: 4 });
  assert.deepEqual(
    byClasses.blockClasses.map((block) => [...block]),
    [
      [3, 7],
      [0, 9, 1],
      [5, 8],
      [2, 6, 4],
    ],
  );
  const r = data.byRank;
  assert.deepEqual([...byClasses.blockSizes], [r[0]! + r[1]!, r[2]! + r[3]! + r[4]!, r[5]! + r[6]!, r[7]! + r[8]! + r[9]!]);
  assert.deepEqual([...byClasses.classBlock], [1, 1, 3, 0, 3, 2, 3, 0, 2, 1]);
  // Equal images: cuts nearest 4135 and 8271 of 12406 fall after the first class (5000) and the second (7997).
  const byImages = new B3RSBatchSampler(data, 128, { seed: 0, numBlocks: 3, blocking: 'images' });
  assert.deepEqual(
    byImages.blockClasses.map((block) => [...block]),
    [[3], [7], [0, 9, 1, 5, 8, 2, 6, 4]],
  );
  assert.deepEqual([...byImages.blockSizes], [5000, 2997, 4409]);
  // Ten blocks of ten classes: one class each, and the images cut cannot leave a block empty.
  assert.deepEqual(
    new B3RSBatchSampler(data, 128, { seed: 0, numBlocks: 10, blocking: 'images' }).blockClasses.map((b) => [...b]),
    SCRAMBLE.map((c) => [c]),
  );
});

test('per-batch counts: largest remainder on N_k^q shares, a floor of one per block', () => {
  const data = labelled(longTailCounts(5000, 10, 100));
  // q = 1, blocks of 2 classes: quotas 82.46, 29.64, 10.65, 3.83, 1.37; floors 82, 29, 10, 3, 1 leave 3 slots
  // for the largest remainders (.83, .65, .64).
  const instanceLike = new B3RSBatchSampler(data, 128, { seed: 0, numBlocks: 5, q: 1 });
  assert.deepEqual([...instanceLike.blockSizes], [7997, 2873, 1032, 371, 133]);
  assert.deepEqual([...instanceLike.blockCounts], [82, 30, 11, 4, 1]);
  // q = 0.5: shares proportional to sqrt(N_k).
  const roots = [7997, 2873, 1032, 371, 133].map(Math.sqrt);
  const half = new B3RSBatchSampler(data, 128, { seed: 0, numBlocks: 5, q: 0.5 });
  half.shares.forEach((share, k) => assert.ok(Math.abs(share - roots[k]! / roots.reduce((a, b) => a + b)) < 1e-15));
  assert.deepEqual([...half.blockCounts], [56, 33, 20, 12, 7]);
  assert.deepEqual([...new B3RSBatchSampler(data, 128, { seed: 0, numBlocks: 5, q: 0 }).blockCounts], [26, 26, 26, 25, 25]);
  // A block whose quota is below 1 is lifted to 1, the others share the remaining 19 slots 1000 : 90.
  const lifted = new B3RSBatchSampler(labelled([1000, 90, 10]), 20, { seed: 0, numBlocks: 3, q: 1 });
  assert.deepEqual([...lifted.blockCounts], [17, 2, 1]);
  assert.deepEqual([...new B3RSBatchSampler(labelled([1000, 90, 10]), 3, { seed: 0, numBlocks: 3, q: 1 }).blockCounts], [1, 1, 1]);
});

test('q = 1: per-batch counts within one slot of batchSize * N_k / N, blocks below one slot lifted to one', () => {
  const data = labelled(longTailCounts(500, 100, 100));
  let lifts = 0;
  for (const batchSize of [32, 100, 128, 256]) {
    for (const numBlocks of [1, 2, 3, 7, 10, 16]) {
      for (const blocking of ['classes', 'images'] as const) {
        const sampler = new B3RSBatchSampler(data, batchSize, { seed: 0, numBlocks, q: 1, blocking });
        const sizes = [...sampler.blockSizes];
        assert.equal(
          sampler.blockCounts.reduce((a, b) => a + b),
          batchSize,
        );
        // Instance sampling's expected counts; where some fall below 1, those blocks get 1 and the rest
        // share what is left in the same proportions.
        const small = sizes.map((size) => (batchSize * size) / data.length < 1);
        const freeImages = sizes.reduce((sum, size, k) => (small[k] ? sum : sum + size), 0);
        const room = batchSize - small.filter(Boolean).length;
        if (small.includes(true)) lifts++;
        sizes.forEach((size, k) => {
          const count = sampler.blockCounts[k]!;
          if (small[k]) return assert.equal(count, 1);
          const quota = (room * size) / freeImages;
          assert.ok(Math.abs(count - quota) < 1, `B ${batchSize} K ${numBlocks} ${blocking}: block ${k} ${count} vs ${quota}`);
        });
      }
    }
  }
  assert.ok(lifts > 0 && lifts < 48, `both cases occur (${lifts} of 48 with lifted blocks)`);
});

test('every batch holds every block in its designed count; over an epoch each block has exactly its share', () => {
  const data = scrambledCifar10Lt();
  const sampler = new B3RSBatchSampler(data, 128, { seed: 11, numBlocks: 5, q: 0.5 });
  const batches = sampler.epochBatches(3);
  assert.equal(batches.length, Math.floor(12406 / 128), "instance sampling's full batches");
  const epochTally = new Array<number>(5).fill(0);
  for (const batch of batches) {
    assert.equal(batch.length, 128);
    const tally = blockTally(sampler, data, batch);
    assert.deepEqual(tally, [...sampler.blockCounts]);
    assert.ok(tally.every((count) => count > 0));
    // Position by position, the block the pattern names.
    batch.forEach((item, position) => assert.equal(sampler.classBlock[data.labels[item]!], sampler.slotBlocks[position]));
    tally.forEach((count, k) => {
      epochTally[k]! += count;
    });
  }
  const total = batches.length * 128;
  epochTally.forEach((count, k) => assert.equal(count / total, sampler.blockCounts[k]! / 128));
});

test('within a block: uniform, without replacement while the block lasts, then fresh permutations', () => {
  const data = scrambledCifar10Lt();
  const sampler = new B3RSBatchSampler(data, 128, { seed: 5, numBlocks: 5, q: 0.5 });
  const uses = new Map<number, number>();
  for (const batch of sampler.epochBatches(0)) for (const item of batch) uses.set(item, (uses.get(item) ?? 0) + 1);
  sampler.blockSizes.forEach((size, k) => {
    const needed = sampler.numBatches * sampler.blockCounts[k]!;
    const counts: number[] = [];
    data.labels.forEach((label, item) => {
      if (sampler.classBlock[label] === k) counts.push(uses.get(item) ?? 0);
    });
    assert.equal(counts.length, size);
    // Consecutive permutations: every item of the block drawn floor or ceil(needed / size) times, or at most once.
    const low = Math.floor(needed / size);
    assert.ok(
      counts.every((count) => count === low || count === low + 1),
      `block ${k}: ${needed} of ${size}`,
    );
    assert.equal(
      counts.reduce((a, b) => a + b),
      needed,
    );
  });
  assert.ok(sampler.blockSizes[0]! > sampler.numBatches * sampler.blockCounts[0]!, 'the head block is drawn without replacement');
  assert.ok(sampler.blockSizes[4]! < sampler.numBatches * sampler.blockCounts[4]!, 'the tail block cycles');
});

test('deterministic in (seed, epoch); another seed or epoch gives other batches', () => {
  const data = scrambledCifar10Lt();
  const sampler = new B3RSBatchSampler(data, 64, { seed: 1, numBlocks: 4 });
  assert.deepEqual(sampler.epochBatches(2), new B3RSBatchSampler(data, 64, { seed: 1, numBlocks: 4 }).epochBatches(2));
  assert.notDeepEqual(sampler.epochBatches(3), sampler.epochBatches(2));
  assert.notDeepEqual(new B3RSBatchSampler(data, 64, { seed: 2, numBlocks: 4 }).epochBatches(2), sampler.epochBatches(2));
});

test('blocks are spread along a batch: any stretch of L positions holds block k within 2 of L c_k / B', () => {
  // Tijdeman's bound on every prefix, for random counts.
  let state = 12345;
  const random = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  for (let trial = 0; trial < 300; trial++) {
    const counts = Array.from({ length: 1 + Math.floor(random() * 8) }, () => 1 + Math.floor(random() ** 3 * 80));
    const total = counts.reduce((a, b) => a + b);
    const bound = counts.length === 1 ? 0 : 1 - 1 / Math.max(2, 2 * counts.length - 2);
    const placed = counts.map(() => 0);
    spreadSlots(counts).forEach((group, position) => {
      placed[group]!++;
      counts.forEach((count, g) =>
        assert.ok(Math.abs(placed[g]! - ((position + 1) * count) / total) <= bound + 1e-12, `${counts} at ${position}`),
      );
    });
    assert.deepEqual(placed, counts);
  }
  // So every rank's contiguous share of a B3RS batch holds every block with c_k L / B >= 2.
  const data = scrambledCifar10Lt();
  const sampler = new B3RSBatchSampler(data, 128, { seed: 3, numBlocks: 4, q: 0.5 });
  const batch = sampler.epochBatches(0)[0]!;
  for (let worldSize = 1; worldSize <= 8; worldSize++) {
    const covered: number[] = [];
    for (let rank = 0; rank < worldSize; rank++) {
      const { start, end } = shardRange(batch.length, rank, worldSize);
      covered.push(...batch.subarray(start, end));
      blockTally(sampler, data, batch.subarray(start, end)).forEach((count, k) => {
        const expected = ((end - start) * sampler.blockCounts[k]!) / 128;
        assert.ok(Math.abs(count - expected) < 2, `${worldSize} ranks, rank ${rank}, block ${k}: ${count} vs ${expected}`);
      });
    }
    assert.deepEqual(covered, [...batch], 'the shares partition the global batch in order');
  }
});

test('BET interleave: instance batches until startEpoch, then every period-th batch is B3RS batch j', () => {
  const data = scrambledCifar10Lt();
  const bet = new BatchEmbeddedSampler(data, 128, { mode: 'interleave', period: 3, startEpoch: 2, seed: 9, b3rs: { numBlocks: 4 } });
  const instance = new ChunkedBatchSampler(new RandomSampler(data.length, { seed: 9 }), 128, { dropLast: true });
  const numBatches = Math.floor(12406 / 128);
  for (const epoch of [0, 1]) {
    assert.deepEqual(bet.epochBatches(epoch), instance.epochBatches(epoch), `epoch ${epoch}: plain instance sampling`);
    assert.deepEqual(bet.embeddedBatches(epoch), []);
    assert.equal(bet.embeddedPositions(epoch, 2).length, 0);
  }
  const expected = Array.from({ length: numBatches }, (_, j) => j).filter((j) => j % 3 === 2);
  assert.deepEqual(bet.embeddedBatches(2), expected);
  const batches = bet.epochBatches(2);
  const plain = instance.epochBatches(2);
  const b3rs = bet.b3rs.epochBatches(2);
  assert.equal(batches.length, numBatches, 'an embedded batch replaces an instance batch');
  batches.forEach((batch, j) => {
    if (expected.includes(j)) {
      assert.deepEqual(batch, b3rs[j]);
      assert.deepEqual(blockTally(bet.b3rs, data, batch), [...bet.b3rs.blockCounts]);
      assert.deepEqual(
        [...bet.embeddedPositions(2, j)],
        Array.from({ length: 128 }, (_, i) => i),
      );
    } else {
      assert.deepEqual(batch, plain[j]);
      assert.equal(bet.embeddedPositions(2, j).length, 0);
    }
  });
  const everyBatch = new BatchEmbeddedSampler(data, 128, { mode: 'interleave', period: 1, seed: 9, b3rs: { numBlocks: 4 } });
  assert.deepEqual(everyBatch.epochBatches(0), new B3RSBatchSampler(data, 128, { seed: 9, numBlocks: 4 }).epochBatches(0));
});

test('BET concat: each batch gains a B3RS sub-batch spread along it; the instance part is unchanged', () => {
  const data = scrambledCifar10Lt();
  const bet = new BatchEmbeddedSampler(data, 64, {
    mode: 'concat',
    subBatchSize: 16,
    startEpoch: 1,
    seed: 4,
    b3rs: { numBlocks: 4, q: 0 },
  });
  const instance = new ChunkedBatchSampler(new RandomSampler(data.length, { seed: 4 }), 64, { dropLast: true });
  assert.deepEqual(bet.epochBatches(0), instance.epochBatches(0));
  assert.deepEqual([...bet.b3rs.blockCounts], [4, 4, 4, 4]);
  const batches = bet.epochBatches(1);
  const plain = instance.epochBatches(1);
  assert.equal(batches.length, plain.length);
  assert.deepEqual(
    bet.embeddedBatches(1),
    batches.map((_, j) => j),
  );
  const positions = bet.embeddedPositions(1, 0);
  assert.equal(positions.length, 16);
  batches.forEach((batch, j) => {
    assert.equal(batch.length, 80);
    const sub = [...positions].map((p) => batch[p]!);
    assert.deepEqual(blockTally(bet.b3rs, data, sub), [4, 4, 4, 4]);
    assert.deepEqual(sub, [...bet.b3rs.epochBatches(1)[j]!]);
    assert.deepEqual(
      batch.filter((_, p) => !positions.includes(p)),
      plain[j],
    );
    // Spread: each of 4 ranks' 20 items holds 4 sub-batch items.
    for (let rank = 0; rank < 4; rank++) {
      const { start, end } = shardRange(batch.length, rank, 4);
      assert.equal(positions.filter((p) => p >= start && p < end).length, 4);
    }
  });
});

test('bad options are errors', () => {
  const data = labelled([50, 20, 10, 0]);
  const b3rs = (batchSize: number, options: object): B3RSBatchSampler => new B3RSBatchSampler(data, batchSize, { seed: 0, ...options });
  assert.throws(() => b3rs(8, { numBlocks: 4 }), /numBlocks 4 exceeds the 3 classes that have images/);
  assert.throws(() => b3rs(2, { numBlocks: 3 }), /a batch of 2 cannot hold an item of each of 3 blocks/);
  for (const q of [-0.1, 1.5, Number.NaN]) assert.throws(() => b3rs(8, { numBlocks: 2, q }), /q must lie in \[0, 1\]/);
  assert.throws(() => b3rs(8, { numBlocks: 0 }), /numBlocks must be an integer >= 1/);
  assert.throws(() => b3rs(8, { numBlocks: 2, blocking: 'images-ish' }), /blocking must be 'classes' or 'images'/);
  assert.throws(() => b3rs(81, { numBlocks: 2 }), /numBatches \(data set of 80 items, batches of 81\) must be an integer >= 1, got 0/);
  assert.throws(() => b3rs(2.5, { numBlocks: 2 }), /batchSize must be an integer >= 1/);
  const sampler = b3rs(8, { numBlocks: 3 });
  assert.deepEqual([...sampler.classBlock], [0, 1, 2, -1], 'an empty class belongs to no block');
  const bet = (options: object): BatchEmbeddedSampler =>
    new BatchEmbeddedSampler(data, 8, { seed: 0, b3rs: { numBlocks: 3 }, ...options } as never);
  for (const period of [0, 1.5]) assert.throws(() => bet({ mode: 'interleave', period }), /BET period must be an integer >= 1/);
  assert.throws(() => bet({ mode: 'interleave', period: 2, startEpoch: -1 }), /BET startEpoch must be an integer >= 0/);
  assert.throws(() => bet({ mode: 'concat', subBatchSize: 2 }), /a batch of 2 cannot hold an item of each of 3 blocks/);
  assert.throws(() => bet({ mode: 'mixed', period: 2 }), /BET mode must be 'interleave' or 'concat', got 'mixed'/);
});
