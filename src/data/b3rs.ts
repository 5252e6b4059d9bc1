// B3RS (Block-based Relatively Balanced Batch Sampler, GRBS in the later paper): batches drawn from blocks of
// frequency-sorted classes, in shares between instance and block-balanced sampling, to steady the whitening
// layer's batch statistics on long-tailed data (docs/paper.md, claim 4; BET, which embeds its batches in instance
// sampling, is bet.ts). Only its outline is published; docs/method.md ("B3RS") gives the design chosen here and
// why. Like every batch sampler, it is a pure function of (options, seed, epoch).
import type { Dataset } from './dataset.js';
import { Rng, STREAM } from './random.js';
import type { BatchSampler } from './samplers.js';

/** How the frequency-sorted classes are cut into contiguous blocks. */
export type Blocking = 'classes' | 'images';

export interface B3RSOptions {
  seed: number;
  /** K, the number of blocks (default 4). */
  numBlocks?: number;
  /** Block k's share of a batch is proportional to N_k^q (default 0.5): 1 is instance-like, 0 block-balanced. */
  q?: number;
  /** 'classes' (default): blocks of equal numbers of classes; 'images': of about equal numbers of images. */
  blocking?: Blocking;
  /** Batches per epoch; default floor(N / batchSize), instance sampling's full batches. */
  numBatches?: number;
}

/** What the samplers read of a data set. */
export type LabelledData = Pick<Dataset, 'labels' | 'numClasses' | 'length'>;

export function assertInteger(value: number, name: string, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
}

/**
 * Where the K blocks start and end in the frequency-sorted classes (K + 1 boundaries). 'images' puts cut k
 * where the running total of images comes closest to k N / K (the earlier cut on a tie), keeping at least
 * one class for each block.
 */
function blockBoundaries(sortedCounts: readonly number[], numBlocks: number, blocking: Blocking): number[] {
  const numClasses = sortedCounts.length;
  if (blocking === 'classes') return Array.from({ length: numBlocks + 1 }, (_, k) => Math.floor((k * numClasses) / numBlocks));
  const runningTotal = [0];
  for (const count of sortedCounts) runningTotal.push(runningTotal[runningTotal.length - 1]! + count);
  const total = runningTotal[numClasses]!;
  const boundaries = [0];
  for (let k = 1; k < numBlocks; k++) {
    const target = (k * total) / numBlocks;
    let cut = boundaries[k - 1]! + 1;
    for (let j = cut + 1; j <= numClasses - (numBlocks - k); j++) {
      if (Math.abs(runningTotal[j]! - target) < Math.abs(runningTotal[cut]! - target)) cut = j;
    }
    boundaries.push(cut);
  }
  boundaries.push(numClasses);
  return boundaries;
}

/**
 * Integer slots for each block: at least 1 each, summing to `total`, otherwise by largest remainder.
 * A block whose quota falls below 1 is held at 1 and the others share the rest in proportion to their
 * weights (repeated until no quota falls below 1); every other block gets the floor or the ceiling of its
 * quota: exact Hamilton apportionment whenever no block needs lifting.
 */
function apportion(weights: Float64Array, total: number): Int32Array {
  const lifted = new Array<boolean>(weights.length).fill(false);
  const quotasWith = (): number[] => {
    const liftedCount = lifted.filter(Boolean).length;
    const freeWeight = weights.reduce((sum, weight, k) => (lifted[k] ? sum : sum + weight), 0);
    return Array.from(weights, (weight, k) => (lifted[k] ? 1 : ((total - liftedCount) * weight) / freeWeight));
  };
  let quotas = quotasWith();
  // Each round lifts at least one block and the free quotas average >= 1 (total >= blocks): it ends.
  while (quotas.some((quota) => quota < 1)) {
    quotas.forEach((quota, k) => {
      if (quota < 1) lifted[k] = true;
    });
    quotas = quotasWith();
  }
  const counts = Int32Array.from(quotas, Math.floor);
  const left = total - counts.reduce((sum, count) => sum + count, 0);
  const byRemainder = Array.from(quotas.keys()).sort((a, b) => quotas[b]! - counts[b]! - (quotas[a]! - counts[a]!) || a - b);
  for (const k of byRemainder.slice(0, left)) counts[k]!++;
  return counts;
}

/**
 * The group of each of sum(counts) positions, group g taking counts[g] of them, spread so that every prefix
 * holds each group within 1 - 1/(2G - 2) of its proportional number (Tijdeman's chairman assignment,
 * 1980): any contiguous stretch, such as a rank's share of a batch, is then within 2 of proportional.
 * At each position the group with the earliest deadline among those far enough behind takes it.
 */
export function spreadSlots(counts: ArrayLike<number>): Int32Array {
  const groups = counts.length;
  const total = Array.from(counts).reduce((sum, count) => sum + count, 0);
  const slack = Math.max(1, 2 * groups - 2); // eps = 1 / slack; one group needs no spreading
  const placed = new Array<number>(groups).fill(0);
  const slots = new Int32Array(total);
  for (let position = 0; position < total; position++) {
    let chosen = -1;
    for (let g = 0; g < groups; g++) {
      // eligible: (position + 1) share_g - placed_g >= eps; deadline: (placed_g + 1 - eps) / share_g
      if (((position + 1) * counts[g]! - total * placed[g]!) * slack < total) continue;
      if (chosen < 0 || ((placed[g]! + 1) * slack - 1) * counts[chosen]! < ((placed[chosen]! + 1) * slack - 1) * counts[g]!) chosen = g;
    }
    if (chosen < 0) throw new Error("spreadSlots: no eligible group (Tijdeman's theorem says there always is one)");
    slots[position] = chosen;
    placed[chosen]!++;
  }
  return slots;
}

