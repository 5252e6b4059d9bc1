// scatter's data layer: sources, long-tail construction, transforms, samplers, the loader, downloads.
export { InMemoryDataset, Subset, classCounts, readImage } from './dataset.js';
export type { Dataset, Image, ImageStorage } from './dataset.js';
export { loadCifar } from './cifar.js';
export type { CifarVariant, Split } from './cifar.js';
export { loadIdx, loadMnist } from './idx.js';
export type { IdxVariant } from './idx.js';
export { ImageFolderDataset, ListFileDataset, imagesUnder, isImageFile } from './files.js';
export type { ListFileOptions } from './files.js';
export { longTailCounts, makeLongTailed, shotGroups, splitHoldout } from './longtail.js';
export type { LongTailOptions, LongTailProfile, ShotThresholds } from './longtail.js';
export {
  CIFAR_MEAN,
  CIFAR_STD,
  IMAGENET_MEAN,
  IMAGENET_STD,
  cifarEvalTransforms,
  cifarTrainTransforms,
  imagenetEvalTransforms,
  imagenetTrainTransforms,
  prepareImage,
  randomResizedCropRect,
  resizedSize,
  transformedSize,
} from './transforms.js';
export { TRANSFORM_NAMES, formatTransforms, parseTransforms } from './transform-names.js';
export type { TransformEntry } from './transform-names.js';
export type { Transform } from './transforms.js';
export { ChunkedBatchSampler, ClassAwareSampler, RandomSampler, SequentialSampler, shardRange } from './samplers.js';
export type { BatchSampler, ClassAwareOptions, ClassSampling, Sampler } from './samplers.js';
export { B3RSBatchSampler, spreadSlots } from './b3rs.js';
export type { B3RSOptions, Blocking } from './b3rs.js';
export { BatchEmbeddedSampler } from './bet.js';
export type { BETMode, BETOptions } from './bet.js';
export { Loader } from './loader.js';
export { findBadImages, imageFiles } from './verify.js';
export type { BadImage } from './verify.js';
export type { Batch, LoaderOptions, LoaderPosition } from './loader.js';
export type { BatchShape, PixelFormat } from './batch.js';
export { batchTensors } from './tensors.js';
export { cutmixBox, drawMix, mixBatch, mixingOn, sampleBeta } from './mixing.js';
export type { Box, MixDraw, MixOptions } from './mixing.js';
export { Rng } from './random.js';
export type { RngState } from './random.js';
export { DOWNLOADS, downloadDataset } from './download.js';
export type { DownloadName, DownloadOptions } from './download.js';
