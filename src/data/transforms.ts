// Image transforms as plain data (they travel to the loader's workers as JSON), applied to one image with
// one random stream, following torchvision's definitions:
// - resampling, first and for image files only (it runs inside the decoder): randomResizedCrop, resize;
// - 8-bit operations, in the order given: centerCrop, randomCrop (zero-padded), horizontalFlip,
//   colorJitter (brightness, contrast, saturation; torchvision's blends, in a random order);
// - normalize, last: (pixel / 255 - mean) / std per channel; without it a pixel becomes pixel / 255.
import { type Image, type ImageStorage, readStoredImage } from './dataset.js';
import { type Rect, type Resampling, decodeImageFile } from './decode.js';
import { Rng } from './random.js';

export type Transform =
  /** torchvision's RandomResizedCrop: a crop of random area and aspect ratio, resized to size x size. */
  | { kind: 'randomResizedCrop'; size: number; scale?: readonly [number, number]; ratio?: readonly [number, number] }
  /** The shorter side to `size`, the aspect ratio kept (torchvision's Resize(int)). */
  | { kind: 'resize'; size: number }
  | { kind: 'centerCrop'; size: number }
  /** A random size x size window of the image padded by `padding` pixels of value `fill` on every side. */
  | { kind: 'randomCrop'; size: number; padding?: number; fill?: number }
  /** Mirror left-right with probability p (default 0.5). */
  | { kind: 'horizontalFlip'; p?: number }
  /**
   * torchvision's ColorJitter without hue: each strength s draws a factor uniformly from [max(0, 1 - s), 1 + s];
   * brightness scales the pixels, contrast blends with the mean grey level, saturation with the grey image.
   */
  | { kind: 'colorJitter'; brightness?: number; contrast?: number; saturation?: number }
  /** One channel from three, as PIL's convert('L') (torchvision's Grayscale(1) on PIL images); one channel stays. */
  | { kind: 'grayscale' }
  /** Per-channel mean and standard deviation, on the 0-1 scale. */
  | { kind: 'normalize'; mean: readonly number[]; std: readonly number[] };

type ResamplingTransform = Extract<Transform, { kind: 'randomResizedCrop' | 'resize' }>;
type PixelTransform = Extract<Transform, { kind: 'centerCrop' | 'randomCrop' | 'horizontalFlip' | 'colorJitter' | 'grayscale' }>;
type Normalize = Extract<Transform, { kind: 'normalize' }>;

/** A transform list split into its stages, checked. */
export interface TransformPlan {
  readonly resampling?: ResamplingTransform;
  readonly pixel: readonly PixelTransform[];
  readonly normalize?: Normalize;
}

export const CIFAR_MEAN = [0.4914, 0.4822, 0.4465] as const;
export const CIFAR_STD = [0.2023, 0.1994, 0.201] as const;
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** The CIFAR-LT recipe: random crop 32 with padding 4, flip, normalise. */
export function cifarTrainTransforms(): Transform[] {
  return [
    { kind: 'randomCrop', size: 32, padding: 4 },
    { kind: 'horizontalFlip' },
    { kind: 'normalize', mean: CIFAR_MEAN, std: CIFAR_STD },
  ];
}

export function cifarEvalTransforms(): Transform[] {
  return [{ kind: 'normalize', mean: CIFAR_MEAN, std: CIFAR_STD }];
}

/** The ImageNet-LT recipe: random-resized-crop 224, flip, (optional colour jitter,) normalise. */
export function imagenetTrainTransforms(size = 224, colorJitter?: Extract<Transform, { kind: 'colorJitter' }>): Transform[] {
  return [
    { kind: 'randomResizedCrop', size },
    { kind: 'horizontalFlip' },
    ...(colorJitter ? [colorJitter] : []),
    { kind: 'normalize', mean: IMAGENET_MEAN, std: IMAGENET_STD },
  ];
}

/** Resize 256, center-crop 224, normalise. */
export function imagenetEvalTransforms(resize = 256, size = 224): Transform[] {
  return [
    { kind: 'resize', size: resize },
    { kind: 'centerCrop', size },
    { kind: 'normalize', mean: IMAGENET_MEAN, std: IMAGENET_STD },
  ];
}

function positiveInteger(value: number, what: string): void {
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`transforms: ${what} must be a positive integer, got ${value}`);
}

