// From a resolved config to the objects a run trains with: data sets (long-tailed as configured),
// loaders, model, optimizer and learning-rate schedule. Nothing here trains; trainer.ts does.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { imageSize } from 'image-size';

import {
  B3RSBatchSampler,
  type BatchSampler,
  BatchEmbeddedSampler,
  ClassAwareSampler,
  ChunkedBatchSampler,
  type Dataset,
  ImageFolderDataset,
  ListFileDataset,
  Loader,
  RandomSampler,
  type PixelFormat,
  type Sampler,
  SequentialSampler,
  type Transform,
  cifarEvalTransforms,
  cifarTrainTransforms,
  classCounts,
  formatTransforms,
  imagenetEvalTransforms,
  imagenetTrainTransforms,
  loadCifar,
  loadMnist,
  makeLongTailed,
  parseTransforms,
  splitHoldout,
  transformedSize,
} from '../data/index.js';
import { createNeck, decoupleClassifier } from '../longtail/index.js';
import { type ImageClassifier, createModel } from '../models/index.js';
import type { StateDict } from '../nn/index.js';
import { AdamW, type LrSchedule, type Optimizer, SAM, SGD, constantLr, cosineLr, linearWarmup, multiStepLr } from '../optim/index.js';
import type { ModelCard } from './checkpoint.js';
import { type Config, steppingOptimizer } from './config.js';

export interface RunData {
  train: Dataset;
  /**
   * The images tau-norm chooses tau on: training images held out of `train` (data.holdoutPerClass) or the
   * validation list (data.valList); null: none.
   */
  holdout: Dataset | null;
  test: Dataset;
  /** Training images per class (after the long-tail construction). */
  classCounts: number[];
  /** The data set's splits as read, before the long-tail construction and hold-out (preflight.ts checks them). */
  source: { train: Dataset; test: Dataset };
}

function requiredKey(value: string | null, key: string, dataset: string): string {
  if (value === null) throw new Error(`config key '${key}' is required for data set '${dataset}'`);
  return value;
}

function loadSplits(config: Config): { train: Dataset; test: Dataset; val?: Dataset } {
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
      const { numClasses } = config.data;
      const classNames = numClasses === null ? undefined : Array.from({ length: numClasses }, (_, label) => String(label));
      const train = new ListFileDataset(path.join(root, requiredKey(config.data.trainList, 'data.trainList', dataset)), root, {
        classNames,
      });
      const other = (list: string) => new ListFileDataset(path.join(root, list), root, { classNames: train.classNames });
      const test = other(requiredKey(config.data.testList, 'data.testList', dataset));
      return { train, test, ...(config.data.valList === null ? {} : { val: other(config.data.valList) }) };
    }
  }
}

/**
 * The configured data: the training split made long-tailed, less the held-out images when
 * data.holdoutPerClass asks for them (the test split stays as it is); data.valList's images, where given,
 * are the held-out set.
 */
export function loadRunData(config: Config): RunData {
  const splits = loadSplits(config);
  const {
    imbalance: { profile, ratio, maxPerClass },
    holdoutPerClass,
  } = config.data;
  const longTailed =
    profile === 'none'
      ? splits.train
      : makeLongTailed(splits.train, { profile, imbalanceRatio: ratio, ...(maxPerClass === null ? {} : { maxPerClass }) });
  const { train, holdout } = holdoutPerClass === null ? { train: longTailed, holdout: null } : splitHoldout(longTailed, holdoutPerClass);
  return {
    train,
    holdout: splits.val ?? holdout,
    test: splits.test,
    classCounts: Array.from(classCounts(train)),
    source: { train: splits.train, test: splits.test },
  };
}

/**
 * The side of the square images a preset makes: data.imageSize, else the records' side (CIFAR, MNIST), else for image
 * files 224 under imagenet and the first training image's (shorter) side under cifar.
 */
function presetImageSize(config: Config, data: RunData): number {
  if (config.data.imageSize !== null) return config.data.imageSize;
  if (data.train.storage.kind === 'files' && config.data.augment === 'imagenet') return 224;
  const first = firstImageSize(data);
  if (first === null) throw new Error('the training split has no images');
  return Math.min(first.width, first.height);
}

/** The first training image's size: the records' shape, or the first file's header (read once per data set). */
const firstSizes = new WeakMap<RunData, { width: number; height: number } | null>();
function firstImageSize(data: RunData): { width: number; height: number } | null {
  if (!firstSizes.has(data)) {
    const { storage } = data.train;
    const first = storage.kind === 'uint8' ? storage.shape : storage.paths[0];
    const size =
      typeof first === 'string' ? imageSize(readFileSync(first)) : first === undefined ? null : { height: first[1], width: first[2] };
    firstSizes.set(data, size === null ? null : { width: size.width, height: size.height });
  }
  return firstSizes.get(data)!;
}

