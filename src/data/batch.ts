// Assembling one batch: every item through the transforms with its own random stream, written into one
// B x C x H x W buffer: float32 and normalised, or the 8-bit pixels as they are (normalised later, on the
// device: see tensors.ts). The same function runs in the loader's workers and in the main thread.
import type { ImageStorage } from './dataset.js';
import { Rng, STREAM } from './random.js';
import { type TransformPlan, eraseRandomly, transformImage, writeNormalized } from './transforms.js';

export type BatchShape = readonly [number, number, number, number];

/** What one rank needs to prepare its share of a global batch. */
export interface BatchJob {
  epoch: number;
  batch: number;
  /** The place of this share's first item in the global batch. */
  firstPosition: number;
  /** The items' places in the storage. */
  storageIndices: Int32Array;
}

/** 'float32': normalised values; 'uint8': the pixels before normalisation (a quarter of the bytes to move). */
export type PixelFormat = 'float32' | 'uint8';

export interface BatchPixels {
  images: Float32Array | Uint8Array;
  shape: BatchShape;
}

export interface AssembleOptions {
  pixels: PixelFormat;
  /** A recycled buffer to write into when it has the batch's byte length (every byte is overwritten). */
  spare?: ArrayBuffer;
}

/**
 * The augmentation of the item at place p of global batch k of epoch e depends only on (seed, e, k, p):
 * not on the rank, the worker or the order of completion, so batches are the same however they are made.
 */
export async function assembleBatch(
  storage: ImageStorage,
  plan: TransformPlan,
  seed: number,
  job: BatchJob,
  options: AssembleOptions = { pixels: 'float32' },
): Promise<BatchPixels> {
  const streams = Array.from(job.storageIndices, (_, j) =>
    Rng.fromKeys(STREAM.augmentation, seed, job.epoch, job.batch, job.firstPosition + j),
  );
  const images = await Promise.all(Array.from(job.storageIndices, (index, j) => transformImage(storage, index, plan, streams[j]!)));
  const first = images[0];
  if (first === undefined) throw new Error(`epoch ${job.epoch} batch ${job.batch}: no items`);
  const { channels, height, width } = first;
  images.forEach((image, j) => {
    if (image.channels !== channels || image.height !== height || image.width !== width) {
      throw new Error(
        `epoch ${job.epoch} batch ${job.batch}: item ${j} is ${image.channels}x${image.height}x${image.width}, ` +
          `item 0 is ${channels}x${height}x${width} (add a resize or crop transform)`,
      );
    }
  });
  const size = channels * height * width;
  const count = images.length * size;
  const bytes = options.pixels === 'uint8' ? count : 4 * count;
  const buffer = options.spare?.byteLength === bytes ? options.spare : new ArrayBuffer(bytes);
  const shape: BatchShape = [images.length, channels, height, width];
  if (options.pixels === 'uint8') {
    if (plan.erasing) throw new Error('randomErasing erases normalised values: it needs float32 batches');
    const out = new Uint8Array(buffer);
    images.forEach((image, j) => out.set(image.data, j * size));
    return { images: out, shape };
  }
  const out = new Float32Array(buffer);
  images.forEach((image, j) => {
    writeNormalized(image, plan.normalize, out, j * size);
    // Erasing continues the item's stream after its 8-bit transforms.
    if (plan.erasing) eraseRandomly(out, j * size, [channels, height, width], plan.erasing, streams[j]!);
  });
  return { images: out, shape };
}