function checkTransform(transform: Transform): void {
  switch (transform.kind) {
    case 'randomResizedCrop': {
      positiveInteger(transform.size, 'randomResizedCrop size');
      const [minScale, maxScale] = transform.scale ?? [0.08, 1];
      const [minRatio, maxRatio] = transform.ratio ?? [3 / 4, 4 / 3];
      if (!(minScale > 0 && minScale <= maxScale && maxScale <= 1))
        throw new RangeError(`transforms: randomResizedCrop scale must satisfy 0 < min <= max <= 1`);
      if (!(minRatio > 0 && minRatio <= maxRatio)) throw new RangeError(`transforms: randomResizedCrop ratio must satisfy 0 < min <= max`);
      return;
    }
    case 'resize':
    case 'centerCrop':
      positiveInteger(transform.size, `${transform.kind} size`);
      return;
    case 'randomCrop':
      positiveInteger(transform.size, 'randomCrop size');
      if (!Number.isInteger(transform.padding ?? 0) || (transform.padding ?? 0) < 0)
        throw new RangeError('transforms: randomCrop padding must be an integer >= 0');
      if (!Number.isInteger(transform.fill ?? 0) || (transform.fill ?? 0) < 0 || (transform.fill ?? 0) > 255)
        throw new RangeError('transforms: randomCrop fill must be an integer in 0..255');
      return;
    case 'horizontalFlip': {
      const p = transform.p ?? 0.5;
      if (!(p >= 0 && p <= 1)) throw new RangeError(`transforms: horizontalFlip p must be in [0, 1], got ${p}`);
      return;
    }
    case 'colorJitter':
      for (const key of ['brightness', 'contrast', 'saturation'] as const) {
        const strength = transform[key] ?? 0;
        if (!(strength >= 0)) throw new RangeError(`transforms: colorJitter ${key} must be >= 0, got ${strength}`);
      }
      return;
    case 'grayscale':
      return;
    case 'normalize':
      if (transform.mean.length === 0 || transform.mean.length !== transform.std.length)
        throw new RangeError('transforms: normalize needs as many means as standard deviations');
      if (!transform.std.every((std) => std > 0)) throw new RangeError('transforms: normalize standard deviations must be > 0');
      return;
    default:
      throw new RangeError(`transforms: unknown kind ${JSON.stringify((transform as { kind: unknown }).kind)}`);
  }
}

/** Checks a transform list and splits it into stages; resampling needs image files. */
export function planTransforms(transforms: readonly Transform[], storageKind: ImageStorage['kind']): TransformPlan {
  transforms.forEach(checkTransform);
  const pixel: PixelTransform[] = [];
  let resampling: ResamplingTransform | undefined;
  let normalize: Normalize | undefined;
  transforms.forEach((transform, position) => {
    if (transform.kind === 'randomResizedCrop' || transform.kind === 'resize') {
      if (position !== 0) throw new Error(`transforms: ${transform.kind} must come first (it runs inside the image decoder)`);
      if (storageKind !== 'files') throw new Error(`transforms: ${transform.kind} needs image files; in-memory images are not resampled`);
      resampling = transform;
    } else if (transform.kind === 'normalize') {
      if (position !== transforms.length - 1) throw new Error('transforms: normalize must come last');
      normalize = transform;
    } else {
      pixel.push(transform);
    }
  });
  return { resampling, pixel, normalize };
}

/** Python's round(): halves go to the even neighbour (torchvision computes crop sizes with it). */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction !== 0.5) return Math.round(value);
  return floor % 2 === 0 ? floor : floor + 1;
}

/** torchvision's RandomResizedCrop.get_params: ten tries at a random area and ratio, else a central crop. */
export function randomResizedCropRect(
  width: number,
  height: number,
  rng: Rng,
  scale: readonly [number, number] = [0.08, 1],
  ratio: readonly [number, number] = [3 / 4, 4 / 3],
): Rect {
  const area = width * height;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])] as const;
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logRatio[0], logRatio[1]));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.nextInt(height - h + 1);
      const left = rng.nextInt(width - w + 1);
      return { left, top, width: w, height: h };
    }
  }
  const inRatio = width / height;
  let [w, h] = [width, height];
  if (inRatio < ratio[0]) h = roundHalfEven(w / ratio[0]);
  else if (inRatio > ratio[1]) w = roundHalfEven(h * ratio[1]);
  return { left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h };
}