/** `count` items drawn from `items` as consecutive fresh permutations: without replacement while they last. */
function permutationStream(items: Int32Array, count: number, rng: Rng): Int32Array {
  const stream = new Int32Array(count);
  for (let filled = 0; filled < count; filled += items.length) {
    const permutation = rng.shuffle(items.slice());
    stream.set(permutation.subarray(0, count - filled), filled);
  }
  return stream;
}

/**
 * B3RS: the classes, sorted by training frequency, are cut into K contiguous blocks; every batch holds a
 * fixed number of items of every block (blockCounts, about proportional to N_k^q, at least 1), drawn
 * uniformly from the block's items, without replacement within an epoch while the block has enough.
 */
export class B3RSBatchSampler implements BatchSampler {
  readonly numBlocks: number;
  readonly q: number;
  readonly blocking: Blocking;
  readonly numBatches: number;
  /** Each block's classes, most frequent first; block 0 is the head. */
  readonly blockClasses: Int32Array[];
  /** Each class's block; -1 for a class without training images (never drawn). */
  readonly classBlock: Int32Array;
  /** N_k, the training images of each block. */
  readonly blockSizes: Int32Array;
  /** N_k^q / sum_j N_j^q: each block's designed share of a batch before rounding. */
  readonly shares: Float64Array;
  /** Each block's items in every batch (sum: batchSize). */
  readonly blockCounts: Int32Array;
  /** The block of each batch position, the blocks spread evenly along the batch (spreadSlots). */
  readonly slotBlocks: Int32Array;
  private readonly blockItems: Int32Array[];

  constructor(
    dataset: LabelledData,
    readonly batchSize: number,
    readonly options: B3RSOptions,
  ) {
    this.numBlocks = options.numBlocks ?? 4;
    this.q = options.q ?? 0.5;
    this.blocking = options.blocking ?? 'classes';
    assertInteger(batchSize, 'B3RS batchSize', 1);
    assertInteger(this.numBlocks, 'B3RS numBlocks', 1);
    if (!(this.q >= 0 && this.q <= 1)) throw new RangeError(`B3RS q must lie in [0, 1], got ${this.q}`);
    if (this.blocking !== 'classes' && this.blocking !== 'images')
      throw new RangeError(`B3RS blocking must be 'classes' or 'images', got '${String(this.blocking)}'`);
    const byClass: number[][] = Array.from({ length: dataset.numClasses }, () => []);
    dataset.labels.forEach((label, index) => byClass[label]!.push(index));
    // Most frequent first; equal counts in class order, so the blocks never depend on sort stability.
    const sorted = Array.from(byClass.keys())
      .filter((c) => byClass[c]!.length > 0)
      .sort((a, b) => byClass[b]!.length - byClass[a]!.length || a - b);
    if (this.numBlocks > sorted.length)
      throw new RangeError(`B3RS numBlocks ${this.numBlocks} exceeds the ${sorted.length} classes that have images`);
    if (batchSize < this.numBlocks)
      throw new RangeError(`B3RS: a batch of ${batchSize} cannot hold an item of each of ${this.numBlocks} blocks`);
    this.numBatches = options.numBatches ?? Math.floor(dataset.length / batchSize);
    assertInteger(this.numBatches, `B3RS numBatches (data set of ${dataset.length} items, batches of ${batchSize})`, 1);

    const boundaries = blockBoundaries(
      sorted.map((c) => byClass[c]!.length),
      this.numBlocks,
      this.blocking,
    );
    this.blockClasses = Array.from({ length: this.numBlocks }, (_, k) => Int32Array.from(sorted.slice(boundaries[k], boundaries[k + 1])));
    this.classBlock = new Int32Array(dataset.numClasses).fill(-1);
    this.blockClasses.forEach((classes, k) =>
      classes.forEach((c) => {
        this.classBlock[c] = k;
      }),
    );
    this.blockItems = this.blockClasses.map((classes) => Int32Array.from(Array.from(classes).flatMap((c) => byClass[c]!)));
    this.blockSizes = Int32Array.from(this.blockItems, (items) => items.length);
    const weights = Float64Array.from(this.blockSizes, (size) => size ** this.q);
    const weightSum = weights.reduce((sum, weight) => sum + weight, 0);
    this.shares = weights.map((weight) => weight / weightSum);
    this.blockCounts = apportion(this.shares, batchSize);
    this.slotBlocks = spreadSlots(this.blockCounts);
  }

  epochBatches(epoch: number): Int32Array[] {
    // The block as a fourth key sets these streams apart from each other and from instance sampling's.
    const streams = this.blockItems.map((items, k) =>
      permutationStream(items, this.numBatches * this.blockCounts[k]!, Rng.fromKeys(STREAM.sampler, this.options.seed, epoch, k)),
    );
    const taken = new Int32Array(this.numBlocks);
    return Array.from({ length: this.numBatches }, () => this.slotBlocks.map((k) => streams[k]![taken[k]!++]!));
  }
}
