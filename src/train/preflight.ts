// The data check before a run directory is created: what would otherwise surface late (after an epoch of
// training, at the first evaluation) or never (a mistyped label silently making empty classes, a CIFAR file
// short of records) is found first, with one line naming it.
import { type Dataset, findBadImages, imageFiles } from '../data/index.js';
import type { Config } from './config.js';
import { type RunData, transformSizeWarning } from './setup.js';

/** The published sizes of the built-in data sets' splits: a file that holds fewer (or more) records is named. */
const OFFICIAL_SIZES: Partial<Record<Config['data']['dataset'], { train: number; test: number }>> = {
  cifar10: { train: 50_000, test: 10_000 },
  cifar100: { train: 50_000, test: 10_000 },
  mnist: { train: 60_000, test: 10_000 },
  'fashion-mnist': { train: 60_000, test: 10_000 },
};

/** How many of the files to name in an error. */
const NAMED = 3;

function labelCounts(dataset: Dataset, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const label of dataset.labels) counts[label]! += 1;
  return counts;
}

/** "3, 7 and 12" (at most 10 named). */
function listed(labels: readonly number[]): string {
  const shown = labels.slice(0, 10).join(', ');
  return labels.length > 10 ? `${shown} and ${labels.length - 10} more` : shown;
}

/**
 * The classes of the two splits must agree unless the config declares them (data.numClasses): a class with test
 * images and no training images, or the reverse, is almost always a mistyped label or a list from another set.
 */
function checkClasses(config: Config, { train, test }: RunData['source']): void {
  const { dataset, numClasses } = config.data;
  if (dataset === 'image-folder' && train.classNames.join('\u0000') !== test.classNames.join('\u0000')) {
    const onlyTrain = train.classNames.filter((name) => !test.classNames.includes(name));
    const onlyTest = test.classNames.filter((name) => !train.classNames.includes(name));
    throw new Error(
      `data: the train/ and test/ folders name different classes (only in train/: ${onlyTrain.join(', ') || 'none'}; ` +
        `only in test/: ${onlyTest.join(', ') || 'none'}): a label is a position among the sorted folder names, so both need the same folders`,
    );
  }
  if (dataset !== 'list-file' || numClasses !== null) return;
  const classes = train.numClasses;
  const inTrain = labelCounts(train, classes);
  const inTest = labelCounts(test, classes);
  const trainOnly = inTrain.flatMap((count, label) => (count > 0 && inTest[label] === 0 ? [label] : []));
  const testOnly = inTest.flatMap((count, label) => (count > 0 && inTrain[label] === 0 ? [label] : []));
  const neither = inTrain.flatMap((count, label) => (count === 0 && inTest[label] === 0 ? [label] : []));
  if (trainOnly.length + testOnly.length + neither.length === 0) return;
  const parts = [
    trainOnly.length > 0
      ? `label${trainOnly.length > 1 ? 's' : ''} ${listed(trainOnly)} only in data.trainList ` +
        `(${trainOnly.reduce((sum, label) => sum + inTrain[label]!, 0)} images)`
      : '',
    testOnly.length > 0 ? `label${testOnly.length > 1 ? 's' : ''} ${listed(testOnly)} only in data.testList` : '',
    neither.length > 0 ? `label${neither.length > 1 ? 's' : ''} ${listed(neither)} in neither list` : '',
  ].filter(Boolean);
  throw new Error(
    `data: the training and test lists disagree on the ${classes} classes that the training list's labels make: ` +
      `${parts.join('; ')}. A mistyped label? Fix the lists, or set data.numClasses if the data set really has such classes`,
  );
}

/** Split sizes against the published ones: a warning (a partial copy may be on purpose), naming both. */
function sizeWarnings(config: Config, { train, test }: RunData['source']): string[] {
  const official = OFFICIAL_SIZES[config.data.dataset];
  if (official === undefined) return [];
  return (['train', 'test'] as const).flatMap((split) => {
    const found = split === 'train' ? train.length : test.length;
    return found === official[split]
      ? []
      : [
          `${config.data.dataset} at ${config.data.root}: the ${split} split has ` +
            `${found.toLocaleString('en')} images, the official one ${official[split].toLocaleString('en')} (a truncated or partial file?)`,
        ];
  });
}

/**
 * Checks the data before training: classes agree (checkClasses), split sizes (warnings, given to `warn`), with
 * data.verify every image file of the data set opens, and training and evaluation images have one size (a
 * warning). Throws one line naming the first problem.
 */
export async function checkData(config: Config, data: RunData, warn: (line: string) => void): Promise<void> {
  checkClasses(config, data.source);
  for (const line of sizeWarnings(config, data.source)) warn(line);
  await verifyImages(config, data);
  const mismatch = transformSizeWarning(config, data);
  if (mismatch !== null) warn(mismatch);
}

/** With data.verify, every image file of the data set opens; else one line naming the first bad files. */
async function verifyImages(config: Config, data: RunData): Promise<void> {
  const depth = config.data.verify;
  if (depth === 'off') return;
  const files = imageFiles([data.source.train, data.source.test, ...(data.holdout === null ? [] : [data.holdout])]);
  if (files.length === 0) return;
  const bad = await findBadImages(files, depth);
  if (bad.length === 0) return;
  const named = bad
    .slice(0, NAMED)
    .map(({ file, problem }) => `${file} (${problem})`)
    .join(', ');
  throw new Error(
    `data: ${bad.length} of ${files.length} image files cannot be ${depth === 'decode' ? 'decoded' : 'opened'} ` +
      `(data.verify: ${depth}): ${named}${bad.length > NAMED ? ', ...' : ''}; fix or drop them from the lists, or set data.verify: off`,
  );
}