/** torchvision's Resize(int) size: the shorter side becomes `size`, the longer one is truncated. */
export function resizedSize(width: number, height: number, size: number): { width: number; height: number } {
  return width <= height
    ? { width: size, height: Math.floor((size * height) / width) }
    : { width: Math.floor((size * width) / height), height: size };
}

function resamplingOf(transform: ResamplingTransform, rng: Rng): Resampling {
  if (transform.kind === 'resize') return (width, height) => resizedSize(width, height, transform.size);
  return (width, height) => ({
    crop: randomResizedCropRect(width, height, rng, transform.scale, transform.ratio),
    width: transform.size,
    height: transform.size,
  });
}

/** The height x width window at (top, left) of `image`; places outside it take the value `fill`. */
function crop(image: Image, top: number, left: number, height: number, width: number, fill: number): Image {
  const { channels, height: inHeight, width: inWidth, data } = image;
  const out = new Uint8Array(channels * height * width);
  if (fill !== 0) out.fill(fill);
  const firstX = Math.max(0, -left);
  const endX = Math.min(width, inWidth - left);
  if (endX <= firstX) return { data: out, channels, height, width };
  for (let c = 0; c < channels; c++) {
    for (let y = Math.max(0, -top); y < Math.min(height, inHeight - top); y++) {
      // A plain loop: rows are short (32 pixels for CIFAR), and a subarray per row costs more than the copy.
      const from = (c * inHeight + top + y) * inWidth + left;
      const to = (c * height + y) * width;
      for (let x = firstX; x < endX; x++) out[to + x] = data[from + x]!;
    }
  }
  return { data: out, channels, height, width };
}

function flipHorizontally(image: Image): Image {
  const { channels, height, width, data } = image;
  const out = new Uint8Array(data.length);
  for (let row = 0; row < channels * height; row++) {
    const start = row * width;
    for (let x = 0; x < width; x++) out[start + x] = data[start + width - 1 - x]!;
  }
  return { data: out, channels, height, width };
}

/** torchvision's rgb_to_grayscale of pixel p of a 3-channel 8-bit CHW image (truncated to an integer, as it casts). */
function grey(data: Uint8Array, plane: number, p: number): number {
  return Math.trunc(0.2989 * data[p]! + 0.587 * data[plane + p]! + 0.114 * data[2 * plane + p]!);
}

/** torchvision's _blend: factor * image + (1 - factor) * other, clamped to 0..255 and truncated; other(p) per pixel. */
function blend(image: Image, factor: number, other: (plane: number, p: number) => number): Image {
  const { channels, height, width, data } = image;
  const plane = height * width;
  const out = new Uint8Array(data.length);
  for (let c = 0; c < channels; c++) {
    for (let p = 0; p < plane; p++) {
      const value = factor * data[c * plane + p]! + (1 - factor) * other(plane, p);
      out[c * plane + p] = Math.trunc(Math.min(255, Math.max(0, value)));
    }
  }
  return { data: out, channels, height, width };
}

function colorJitter(image: Image, transform: Extract<Transform, { kind: 'colorJitter' }>, rng: Rng): Image {
  if (image.channels !== 3) throw new Error(`colorJitter needs a 3-channel image, got ${image.channels} channels`);
  const factor = (strength = 0): number | null => (strength > 0 ? rng.uniform(Math.max(0, 1 - strength), 1 + strength) : null);
  const steps: ((img: Image) => Image)[] = [];
  const brightness = factor(transform.brightness);
  const contrast = factor(transform.contrast);
  const saturation = factor(transform.saturation);
  if (brightness !== null) steps.push((img) => blend(img, brightness, () => 0));
  if (contrast !== null) {
    steps.push((img) => {
      const plane = img.height * img.width;
      let sum = 0;
      for (let p = 0; p < plane; p++) sum += grey(img.data, plane, p);
      const mean = sum / plane;
      return blend(img, contrast, () => mean);
    });
  }
  if (saturation !== null) steps.push((img) => blend(img, saturation, (plane, p) => grey(img.data, plane, p)));
  // torchvision applies the adjustments in a random order.
  for (let i = steps.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [steps[i], steps[j]] = [steps[j]!, steps[i]!];
  }
  return steps.reduce((img, step) => step(img), image);
}