/** The data.augment preset's transforms for this data. */
function presetTransforms(config: Config, data: RunData, split: 'train' | 'test'): Transform[] {
  const size = presetImageSize(config, data);
  const files = data.train.storage.kind === 'files';
  switch (config.data.augment) {
    case 'cifar':
      return split === 'train' ? cifarTrainTransforms(size, files) : cifarEvalTransforms(size, files);
    case 'imagenet': {
      if (split === 'test') return imagenetEvalTransforms(size);
      const strength = config.data.colorJitter;
      return imagenetTrainTransforms(
        size,
        strength > 0 ? { kind: 'colorJitter', brightness: strength, contrast: strength, saturation: strength } : undefined,
      );
    }
    case 'none':
      return [];
  }
}

/** A split's transforms: data.<split>.transforms, or the preset's where that is null. */
function transformsFor(config: Config, data: RunData, split: 'train' | 'test'): Transform[] {
  const entries = config.data[split].transforms;
  const where = `config key 'data.${split}.transforms'`;
  return entries === null ? presetTransforms(config, data, split) : parseTransforms(entries, where, data.train.storage.kind);
}

/** The config with its transform lists spelled out for this data (what config.yaml records: presets expanded). */
export function withTransforms(config: Config, data: RunData): Config {
  const resolved = structuredClone(config);
  for (const split of ['train', 'test'] as const) resolved.data[split].transforms = formatTransforms(transformsFor(config, data, split));
  return resolved;
}

/**
 * A warning when training and evaluation images differ in size (a crop of 32 trained, 64 evaluated), or null.
 * Sizes are those of the first training image through each list.
 */
export function transformSizeWarning(config: Config, data: RunData): string | null {
  const first = firstImageSize(data);
  if (first === null) return null;
  const [train, test] = (['train', 'test'] as const).map((split) =>
    transformedSize(transformsFor(config, data, split), first.height, first.width),
  );
  if (train![0] === test![0] && train![1] === test![1]) return null;
  return (
    `training images are ${train![0]}x${train![1]} (data.train.transforms) but evaluation images are ${test![0]}x${test![1]} ` +
    '(data.test.transforms): the model is evaluated at a size it was not trained at'
  );
}

/**
 * What a trained model needs to be used on new images, kept in its checkpoints (checkpoint.ts): the classes, the
 * training counts (for the evaluation adjustment), the input's channels, and the transforms from an image file to
 * the model's input. For data sets of in-memory records (CIFAR, MNIST) a file is first resized and center-cropped
 * to the records' size (and made grey for one channel), then the evaluation transforms apply.
 */
export function modelCard(config: Config, data: RunData): ModelCard {
  const { numClasses, inChannels } = modelShape(data);
  const { storage } = data.train;
  const toRecordSize =
    storage.kind === 'uint8' && storage.shape[1] === storage.shape[2]
      ? ([
          { kind: 'resize', size: storage.shape[1] },
          { kind: 'centerCrop', size: storage.shape[1] },
        ] as Transform[])
      : [];
  const grey: Transform[] = inChannels === 1 ? [{ kind: 'grayscale' }] : [];
  return {
    classNames: [...data.train.classNames],
    classCounts: data.classCounts,
    numClasses,
    inChannels,
    inputTransforms: [...toRecordSize, ...grey, ...transformsFor(config, data, 'test')],
  };
}

