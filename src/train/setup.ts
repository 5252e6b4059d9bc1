// From a resolved config to the objects a run trains with: data sets (long-tailed as configured),
// loaders, model, optimizer and learning-rate schedule. Nothing here trains; trainer.ts does.
import path from 'node:path';

import {
  B3RSBatchSampler, type BatchSampler, BatchEmbeddedSampler, ClassAwareSampler, ChunkedBatchSampler, type Dataset, ImageFolderDataset, ListFileDataset, Loader, RandomSampler,
  type Sampler, SequentialSampler, type Transform, cifarEvalTransforms, cifarTrainTransforms, classCounts,
  imagenetEvalTransforms, imagenetTrainTransforms, loadCifar, loadMnist, makeLongTailed,
} from '../data/index.js';
import { createNeck } from '../longtail/index.js';
import { type ImageClassifier, createModel } from '../models/index.js';
import { type LrSchedule, SGD, constantLr, cosineLr, linearWarmup, multiStepLr } from '../optim/index.js';
import type { Config } from './config.js';

export interface RunData {
  train: Dataset;
  test: Dataset;
  /** Training images per class (after the long-tail construction). */
  classCounts: number[];
}

function requiredKey(value: string | null, key: string, dataset: string): string {
  if (value === null) throw new Error(`config key '${key}' is required for data set '${dataset}'`);
  return value;
}

function loadSplits(config: Config): { train: Dataset; test: Dataset } {
  const { dataset } = config.data;
  const root = config.data.root!;
  switch (dataset) {
    case 'cifar10':
    case 'cifar100':
      return { train: loadCifar(root, { variant: dataset, split: 'train' }), test: loadCifar(root, { variant: dataset, split: 'test' }) };
    case 'mnist':
    case 'fashion-mnist':
      return { train: loadMnist(root, { variant: dataset, split: 'train' }), test: loadMnist(root, { variant: dataset, split: 'test' }) };
    case 'image-folder':
      return { train: new ImageFolderDataset(path.join(root, 'train')), test: new ImageFolderDataset(path.join(root, 'test')) };
    case 'list-file': {
      const train = new ListFileDataset(path.join(root, requiredKey(config.data.trainList, 'data.trainList', dataset)), root);
      const test = new ListFileDataset(path.join(root, requiredKey(config.data.testList, 'data.testList', dataset)), root,
        { classNames: train.classNames });
      return { train, test };
    }
  }
}

/** The configured data: the training split made long-tailed (the test split stays as it is). */
export function loadRunData(config: Config): RunData {
  const splits = loadSplits(config);
  const { profile, ratio } = config.data.imbalance;
  const train = profile === 'none' ? splits.train : makeLongTailed(splits.train, { profile, imbalanceRatio: ratio });
  return { train, test: splits.test, classCounts: Array.from(classCounts(train)) };
}

function transformsFor(config: Config, split: 'train' | 'test'): Transform[] {
  switch (config.data.augment) {
    case 'cifar': return split === 'train' ? cifarTrainTransforms() : cifarEvalTransforms();
    case 'imagenet': return split === 'train' ? imagenetTrainTransforms() : imagenetEvalTransforms();
    case 'none': return [];
  }
}

/** The item-level samplers; b3rs and bet draw whole batches (trainBatchSampler). */
function trainSampler(config: Config, sampler: 'instance' | 'class-balanced' | 'square-root' | 'progressive', train: Dataset): Sampler {
  const seed = config.seed;
  switch (sampler) {
    case 'instance': return new RandomSampler(train.length, { seed });
    case 'class-balanced': return new ClassAwareSampler(train, { kind: 'classBalanced' }, { seed });
    case 'square-root': return new ClassAwareSampler(train, { kind: 'squareRoot' }, { seed });
    case 'progressive': return new ClassAwareSampler(train, { kind: 'progressive', totalEpochs: config.train.epochs }, { seed });
  }
}

function trainBatchSampler(config: Config, train: Dataset): BatchSampler {
  const { batchSize, sampler, b3rs, bet } = config.train;
  const seed = config.seed;
  if (sampler === 'b3rs') return new B3RSBatchSampler(train, batchSize, { seed, ...b3rs });
  if (sampler === 'bet') {
    const mode = bet.mode === 'interleave' ? { mode: bet.mode, period: bet.period } : { mode: bet.mode, subBatchSize: bet.subBatchSize };
    return new BatchEmbeddedSampler(train, batchSize, { ...mode, startEpoch: bet.startEpoch, seed, b3rs });
  }
  return new ChunkedBatchSampler(trainSampler(config, sampler, train), batchSize, { dropLast: usesBatchStatistics(config) });
}

export function trainLoader(config: Config, data: RunData, rank = 0, worldSize = 1): Loader {
  return new Loader(data.train, {
    batchSampler: trainBatchSampler(config, data.train),
    transforms: transformsFor(config, 'train'),
    seed: config.seed,
    workers: config.data.workers,
    rank,
    worldSize,
  });
}

export function testLoader(config: Config, data: RunData): Loader {
  return new Loader(data.test, {
    batchSampler: new ChunkedBatchSampler(new SequentialSampler(data.test.length), config.train.batchSize),
    transforms: transformsFor(config, 'test'),
    seed: config.seed,
    workers: config.data.workers,
  });
}

export function buildModel(config: Config, data: RunData): ImageClassifier {
  const inChannels = data.train.storage.kind === 'uint8' ? data.train.storage.shape[0] : 3;
  const model = createModel(config.model.name, { numClasses: data.train.numClasses, classifier: config.model.classifier, inChannels });
  const { neck } = config.model;
  if (neck !== 'identity') {
    const { eps, momentum, affine, groupSize, ...whiteningOnly } = config.model.whitening;
    const options = neck === 'batchnorm' ? { momentum, affine } : { eps, momentum, affine, ...whiteningOnly, groupSize: groupSize ?? undefined };
    model.neck = createNeck(neck, model.featureDim, options);
  }
  return model;
}

/** Necks with batch statistics need every training batch full: a last batch of 1 has no covariance. */
function usesBatchStatistics(config: Config): boolean {
  return config.model.neck !== 'identity';
}

/** SGD over every parameter with the configured weight decay (as the LDAM-DRW reference does). */
export function buildOptimizer(config: Config, model: ImageClassifier): SGD {
  const { lr, momentum, weightDecay, nesterov } = config.optim;
  return new SGD(model.parameters(), { lr, momentum, weightDecay, nesterov });
}

export function buildSchedule(config: Config): LrSchedule {
  const { lr } = config.optim;
  const { type, warmupEpochs, milestones, gamma, minLr } = config.schedule;
  switch (type) {
    case 'multistep': return multiStepLr({ lr, milestones, gamma, warmupEpochs });
    case 'cosine': return cosineLr({ lr, epochs: config.train.epochs, minLr, warmupEpochs });
    case 'constant': return linearWarmup(constantLr(lr), warmupEpochs);
  }
}
