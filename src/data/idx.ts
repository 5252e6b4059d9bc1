// IDX files (MNIST, Fashion-MNIST), gzipped or not: a big-endian header (two zero bytes, a type byte,
// the number of dimensions, then each dimension as a uint32) followed by the raw values.
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

import type { Split } from './cifar.js';
import { InMemoryDataset, sharedBytes } from './dataset.js';
import { assertDirectory, isFile, readBytes } from './io.js';

const UNSIGNED_BYTE = 0x08;

function readIdx(file: string): { dims: number[]; data: Uint8Array } {
  let bytes: Uint8Array = readBytes(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (error) {
      throw new Error(`${file}: corrupt gzip data: ${(error as Error).message}`);
    }
  }
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) throw new Error(`${file}: not an IDX file (bad magic number)`);
  if (bytes[2] !== UNSIGNED_BYTE)
    throw new Error(`${file}: IDX value type 0x${bytes[2]!.toString(16)} (only unsigned bytes, 0x08, are read)`);
  const rank = bytes[3]!;
  const headerSize = 4 + 4 * rank;
  if (bytes.length < headerSize) throw new Error(`${file}: truncated IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, d) => view.getUint32(4 + 4 * d, false));
  const size = dims.reduce((product, dim) => product * dim, 1);
  if (bytes.length - headerSize !== size) {
    throw new Error(`${file}: truncated IDX data: ${bytes.length - headerSize} bytes where dimensions ${dims.join('x')} need ${size}`);
  }
  return { dims, data: bytes.subarray(headerSize) };
}

/** An IDX image file (N x H x W) and its label file (N) as a one-channel data set. */
export function loadIdx(imagesFile: string, labelsFile: string, classNames: readonly string[]): InMemoryDataset {
  const images = readIdx(imagesFile);
  const labels = readIdx(labelsFile);
  if (images.dims.length !== 3) throw new Error(`${imagesFile}: expected 3 dimensions (N x H x W), found ${images.dims.length}`);
  if (labels.dims.length !== 1) throw new Error(`${labelsFile}: expected 1 dimension (N), found ${labels.dims.length}`);
  const [count, height, width] = images.dims as [number, number, number];
  if (labels.dims[0] !== count) throw new Error(`${labelsFile}: ${labels.dims[0]} labels for the ${count} images of ${imagesFile}`);
  const pixels = sharedBytes(images.data.length);
  pixels.set(images.data);
  return new InMemoryDataset(pixels, [1, height, width], Int32Array.from(labels.data), classNames, labelsFile);
}

export type IdxVariant = 'mnist' | 'fashion-mnist';

const IDX_CLASSES: Record<IdxVariant, string[]> = {
  mnist: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  'fashion-mnist': ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
};

/** The file named `name` in `root`, gzipped (`name.gz`, as published) or not. */
function idxFile(root: string, name: string): string {
  const gzipped = path.join(root, `${name}.gz`);
  return isFile(gzipped) ? gzipped : path.join(root, name);
}

/** MNIST or Fashion-MNIST from a folder of the four published files (train-images-idx3-ubyte.gz, ...). */
export function loadMnist(root: string, options: { variant: IdxVariant; split: Split }): InMemoryDataset {
  assertDirectory(root);
  const prefix = options.split === 'train' ? 'train' : 't10k';
  return loadIdx(idxFile(root, `${prefix}-images-idx3-ubyte`), idxFile(root, `${prefix}-labels-idx1-ubyte`), IDX_CLASSES[options.variant]);
}
