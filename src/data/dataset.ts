// What every data set is: labels for samplers and class counts, class names, and images that the
// loader's workers can reach on their own (the `storage` plus each item's place in it).
import { decodeImageFile } from './decode.js';
import type { Image } from './image.js';

export type { Image } from './image.js';

/**
 * Where the images live, in a form that can be posted to a worker thread once:
 * - 'uint8': all records in one buffer (a SharedArrayBuffer, so workers read it without a copy),
 *   record i at i * C * H * W, shape [C, H, W];
 * - 'files': one encoded image (JPEG, PNG, WebP, TIFF) per path, decoded with sharp.
 */
export type ImageStorage =
  | { readonly kind: 'uint8'; readonly data: Uint8Array; readonly shape: readonly [number, number, number] }
  | { readonly kind: 'files'; readonly paths: readonly string[] };

export interface Dataset {
  readonly length: number;
  readonly numClasses: number;
  readonly classNames: readonly string[];
  /** Every item's label, in item order. */
  readonly labels: Int32Array;
  readonly storage: ImageStorage;
  /** The place of item i in `storage` (sources: i itself; views: remapped). */
  storageIndex(i: number): number;
}

/** Item i's image, decoded (files) or viewed in place (in-memory records: do not write to it). */
export async function readImage(dataset: Dataset, i: number): Promise<Image> {
  if (!Number.isInteger(i) || i < 0 || i >= dataset.length) throw new RangeError(`item ${i} is outside 0..${dataset.length - 1}`);
  return readStoredImage(dataset.storage, dataset.storageIndex(i));
}

/** The image at place `index` of a storage (what workers call). */
export async function readStoredImage(storage: ImageStorage, index: number): Promise<Image> {
  if (storage.kind === 'files') return decodeImageFile(storage.paths[index]!);
  const [channels, height, width] = storage.shape;
  const size = channels * height * width;
  return { data: storage.data.subarray(index * size, (index + 1) * size), channels, height, width };
}

/** A Uint8Array over a new SharedArrayBuffer, so loader workers can share it instead of copying it. */
export function sharedBytes(length: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(length));
}

/** Images held in memory as uint8 records (CIFAR, MNIST, Fashion-MNIST). */
export class InMemoryDataset implements Dataset {
  readonly storage: ImageStorage;
  readonly length: number;
  readonly numClasses: number;

  /**
   * `images` holds labels.length records of shape [C, H, W]; labels are checked against classNames, and
   * errors start with `source` (the file the labels came from).
   */
  constructor(
    images: Uint8Array,
    readonly shape: readonly [number, number, number],
    readonly labels: Int32Array,
    readonly classNames: readonly string[],
    source = 'InMemoryDataset',
  ) {
    const recordSize = shape[0] * shape[1] * shape[2];
    if (images.length !== labels.length * recordSize) {
      throw new Error(`${source}: ${images.length} bytes of images do not hold ${labels.length} records of shape ${shape.join('x')}`);
    }
    this.numClasses = classNames.length;
    labels.forEach((label, i) => {
      if (label < 0 || label >= this.numClasses)
        throw new Error(`${source}: item ${i} has label ${label}, outside 0..${this.numClasses - 1}`);
    });
    this.storage = { kind: 'uint8', data: images, shape };
    this.length = labels.length;
  }

  storageIndex(i: number): number {
    return i;
  }
}

/** The items of `dataset` at `indices`, in that order (a view: nothing is copied but the labels). */
export class Subset implements Dataset {
  readonly labels: Int32Array;
  readonly length: number;
  readonly numClasses: number;
  readonly classNames: readonly string[];
  readonly storage: ImageStorage;

  constructor(
    readonly base: Dataset,
    readonly indices: Int32Array,
  ) {
    this.labels = new Int32Array(indices.length);
    for (let i = 0; i < indices.length; i++) {
      const index = indices[i]!;
      if (index < 0 || index >= base.length) throw new RangeError(`Subset: index ${index} is outside 0..${base.length - 1}`);
      this.labels[i] = base.labels[index]!;
    }
    this.length = indices.length;
    this.numClasses = base.numClasses;
    this.classNames = base.classNames;
    this.storage = base.storage;
  }

  storageIndex(i: number): number {
    return this.base.storageIndex(this.indices[i]!);
  }
}

/** Images per class. */
export function classCounts(dataset: Pick<Dataset, 'labels' | 'numClasses'>): Int32Array {
  const counts = new Int32Array(dataset.numClasses);
  for (const label of dataset.labels) counts[label]!++;
  return counts;
}
