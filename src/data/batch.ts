// Assembling one batch: every item through the transforms with its own random stream, written into one
// float32 B x C x H x W buffer. The same function runs in the loader's workers and in the main thread.
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

export interface BatchPixels {
  images: Float32Array;
  shape: BatchShape;
}

/**
 * The augmentation of the item at place p of global batch k of epoch e depends only on (seed, e, k, p):
 * not on the rank, the worker or the order of completion, so batches are the same however they are made.
 */
export async function assembleBatch(storage: ImageStorage, plan: TransformPlan, seed: number, job: BatchJob): Promise<BatchPixels> {
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
  const out = new Float32Array(images.length * size);
  images.forEach((image, j) => {
    writeNormalized(image, plan.normalize, out, j * size);
    // Erasing continues the item's stream after its 8-bit transforms.
    if (plan.erasing) eraseRandomly(out, j * size, [channels, height, width], plan.erasing, streams[j]!);
  });
  return { images: out, shape: [images.length, channels, height, width] };
}
