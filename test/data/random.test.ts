// The data pipeline's generator: the reference xoshiro128** outputs, exact resume from a JSON state,
// keyed streams, and uniformity of its integers.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Rng } from '../../src/data/index.js';

test('xoshiro128** matches the reference C implementation from state [1, 2, 3, 4]', () => {
  const rng = Rng.fromState([1, 2, 3, 4]);
  // Printed by Blackman & Vigna's xoshiro128starstar.c with s = {1, 2, 3, 4}.
  const reference = [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849];
  assert.deepEqual(
    Array.from({ length: 8 }, () => rng.nextUint32()),
    reference,
  );
});

test('a state saved as JSON mid-stream resumes the exact same numbers', () => {
  const rng = Rng.fromKeys(7, 3);
  for (let i = 0; i < 100; i++) rng.nextFloat();
  const saved = JSON.stringify(rng.getState());
  const expected = Array.from({ length: 50 }, () => rng.nextUint32());
  const resumed = Rng.fromState(JSON.parse(saved));
  assert.deepEqual(
    Array.from({ length: 50 }, () => resumed.nextUint32()),
    expected,
  );
  assert.throws(() => Rng.fromState([0, 0, 0, 0]), /must not be all zeros/);
  assert.throws(() => Rng.fromState([1, 2, 3, 2 ** 32] as never), /four unsigned 32-bit integers/);
});

test('keyed streams: equal keys give equal streams, any different key another one', () => {
  const first = (rng: Rng): number[] => Array.from({ length: 4 }, () => rng.nextUint32());
  assert.deepEqual(first(Rng.fromKeys(1, 2, 3)), first(Rng.fromKeys(1, 2, 3)));
  const streams = new Set<string>();
  for (const keys of [
    [1, 2, 3],
    [1, 2, 4],
    [1, 3, 2],
    [2, 2, 3],
    [1, 2],
    [1, 2, 3, 0],
    [2 ** 40, 2, 3],
    [0, 2, 3],
  ]) {
    streams.add(first(Rng.fromKeys(...keys)).join(','));
  }
  assert.equal(streams.size, 8);
  assert.throws(() => Rng.fromKeys(-1), /non-negative safe integer/);
  assert.throws(() => Rng.fromKeys(0.5), /non-negative safe integer/);
});

test('nextInt is uniform (chi-square) and nextFloat stays in [0, 1)', () => {
  const rng = Rng.fromKeys(42);
  const bins = 10;
  const draws = 100_000;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < draws; i++) counts[rng.nextInt(bins)]!++;
  const expected = draws / bins;
  const chiSquare = counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
  assert.ok(chiSquare < 27.88, `chi-square ${chiSquare} over 9 degrees of freedom (p = 0.001 bound 27.88)`);
  let low = 1;
  let high = 0;
  for (let i = 0; i < 10_000; i++) {
    const value = rng.nextFloat();
    low = Math.min(low, value);
    high = Math.max(high, value);
  }
  assert.ok(low >= 0 && low < 0.001 && high < 1 && high > 0.999);
});

test('shuffle gives a permutation, and every position is equally likely for an item', () => {
  const rng = Rng.fromKeys(5);
  const firstPlace = new Array<number>(5).fill(0);
  for (let trial = 0; trial < 20_000; trial++) {
    const order = rng.shuffle(Int32Array.from([0, 1, 2, 3, 4]));
    assert.deepEqual([...order].sort(), [0, 1, 2, 3, 4]);
    firstPlace[order[0]!]!++;
  }
  for (const count of firstPlace) assert.ok(Math.abs(count - 4000) < 250, `item first ${count} times of 20,000 (expected 4,000)`);
});
