// Decoding image files with sharp (libvips): JPEG, PNG, WebP, TIFF, to 8-bit sRGB, channel-major.
// Resampling (a crop and a resize) happens inside the decode, where libvips can shrink JPEGs cheaply.
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import type sharpFunction from 'sharp';

import type { Image } from './image.js';

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** What to do with a decoded image of the given size: crop (optional), then resize to width x height. */
export type Resampling = (width: number, height: number) => { crop?: Rect; width: number; height: number };

let sharpModule: Promise<typeof sharpFunction> | undefined;

// Loaded on first use: in-memory data sets never start libvips and its threads.
function loadSharp(): Promise<typeof sharpFunction> {
  sharpModule ??= import('sharp').then((module) => module.default);
  return sharpModule;
}

/**
 * libvips threads per image operation, for the whole process: the loader's workers set 1, as they
 * decode several images at once already. libvips' operation cache is turned off too (every file is
 * read once per epoch, so caching only holds memory).
 */
export async function setDecodeThreads(threads: number): Promise<void> {
  const sharp = await loadSharp();
  sharp.concurrency(threads);
  sharp.cache(false);
}

interface DecodedImage {
  pixels: Buffer;
  width: number;
  height: number;
  channels: 3;
}

/**
 * Fully decoded images (interleaved sRGB) kept by this thread up to a byte budget, first come first
 * kept: for data sets small enough to hold, later epochs skip the JPEG decode. Each loader worker has
 * its own (threads share no objects).
 */
class DecodedCache {
  readonly #images = new Map<string, DecodedImage>();
  #bytes = 0;

  constructor(readonly budget: number) {}

  get(file: string): DecodedImage | undefined {
    return this.#images.get(file);
  }

  offer(file: string, image: DecodedImage): void {
    if (this.#bytes + image.pixels.length > this.budget) return;
    this.#images.set(file, image);
    this.#bytes += image.pixels.length;
  }
}

let decodedCache: DecodedCache | null = null;

/**
 * Keeps up to `bytes` of decoded images in this thread (0: none). With a cache every image is resampled
 * from its fully decoded pixels, cached or not, so its pixels do not depend on what the cache holds; they
 * differ slightly from the uncached path, where libvips may shrink JPEGs while decoding them.
 */
export function setDecodedCacheBytes(bytes: number): void {
  decodedCache = bytes > 0 ? new DecodedCache(bytes) : null;
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0]!.trim();
}

/** Interleaved (HWC) pixels to channel-major (CHW). */
function toChannelMajor(pixels: Uint8Array, channels: number, height: number, width: number): Image {
  const plane = height * width;
  const data = new Uint8Array(channels * plane);
  for (let c = 0; c < channels; c++) {
    for (let p = 0, q = c; p < plane; p++, q += channels) data[c * plane + p] = pixels[q]!;
  }
  return { data, channels, height, width };
}

async function readImageBytes(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new Error(`${file}: cannot read image: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** The cached decoded pixels of `file`, decoding (and offering to the cache) on a miss. */
async function decodedPixels(file: string, cache: DecodedCache): Promise<DecodedImage> {
  const cached = cache.get(file);
  if (cached !== undefined) return cached;
  const sharp = await loadSharp();
  const bytes = await readImageBytes(file);
  try {
    const { data, info } = await sharp(bytes, { failOn: 'error' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    const image: DecodedImage = { pixels: data, width: info.width, height: info.height, channels: 3 };
    cache.offer(file, image);
    return image;
  } catch (error) {
    throw new Error(`${file}: cannot decode image: ${firstLine((error as Error).message)}`);
  }
}

/**
 * Decodes `file` (a path, or an encoded image's bytes) to 3-channel sRGB (grey images are expanded, alpha
 * dropped), resampled if asked.
 */
export async function decodeImageFile(source: string | Uint8Array, resampling?: Resampling): Promise<Image> {
  const sharp = await loadSharp();
  const file = typeof source === 'string' ? source : 'image bytes';
  const cache = typeof source === 'string' ? decodedCache : null;
  const decoded = cache === null ? null : await decodedPixels(file, cache);
  const bytes = decoded !== null ? null : typeof source === 'string' ? await readImageBytes(source) : source;
  try {
    // failOn 'error': a truncated or damaged image is an error, not a half-grey image; mere warnings
    // (extra bytes before a marker, as in a few ImageNet JPEGs) pass, as they do in PIL.
    let image =
      decoded === null
        ? sharp(bytes!, { failOn: 'error' })
        : sharp(decoded.pixels, { raw: { width: decoded.width, height: decoded.height, channels: decoded.channels } });
    if (resampling) {
      const { width, height } = decoded ?? (await image.metadata());
      const plan = resampling(width, height);
      if (plan.crop) image = image.extract(plan.crop);
      // A resize to the size the image already has is none (libvips would still filter it).
      const size = plan.crop ?? { width, height };
      if (plan.width !== size.width || plan.height !== size.height)
        image = image.resize(plan.width, plan.height, { fit: 'fill', kernel: 'linear' });
    }
    const { data, info } = await image.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    return toChannelMajor(data, info.channels, info.height, info.width);
  } catch (error) {
    throw new Error(`${file}: cannot decode image: ${firstLine((error as Error).message)}`);
  }
}

/**
 * Why `file` cannot be used as an image, or null when it can: 'headers' reads its header (it exists and is an
 * image of a known size), 'decode' decodes it whole (a truncated or damaged file fails too).
 */
export async function imageFileProblem(file: string, depth: 'headers' | 'decode'): Promise<string | null> {
  const sharp = await loadSharp();
  try {
    await access(file, constants.R_OK);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : `cannot read: ${(error as NodeJS.ErrnoException).code}`;
  }
  try {
    if (depth === 'decode') {
      await sharp(file, { failOn: 'error' }).raw().toBuffer();
      return null;
    }
    const { width, height } = await sharp(file).metadata();
    return width === undefined || height === undefined ? 'no image size in its header' : null;
  } catch (error) {
    return firstLine((error as Error).message);
  }
}
