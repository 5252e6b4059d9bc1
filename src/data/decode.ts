// Decoding image files to 8-bit sRGB, channel-major: JPEGs with scatter's image addon (libjpeg-turbo; a
// crop decodes only its own region), other formats (PNG, WebP, TIFF, CMYK JPEGs) with sharp (libvips).
// Crops and resizes are Pillow's bilinear resampling in the addon, so that a random-resized-crop or a
// resize gives the pixels torchvision's PIL pipeline gives, whichever decoder read the file.
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import type sharpFunction from 'sharp';

import type { Image } from './image.js';
import { imageAddon } from './image-addon.js';

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

/**
 * Fully decoded images kept by this thread up to a byte budget, first come first kept: for data sets small
 * enough to hold, later epochs skip the decode. Each loader worker has its own (threads share no objects).
 */
class DecodedCache {
  readonly #images = new Map<string, Image>();
  #bytes = 0;

  constructor(readonly budget: number) {}

  get(file: string): Image | undefined {
    return this.#images.get(file);
  }

  offer(file: string, image: Image): void {
    if (this.#bytes + image.data.length > this.budget) return;
    this.#images.set(file, image);
    this.#bytes += image.data.length;
  }
}

let decodedCache: DecodedCache | null = null;

/**
 * Keeps up to `bytes` of decoded images in this thread (0: none). With a cache every image is resampled
 * from its fully decoded pixels, cached or not; the pixels are those of the uncached path all the same.
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

/** A JPEG, and an addon built with libjpeg to decode it? (CMYK / YCCK ones still go to libvips: decodeJpegResampled.) */
function addonDecodes(bytes: Uint8Array): boolean {
  return imageAddon().jpegHeader !== undefined && bytes.length > 2 && bytes[0] === 0xff && bytes[1] === 0xd8;
}

/** The whole image at its own size, as 3-channel sRGB (grey expanded, alpha dropped). */
async function decodeWhole(bytes: Uint8Array): Promise<Image> {
  if (addonDecodes(bytes)) {
    const whole = decodeJpegResampled(bytes, (width, height) => ({ width, height }));
    if (whole) return whole;
  }
  const sharp = await loadSharp();
  // failOn 'error': a truncated or damaged image is an error, not a half-grey image; mere warnings
  // (extra bytes before a marker, as in a few ImageNet JPEGs) pass, as they do in PIL.
  const { data, info } = await sharp(bytes, { failOn: 'error' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return toChannelMajor(data, info.channels, info.height, info.width);
}

/** `resampling`'s plan for an image of this size, its crop made explicit (the whole image when it has none). */
function planFor(resampling: Resampling, width: number, height: number): { crop: Rect; width: number; height: number } {
  const plan = resampling(width, height);
  return { crop: plan.crop ?? { left: 0, top: 0, width, height }, width: plan.width, height: plan.height };
}

/** `image` through `resampling`'s crop and resize. */
function resample(image: Image, resampling: Resampling): Image {
  const { crop, width, height } = planFor(resampling, image.width, image.height);
  // A crop as large as the image is the whole of it, and a resize to its own size none.
  if (crop.width === image.width && crop.height === image.height && width === image.width && height === image.height) return image;
  const data = imageAddon().resizeRegion(
    image.data,
    image.width,
    image.height,
    image.channels,
    crop.left,
    crop.top,
    crop.width,
    crop.height,
    width,
    height,
  );
  return { data, channels: image.channels, height, width };
}

/** A JPEG's crop decoded by itself and resized in one call, or null for a JPEG that needs libvips. */
function decodeJpegResampled(bytes: Uint8Array, resampling: Resampling): Image | null {
  const addon = imageAddon();
  const header = addon.jpegHeader!(bytes);
  if (header.colorSpace === 'cmyk' || header.colorSpace === 'ycck') return null;
  const { crop, width, height } = planFor(resampling, header.width, header.height);
  const data = addon.decodeJpegRegion!(bytes, crop.left, crop.top, crop.width, crop.height, width, height);
  return { data, channels: 3, height, width };
}

/**
 * Decodes `file` (a path, or an encoded image's bytes) to 3-channel sRGB (grey images are expanded, alpha
 * dropped), resampled if asked.
 */
export async function decodeImageFile(source: string | Uint8Array, resampling?: Resampling): Promise<Image> {
  const file = typeof source === 'string' ? source : 'image bytes';
  const cache = typeof source === 'string' ? decodedCache : null;
  try {
    let image = cache?.get(file);
    if (image === undefined) {
      const bytes = typeof source === 'string' ? await readImageBytes(source) : source;
      if (cache === null && resampling && addonDecodes(bytes)) {
        const decoded = decodeJpegResampled(bytes, resampling);
        if (decoded) return decoded;
      }
      image = await decodeWhole(bytes);
      cache?.offer(file, image);
    }
    return resampling ? resample(image, resampling) : image;
  } catch (error) {
    const message = firstLine((error as Error).message);
    throw message.startsWith(file) ? error : new Error(`${file}: cannot decode image: ${message}`);
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