/** torchvision's center-crop offset: centred with Python's round, or padded when the image is smaller. */
function centerOffset(inSize: number, size: number): number {
  return inSize >= size ? roundHalfEven((inSize - size) / 2) : -Math.floor((size - inSize) / 2);
}

function applyPixelTransform(image: Image, transform: PixelTransform, rng: Rng): Image {
  switch (transform.kind) {
    case 'centerCrop':
      return crop(
        image,
        centerOffset(image.height, transform.size),
        centerOffset(image.width, transform.size),
        transform.size,
        transform.size,
        0,
      );
    case 'randomCrop': {
      const padding = transform.padding ?? 0;
      const { size } = transform;
      if (image.height + 2 * padding < size || image.width + 2 * padding < size) {
        throw new Error(`randomCrop ${size} of a ${image.height}x${image.width} image padded by ${padding}: the window does not fit`);
      }
      const top = rng.nextInt(image.height + 2 * padding - size + 1) - padding;
      const left = rng.nextInt(image.width + 2 * padding - size + 1) - padding;
      return crop(image, top, left, size, size, transform.fill ?? 0);
    }
    case 'horizontalFlip':
      return rng.nextFloat() < (transform.p ?? 0.5) ? flipHorizontally(image) : image;
    case 'colorJitter':
      return colorJitter(image, transform, rng);
    case 'grayscale':
      return grayscale(image);
  }
}

/** PIL's L = R * 299/1000 + G * 587/1000 + B * 114/1000, in its fixed-point form (16 fractional bits, rounded). */
function grayscale(image: Image): Image {
  if (image.channels === 1) return image;
  if (image.channels !== 3) throw new Error(`grayscale of a ${image.channels}-channel image: expected 3 channels`);
  const plane = image.height * image.width;
  const { data } = image;
  const out = new Uint8Array(plane);
  for (let p = 0; p < plane; p++) out[p] = (data[p]! * 19595 + data[plane + p]! * 38470 + data[2 * plane + p]! * 7471 + 0x8000) >>> 16;
  return { data: out, channels: 1, height: image.height, width: image.width };
}

/** Item `index` of `storage` through the resampling and 8-bit stages of `plan` (normalisation is left to writeNormalized). */
export async function transformImage(storage: ImageStorage, index: number, plan: TransformPlan, rng: Rng): Promise<Image> {
  let image =
    storage.kind === 'files' && plan.resampling
      ? await decodeImageFile(storage.paths[index]!, resamplingOf(plan.resampling, rng))
      : await readStoredImage(storage, index);
  for (const transform of plan.pixel) image = applyPixelTransform(image, transform, rng);
  return image;
}

/**
 * One encoded image (a file's path or its bytes) through `transforms` to float32 CHW, as the loader prepares an
 * item: what predicting on a new image needs. Random transforms draw from a fixed stream (`seed`).
 */
export async function prepareImage(
  source: string | Uint8Array,
  transforms: readonly Transform[],
  seed = 0,
): Promise<{ data: Float32Array; shape: [number, number, number] }> {
  const plan = planTransforms(transforms, 'files');
  const rng = Rng.fromKeys(seed);
  let image = await decodeImageFile(source, plan.resampling && resamplingOf(plan.resampling, rng));
  for (const transform of plan.pixel) image = applyPixelTransform(image, transform, rng);
  const data = new Float32Array(image.channels * image.height * image.width);
  writeNormalized(image, plan.normalize, data, 0);
  return { data, shape: [image.channels, image.height, image.width] };
}

/** Writes `image` as float32 CHW at out[offset...]: (pixel / 255 - mean) / std, or pixel / 255. */
export function writeNormalized(image: Image, normalize: Normalize | undefined, out: Float32Array, offset: number): void {
  const { channels, height, width, data } = image;
  if (normalize && normalize.mean.length !== channels) {
    throw new Error(`normalize has ${normalize.mean.length} channel means for a ${channels}-channel image`);
  }
  const plane = height * width;
  for (let c = 0; c < channels; c++) {
    const scale = normalize ? 1 / (255 * normalize.std[c]!) : 1 / 255;
    const shift = normalize ? -normalize.mean[c]! / normalize.std[c]! : 0;
    const base = offset + c * plane;
    for (let p = 0, q = c * plane; p < plane; p++, q++) out[base + p] = data[q]! * scale + shift;
  }
}