/** The item-level samplers; b3rs and bet draw whole batches (trainBatchSampler). */
function trainSampler(config: Config, sampler: 'instance' | 'class-balanced' | 'square-root' | 'progressive', train: Dataset): Sampler {
  const seed = config.seed;
  switch (sampler) {
    case 'instance':
      return new RandomSampler(train.length, { seed });
    case 'class-balanced':
      return new ClassAwareSampler(train, { kind: 'classBalanced' }, { seed });
    case 'square-root':
      return new ClassAwareSampler(train, { kind: 'squareRoot' }, { seed });
    case 'progressive':
      return new ClassAwareSampler(train, { kind: 'progressive', totalEpochs: config.train.epochs }, { seed });
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
  const transforms = transformsFor(config, data, 'train');
  return new Loader(data.train, {
    batchSampler: trainBatchSampler(config, data.train),
    transforms,
    seed: config.seed,
    workers: config.data.workers,
    rank,
    worldSize,
    decodedCacheBytes: config.data.decodedCacheMiB * 2 ** 20,
    pixels: pixelFormat(config, transforms),
  });
}

/**
 * On an accelerator batches travel as 8-bit pixels and are normalised there (batchTensors): a quarter of the bytes
 * for the workers to write and the host to copy. On the CPU the workers normalise, off the training thread.
 */
function pixelFormat(config: Config, transforms: readonly Transform[]): PixelFormat {
  return config.train.device !== 'cpu' && !transforms.some((transform) => transform.kind === 'randomErasing') ? 'uint8' : 'float32';
}

/** Every image of `dataset` (a split of `data`) once, in order, with the evaluation transforms (this rank's share of each batch). */
export function evalLoader(config: Config, data: RunData, dataset: Dataset, rank = 0, worldSize = 1): Loader {
  const transforms = transformsFor(config, data, 'test');
  return new Loader(dataset, {
    batchSampler: new ChunkedBatchSampler(new SequentialSampler(dataset.length), config.train.batchSize),
    transforms,
    seed: config.seed,
    workers: config.data.workers,
    rank,
    worldSize,
    pixels: pixelFormat(config, transforms),
  });
}

export function testLoader(config: Config, data: RunData, rank = 0, worldSize = 1): Loader {
  return evalLoader(config, data, data.test, rank, worldSize);
}

/** What a model's shape depends on besides the config: the classes and the images' channels. */
export interface ModelShape {
  numClasses: number;
  inChannels: number;
}

/** The model shape of a run's data: image files decode to 3 channels, in-memory records have their own. */
export function modelShape(data: RunData): ModelShape {
  return { numClasses: data.train.numClasses, inChannels: data.train.storage.kind === 'uint8' ? data.train.storage.shape[0] : 3 };
}

/**
 * The model as configured. A decoupled run's is stage 1's model with the second stage's classifier, frozen
 * but for what that trains; `stage1` (a new run's starting weights) is loaded before the classifier
 * changes shape.
 */
export function buildModel(config: Config, shape: ModelShape, stage1?: StateDict): ImageClassifier {
  const model = createModel(config.model.name, {
    numClasses: shape.numClasses,
    classifier: config.model.classifier,
    inChannels: shape.inChannels,
  });
  const { neck } = config.model;
  if (neck !== 'identity') {
    const { eps, momentum, affine, groupSize, ...whiteningOnly } = config.model.whitening;
    const options =
      neck === 'batchnorm' ? { momentum, affine } : { eps, momentum, affine, ...whiteningOnly, groupSize: groupSize ?? undefined };
    model.neck = createNeck(neck, model.featureDim, options);
  }
  const { method, from, keepBias } = config.decoupled;
  if (method === null) return model;
  if (stage1 !== undefined) {
    try {
      model.loadStateDict(stage1, { strict: true });
    } catch (error) {
      throw new Error(`decoupled.from: ${from} does not fit this config's model: ${(error as Error).message}`);
    }
  }
  decoupleClassifier(model, method, { keepBias });
  return model;
}

/** Necks with batch statistics need every training batch full: a last batch of 1 has no covariance. */
function usesBatchStatistics(config: Config): boolean {
  return config.model.neck !== 'identity';
}

/**
 * The configured optimizer over every trainable parameter (all of them but what decoupled training freezes) with
 * the configured weight decay on each, biases and normalisation parameters included (as the LDAM-DRW reference
 * does): SGD, AdamW, or SAM around either.
 */
export function buildOptimizer(config: Config, model: ImageClassifier): Optimizer {
  const { lr, momentum, weightDecay, nesterov, betas, eps, name, sam } = config.optim;
  const params = model.parameters().filter((tensor) => tensor.requiresGrad);
  const base =
    steppingOptimizer(config) === 'sgd'
      ? new SGD(params, { lr, momentum, weightDecay, nesterov })
      : new AdamW(params, { lr, betas: [betas[0]!, betas[1]!], eps, weightDecay });
  return name === 'sam' ? new SAM(base, { rho: sam.rho, adaptive: sam.adaptive }) : base;
}

export function buildSchedule(config: Config): LrSchedule {
  const { lr } = config.optim;
  const { type, warmupEpochs, milestones, gamma, minLr } = config.schedule;
  switch (type) {
    case 'multistep':
      return multiStepLr({ lr, milestones, gamma, warmupEpochs });
    case 'cosine':
      return cosineLr({ lr, epochs: config.train.epochs, minLr, warmupEpochs });
    case 'constant':
      return linearWarmup(constantLr(lr), warmupEpochs);
  }
}
