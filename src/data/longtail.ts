// Long-tailed versions of balanced data sets, built as the field builds CIFAR-10-LT and CIFAR-100-LT
// (Cui et al. 2019; Cao et al. 2019, LDAM-DRW's IMBALANCECIFAR10), and the many / medium / few split.
import { type Dataset, Subset, classCounts } from './dataset.js';
import { Rng, STREAM } from './random.js';

/**
 * - exponential: class i keeps floor(nMax * IR^(-i / (C - 1))) images;
 * - step: the first floor(C / 2) classes keep nMax, the others floor(nMax / IR).
 */
export type LongTailProfile = 'exponential' | 'step';

export interface LongTailOptions {
  /** n_max / n_min, e.g. 100, 50, 10. */
  imbalanceRatio: number;
  profile?: LongTailProfile;
  /** The images class 0 keeps; default: the largest class's count. */
  maxPerClass?: number;
  /** Absent: each class keeps its first n_i images in record order (the benchmarks). Set: a random n_i of them. */
  seed?: number;
}

/** How many images each class keeps. Computed as LDAM-DRW's reference code does, to the same integers. */
export function longTailCounts(
  maxPerClass: number,
  numClasses: number,
  imbalanceRatio: number,
  profile: LongTailProfile = 'exponential',
): number[] {
  if (!(imbalanceRatio >= 1)) throw new RangeError(`imbalance ratio must be >= 1, got ${imbalanceRatio}`);
  const factor = 1 / imbalanceRatio;
  return Array.from({ length: numClasses }, (_, i) => {
    if (profile === 'step') return i < Math.floor(numClasses / 2) ? maxPerClass : Math.floor(maxPerClass * factor);
    return numClasses === 1 ? maxPerClass : Math.floor(maxPerClass * factor ** (i / (numClasses - 1)));
  });
}

/** A long-tailed subset of `dataset`: class i keeps n_i of its images; items stay in record order. */
export function makeLongTailed(dataset: Dataset, options: LongTailOptions): Subset {
  const available = classCounts(dataset);
  const maxPerClass = options.maxPerClass ?? Math.max(...available);
  const keep = longTailCounts(maxPerClass, dataset.numClasses, options.imbalanceRatio, options.profile);
  const byClass: number[][] = Array.from({ length: dataset.numClasses }, () => []);
  dataset.labels.forEach((label, index) => byClass[label]!.push(index));
  const rng = options.seed === undefined ? undefined : Rng.fromKeys(STREAM.longTail, options.seed);
  const chosen: number[] = [];
  byClass.forEach((members, label) => {
    const count = keep[label]!;
    if (count > members.length) {
      throw new Error(
        `long-tail construction: class ${label} (${dataset.classNames[label]}) has ${members.length} images, the profile asks for ${count}`,
      );
    }
    if (rng) {
      // A partial Fisher-Yates shuffle: the first `count` places become a uniform random choice.
      for (let i = 0; i < count; i++) {
        const j = i + rng.nextInt(members.length - i);
        [members[i], members[j]] = [members[j]!, members[i]!];
      }
    }
    for (let i = 0; i < count; i++) chosen.push(members[i]!);
  });
  return new Subset(dataset, Int32Array.from(chosen).sort());
}

export interface ShotThresholds {
  /** Classes with more than this many training images are "many-shot" (default 100). */
  many: number;
  /** Classes with fewer than this many are "few-shot" (default 20); the rest are "medium". */
  few: number;
}

/** The many / medium / few class split by training-image counts (> 100, 20-100, < 20 by default). */
export function shotGroups(
  counts: ArrayLike<number>,
  thresholds: ShotThresholds = { many: 100, few: 20 },
): { many: number[]; medium: number[]; few: number[] } {
  const groups = { many: [] as number[], medium: [] as number[], few: [] as number[] };
  for (let label = 0; label < counts.length; label++) {
    const count = counts[label]!;
    const group = count > thresholds.many ? groups.many : count < thresholds.few ? groups.few : groups.medium;
    group.push(label);
  }
  return groups;
}

/**
 * Holds out the last min(perClass, n_c - 1) items of every class, in the data set's order (record order
 * for the long-tailed splits), so that every class keeps at least one training item: a validation set
 * that training never sees, for choosing tau-norm's tau. Both parts keep the data set's order.
 */
export function splitHoldout(dataset: Dataset, perClass: number): { train: Subset; holdout: Subset } {
  if (!(Number.isInteger(perClass) && perClass >= 1)) throw new RangeError(`holdout per class must be an integer >= 1, got ${perClass}`);
  const byClass: number[][] = Array.from({ length: dataset.numClasses }, () => []);
  dataset.labels.forEach((label, index) => byClass[label]!.push(index));
  const train: number[] = [];
  const holdout: number[] = [];
  for (const members of byClass) {
    const kept = members.length - Math.min(perClass, Math.max(members.length - 1, 0));
    train.push(...members.slice(0, kept));
    holdout.push(...members.slice(kept));
  }
  return { train: new Subset(dataset, Int32Array.from(train).sort()), holdout: new Subset(dataset, Int32Array.from(holdout).sort()) };
}
