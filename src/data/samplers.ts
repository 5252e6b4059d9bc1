// Samplers decide which items an epoch visits and in what order; batch samplers cut that into global
// batches. Both are pure functions of their settings (seed included) and the epoch number, so resuming
// at batch k of epoch e needs only the position {epoch: e, batch: k}: the loader recomputes the epoch
// and starts at batch k, exactly. In distributed training every rank computes the same global batches
// and takes its own contiguous share of each (shardRange), so the union of the ranks' batches at a step
// is the single-process global batch.
import type { Dataset } from './dataset.js';
import { Rng, STREAM } from './random.js';

export interface Sampler {
  /** The items (dataset positions) one epoch visits, in order. */
  epochIndices(epoch: number): Int32Array;
}

export interface BatchSampler {
  /** The global batches of one epoch, each a list of dataset positions. */
  epochBatches(epoch: number): Int32Array[];
}

/** Every item once, in order (evaluation). */
export class SequentialSampler implements Sampler {
  constructor(readonly length: number) {}

  epochIndices(): Int32Array {
    return Int32Array.from({ length: this.length }, (_, i) => i);
  }
}

/** Instance sampling: every item once per epoch, shuffled anew each epoch. */
export class RandomSampler implements Sampler {
  constructor(
    readonly length: number,
    readonly options: { seed: number },
  ) {}

  epochIndices(epoch: number): Int32Array {
    const order = Int32Array.from({ length: this.length }, (_, i) => i);
    return Rng.fromKeys(STREAM.sampler, this.options.seed, epoch).shuffle(order);
  }
}

/**
 * How a ClassAwareSampler weighs classes (n_c = images of class c; empty classes are never drawn):
 * - classBalanced: p_c = 1 / C;
 * - squareRoot: p_c proportional to sqrt(n_c);
 * - progressive (Kang et al. 2020): p = (1 - t/T) p_instance + t/T p_balanced at epoch t of T, with
 *   p_instance = n_c / N; from epoch T on it stays class-balanced.
 */
export type ClassSampling = { kind: 'classBalanced' } | { kind: 'squareRoot' } | { kind: 'progressive'; totalEpochs: number };

export interface ClassAwareOptions {
  seed: number;
  /** Items per epoch; default: the data set's length, as instance sampling has. */
  numSamples?: number;
}

/** Draws a class with the chosen probabilities, then an item of that class uniformly, with replacement. */
export class ClassAwareSampler implements Sampler {
  private readonly members: Int32Array[];
  private readonly counts: Int32Array;
  readonly numSamples: number;

  constructor(
    dataset: Pick<Dataset, 'labels' | 'numClasses' | 'length'>,
    readonly sampling: ClassSampling,
    readonly options: ClassAwareOptions,
  ) {
    if (sampling.kind === 'progressive' && !(sampling.totalEpochs > 0)) throw new RangeError('progressive sampling needs totalEpochs > 0');
    if (dataset.length === 0) throw new RangeError('ClassAwareSampler: the data set is empty');
    const byClass: number[][] = Array.from({ length: dataset.numClasses }, () => []);
    dataset.labels.forEach((label, index) => byClass[label]!.push(index));
    this.members = byClass.map((items) => Int32Array.from(items));
    this.counts = Int32Array.from(byClass, (items) => items.length);
    this.numSamples = options.numSamples ?? dataset.length;
  }

  /** The probability of drawing each class at `epoch`. */
  classProbabilities(epoch: number): Float64Array {
    const present = this.counts.filter((count) => count > 0).length;
    const total = this.counts.reduce((sum, count) => sum + count, 0);
    const balanced = Float64Array.from(this.counts, (count) => (count > 0 ? 1 / present : 0));
    switch (this.sampling.kind) {
      case 'classBalanced':
        return balanced;
      case 'squareRoot': {
        const roots = Float64Array.from(this.counts, Math.sqrt);
        const sum = roots.reduce((a, b) => a + b, 0);
        return roots.map((root) => root / sum);
      }
      case 'progressive': {
        const t = Math.min(epoch / this.sampling.totalEpochs, 1);
        return Float64Array.from(this.counts, (count, c) => (1 - t) * (count / total) + t * balanced[c]!);
      }
    }
  }

  epochIndices(epoch: number): Int32Array {
    const probabilities = this.classProbabilities(epoch);
    const cumulative = new Float64Array(probabilities.length);
    let sum = 0;
    probabilities.forEach((p, c) => {
      cumulative[c] = sum += p;
    });
    // Rounding may leave the total a hair under 1; the last drawable class takes that sliver.
    let last = probabilities.length - 1;
    while (probabilities[last] === 0) last--;
    cumulative[last] = 1;
    const rng = Rng.fromKeys(STREAM.sampler, this.options.seed, epoch);
    const indices = new Int32Array(this.numSamples);
    for (let k = 0; k < indices.length; k++) {
      const u = rng.nextFloat();
      let low = 0;
      let high = cumulative.length - 1;
      while (low < high) {
        // the first class whose cumulative probability exceeds u
        const middle = (low + high) >>> 1;
        if (cumulative[middle]! > u) high = middle;
        else low = middle + 1;
      }
      const members = this.members[low]!;
      indices[k] = members[rng.nextInt(members.length)]!;
    }
    return indices;
  }
}

/** Cuts a sampler's epoch into consecutive batches of batchSize; the last, shorter one is kept unless dropLast. */
export class ChunkedBatchSampler implements BatchSampler {
  constructor(
    readonly sampler: Sampler,
    readonly batchSize: number,
    readonly options: { dropLast?: boolean } = {},
  ) {
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  }

  epochBatches(epoch: number): Int32Array[] {
    const indices = this.sampler.epochIndices(epoch);
    const batches: Int32Array[] = [];
    for (let start = 0; start < indices.length; start += this.batchSize) {
      const batch = indices.subarray(start, start + this.batchSize);
      if (batch.length === this.batchSize || !this.options.dropLast) batches.push(batch);
    }
    return batches;
  }
}

/** Rank `rank`'s share [start, end) of a global batch of `size` items: contiguous, sizes differing by at most one. */
export function shardRange(size: number, rank: number, worldSize: number): { start: number; end: number } {
  if (!Number.isInteger(worldSize) || worldSize < 1 || !Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
    throw new RangeError(`rank ${rank} of world size ${worldSize} is not a valid rank`);
  }
  return { start: Math.floor((rank * size) / worldSize), end: Math.floor(((rank + 1) * size) / worldSize) };
}
