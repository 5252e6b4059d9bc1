// Accuracy as the long-tail literature reports it: overall top-1, and the mean per-class accuracy of the
// many-shot (> manyThreshold training images), medium-shot and few-shot (< fewThreshold) classes.
import { type ShotThresholds, shotGroups } from '../data/index.js';

type Shot = 'many' | 'medium' | 'few';

export interface Evaluation {
  top1: number;
  /** Mean per-class accuracy of each group; null when the group has no class. */
  many: number | null;
  medium: number | null;
  few: number | null;
  perClass: number[];
  /** confusion[trueClass][predictedClass] = count */
  confusion: number[][];
  samples: number;
}

function mean(values: number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Scores predictions against labels; classCounts are the training split's, which define the groups. */
export function evaluate(
  predictions: ArrayLike<number>,
  labels: ArrayLike<number>,
  classCounts: readonly number[],
  thresholds: ShotThresholds,
): Evaluation {
  if (predictions.length !== labels.length) {
    throw new RangeError(`evaluate: ${predictions.length} predictions for ${labels.length} labels`);
  }
  const numClasses = classCounts.length;
  const confusion = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    const predicted = predictions[i]!;
    if (label < 0 || label >= numClasses || predicted < 0 || predicted >= numClasses) {
      throw new RangeError(`evaluate: sample ${i} has label ${label} / prediction ${predicted} outside [0, ${numClasses})`);
    }
    confusion[label]![predicted]! += 1;
    if (label === predicted) correct += 1;
  }
  const perClass = confusion.map((row, c) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total === 0 ? 0 : row[c]! / total;
  });
  const groups = shotGroups(classCounts, thresholds);
  const groupAccuracy = (shot: Shot): number | null => mean(groups[shot].map((c) => perClass[c]!));
  return {
    top1: labels.length === 0 ? 0 : correct / labels.length,
    many: groupAccuracy('many'),
    medium: groupAccuracy('medium'),
    few: groupAccuracy('few'),
    perClass,
    confusion,
    samples: labels.length,
  };
}
