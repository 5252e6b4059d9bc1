// Image transforms as plain data (they travel to the loader's workers as JSON), applied to one image with
// one random stream, following torchvision's definitions (transform-names.ts reads them from configs by
// torchvision's names):
// - resampling, first and for image files only (it runs inside the decoder): randomResizedCrop, resize;
// - 8-bit operations, in the order given: centerCrop, randomCrop (padded by a constant, the edge, or a
//   reflection), horizontalFlip, colorJitter (brightness, contrast, saturation, hue; in a random order),
//   grayscale, and the augmentation policies autoAugment, randAugment, trivialAugmentWide (auto-augment.ts);
// - normalize: (pixel / 255 - mean) / std per channel; without it a pixel becomes pixel / 255;
// - randomErasing, on the normalised values (as torchvision erases tensors), last.
import { AUTO_AUGMENT_POLICIES, type AutoAugmentPolicy, autoAugment, randAugment, trivialAugmentWide } from './auto-augment.js';
import { type Image, type ImageStorage, readStoredImage } from './dataset.js';
import { type Rect, type Resampling, decodeImageFile } from './decode.js';
import { imageAddon } from './image-addon.js';
import { adjustBrightness, adjustContrast, adjustHue, adjustSaturation } from './pixel-ops.js';
import { Rng } from './random.js';

export const PADDING_MODES = ['constant', 'edge', 'reflect', 'symmetric'] as const;
export type PaddingMode = (typeof PADDING_MODES)[number];

export type Transform =
  /** torchvision's RandomResizedCrop: a crop of random area and aspect ratio, resized to size x size. */
  | { kind: 'randomResizedCrop'; size: number; scale?: readonly [number, number]; ratio?: readonly [number, number] }
  /** The shorter side to `size`, the aspect ratio kept (torchvision's Resize(int)). */
  | { kind: 'resize'; size: number }
  | { kind: 'centerCrop'; size: number }
  /**
   * A random size x size window of the image padded by `padding` pixels on every side: of value `fill` (constant),
   * the edge pixel (edge), or mirrored without (reflect) or with (symmetric) the edge pixel.
   */
  | { kind: 'randomCrop'; size: number; padding?: number; fill?: number; paddingMode?: PaddingMode }
  /** Mirror left-right with probability p (default 0.5). */
  | { kind: 'horizontalFlip'; p?: number }
  /**
   * torchvision's ColorJitter: each strength s draws a factor uniformly from [max(0, 1 - s), 1 + s] (hue: a shift
   * from [-hue, hue], hue <= 0.5); brightness scales the pixels, contrast blends with the mean grey level,
   * saturation with the grey image, hue turns the colour wheel.
   */
  | { kind: 'colorJitter'; brightness?: number; contrast?: number; saturation?: number; hue?: number }
  /** torchvision's AutoAugment with one of its learned policies; `fill`: the colour of uncovered pixels (0). */
  | { kind: 'autoAugment'; policy: AutoAugmentPolicy; fill?: readonly number[] }
  /** torchvision's RandAugment: numOps operations at magnitude bin `magnitude` of numMagnitudeBins. */
  | { kind: 'randAugment'; numOps: number; magnitude: number; numMagnitudeBins: number; fill?: readonly number[] }
  /** torchvision's TrivialAugmentWide: one operation at a random magnitude. */
  | { kind: 'trivialAugmentWide'; numMagnitudeBins: number; fill?: readonly number[] }
  /**
   * torchvision's RandomErasing, on normalised values: with probability p a rectangle of area scale x the image's
   * and aspect ratio `ratio` takes `value` (one number, one per channel, or 'random': standard normal draws).
   */
  | {
      kind: 'randomErasing';
      p: number;
      scale: readonly [number, number];
      ratio: readonly [number, number];
      value: number | readonly number[] | 'random';
    }
  /** One channel from three, as PIL's convert('L') (torchvision's Grayscale(1) on PIL images); one channel stays. */
  | { kind: 'grayscale' }
  /** Per-channel mean and standard deviation, on the 0-1 scale. */
  | { kind: 'normalize'; mean: readonly number[]; std: readonly number[] };

type ResamplingTransform = Extract<Transform, { kind: 'randomResizedCrop' | 'resize' }>;
type PixelTransform = Exclude<Transform, ResamplingTransform | Normalize | RandomErasing>;
export type Normalize = Extract<Transform, { kind: 'normalize' }>;
export type RandomErasing = Extract<Transform, { kind: 'randomErasing' }>;

/** A transform list split into its stages, checked. */
export interface TransformPlan {
  readonly resampling?: ResamplingTransform;
  readonly pixel: readonly PixelTransform[];
  readonly normalize?: Normalize;
  readonly erasing?: RandomErasing;
}

export const CIFAR_MEAN = [0.4914, 0.4822, 0.4465] as const;
export const CIFAR_STD = [0.2023, 0.1994, 0.201] as const;
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** Image files of any size made size x size (the shorter side resized, then the centre): before the CIFAR steps. */
function toSquare(size: number, files: boolean): Transform[] {
  return files
    ? [
        { kind: 'resize', size },
        { kind: 'centerCrop', size },
      ]
    : [];
}

/** The CIFAR-LT recipe at `size` (32: crop 32 with padding 4), flip, normalise; image files first made size x size. */
export function cifarTrainTransforms(size = 32, files = false): Transform[] {
  return [
    ...toSquare(size, files),
    { kind: 'randomCrop', size, padding: Math.round(size / 8) },
    { kind: 'horizontalFlip' },
    { kind: 'normalize', mean: CIFAR_MEAN, std: CIFAR_STD },
  ];
}

export function cifarEvalTransforms(size = 32, files = false): Transform[] {
  return [...toSquare(size, files), { kind: 'normalize', mean: CIFAR_MEAN, std: CIFAR_STD }];
}

/** The ImageNet-LT recipe: random-resized-crop `size`, flip, (optional colour jitter,) normalise. */
export function imagenetTrainTransforms(size = 224, colorJitter?: Extract<Transform, { kind: 'colorJitter' }>): Transform[] {
  return [
    { kind: 'randomResizedCrop', size },
    { kind: 'horizontalFlip' },
    ...(colorJitter ? [colorJitter] : []),
    { kind: 'normalize', mean: IMAGENET_MEAN, std: IMAGENET_STD },
  ];
}

/** Resize to size x 256 / 224 (256 for 224), center-crop `size`, normalise. */
export function imagenetEvalTransforms(size = 224): Transform[] {
  return [
    { kind: 'resize', size: Math.round((size * 256) / 224) },
    { kind: 'centerCrop', size },
    { kind: 'normalize', mean: IMAGENET_MEAN, std: IMAGENET_STD },
  ];
}

/**
 * The height and width of what `transforms` make of a height x width image, where the list decides it (a crop or
 * a square resize), else the input's: for the warning that training and evaluation see different sizes.
 */
export function transformedSize(transforms: readonly Transform[], height: number, width: number): [number, number] {
  let size: [number, number] = [height, width];
  for (const transform of transforms) {
    if (transform.kind === 'resize') {
      const resized = resizedSize(size[1], size[0], transform.size);
      size = [resized.height, resized.width];
    } else if (transform.kind === 'centerCrop' || transform.kind === 'randomCrop' || transform.kind === 'randomResizedCrop') {
      size = [transform.size, transform.size];
    }
  }
  return size;
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
      if (!PADDING_MODES.includes(transform.paddingMode ?? 'constant'))
        throw new RangeError(`transforms: randomCrop padding mode must be one of ${PADDING_MODES.join(', ')}`);
      return;
    case 'horizontalFlip': {
      const p = transform.p ?? 0.5;
      if (!(p >= 0 && p <= 1)) throw new RangeError(`transforms: horizontalFlip p must be in [0, 1], got ${p}`);
      return;
    }
    case 'colorJitter':
      for (const key of ['brightness', 'contrast', 'saturation', 'hue'] as const) {
        const strength = transform[key] ?? 0;
        if (!(strength >= 0)) throw new RangeError(`transforms: colorJitter ${key} must be >= 0, got ${strength}`);
      }
      if ((transform.hue ?? 0) > 0.5) throw new RangeError(`transforms: colorJitter hue must be <= 0.5, got ${transform.hue}`);
      return;
    case 'grayscale':
      return;
    case 'autoAugment':
      if (!AUTO_AUGMENT_POLICIES.includes(transform.policy))
        throw new RangeError(`transforms: autoAugment policy must be one of ${AUTO_AUGMENT_POLICIES.join(', ')}, got ${transform.policy}`);
      checkFill(transform.fill, transform.kind);
      return;
    case 'randAugment':
      positiveInteger(transform.numMagnitudeBins, 'randAugment numMagnitudeBins');
      if (!Number.isInteger(transform.numOps) || transform.numOps < 0)
        throw new RangeError('transforms: randAugment numOps must be an integer >= 0');
      if (!Number.isInteger(transform.magnitude) || transform.magnitude < 0 || transform.magnitude >= transform.numMagnitudeBins)
        throw new RangeError(`transforms: randAugment magnitude must be an integer in 0..numMagnitudeBins - 1, got ${transform.magnitude}`);
      checkFill(transform.fill, transform.kind);
      return;
    case 'trivialAugmentWide':
      if (!Number.isInteger(transform.numMagnitudeBins) || transform.numMagnitudeBins < 2)
        throw new RangeError('transforms: trivialAugmentWide numMagnitudeBins must be an integer >= 2');
      checkFill(transform.fill, transform.kind);
      return;
    case 'randomErasing': {
      const [minScale, maxScale] = transform.scale;
      const [minRatio, maxRatio] = transform.ratio;
      if (!(transform.p >= 0 && transform.p <= 1))
        throw new RangeError(`transforms: randomErasing p must be in [0, 1], got ${transform.p}`);
      if (!(minScale >= 0 && minScale <= maxScale && maxScale <= 1))
        throw new RangeError('transforms: randomErasing scale must satisfy 0 <= min <= max <= 1');
      if (!(minRatio > 0 && minRatio <= maxRatio)) throw new RangeError('transforms: randomErasing ratio must satisfy 0 < min <= max');
      const { value } = transform;
      if (value !== 'random' && !(typeof value === 'number' ? Number.isFinite(value) : value.length > 0 && value.every(Number.isFinite)))
        throw new RangeError("transforms: randomErasing value must be a number, a list of numbers or 'random'");
      return;
    }
    case 'normalize':
      if (transform.mean.length === 0 || transform.mean.length !== transform.std.length)
        throw new RangeError('transforms: normalize needs as many means as standard deviations');
      if (!transform.std.every((std) => std > 0)) throw new RangeError('transforms: normalize standard deviations must be > 0');
      return;
    default:
      throw new RangeError(`transforms: unknown kind ${JSON.stringify((transform as { kind: unknown }).kind)}`);
  }
}

function checkFill(fill: readonly number[] | undefined, kind: string): void {
  if (fill !== undefined && (fill.length === 0 || !fill.every((value) => value >= 0 && value <= 255)))
    throw new RangeError(`transforms: ${kind} fill must be one value or one per channel, each in 0..255`);
}

/** Checks a transform list and splits it into stages; resampling needs image files. */
export function planTransforms(transforms: readonly Transform[], storageKind: ImageStorage['kind']): TransformPlan {
  transforms.forEach(checkTransform);
  const pixel: PixelTransform[] = [];
  let resampling: ResamplingTransform | undefined;
  let normalize: Normalize | undefined;
  let erasing: RandomErasing | undefined;
  transforms.forEach((transform, position) => {
    if (transform.kind === 'randomResizedCrop' || transform.kind === 'resize') {
      if (position !== 0) throw new Error(`transforms: ${transform.kind} must come first (it runs inside the image decoder)`);
      if (storageKind !== 'files') throw new Error(`transforms: ${transform.kind} needs image files; in-memory images are not resampled`);
      resampling = transform;
    } else if (transform.kind === 'normalize') {
      const last = transforms.length - (transforms.at(-1)?.kind === 'randomErasing' ? 2 : 1);
      if (position !== last) throw new Error('transforms: normalize must come last (before randomErasing only)');
      normalize = transform;
    } else if (transform.kind === 'randomErasing') {
      if (position !== transforms.length - 1) throw new Error('transforms: randomErasing must come last (it erases normalised values)');
      erasing = transform;
    } else {
      pixel.push(transform);
    }
  });
  return { resampling, pixel, normalize, erasing };
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

/** Where coordinate u (outside 0..n-1) reads from under a padding mode: the edge, or a mirror without/with it. */
function paddedSource(u: number, n: number, mode: Exclude<PaddingMode, 'constant'>): number {
  if (mode === 'edge') return Math.min(n - 1, Math.max(0, u));
  // reflect: -1 -> 1, n -> n - 2 (period 2n - 2); symmetric: -1 -> 0, n -> n - 1 (period 2n).
  const period = mode === 'reflect' ? 2 * n - 2 : 2 * n;
  if (period === 0) return 0;
  const v = ((u % period) + period) % period;
  if (mode === 'reflect') return v < n ? v : period - v;
  return v < n ? v : period - 1 - v;
}

/** The height x width window at (top, left) of `image` padded by mirroring or repeating its edge. */
function paddedCrop(image: Image, top: number, left: number, size: number, mode: Exclude<PaddingMode, 'constant'>): Image {
  const { channels, height: inHeight, width: inWidth, data } = image;
  const out = new Uint8Array(channels * size * size);
  const rows = Array.from({ length: size }, (_, y) => paddedSource(top + y, inHeight, mode));
  const columns = Array.from({ length: size }, (_, x) => paddedSource(left + x, inWidth, mode));
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < size; y++) {
      const from = (c * inHeight + rows[y]!) * inWidth;
      const to = (c * size + y) * size;
      for (let x = 0; x < size; x++) out[to + x] = data[from + columns[x]!]!;
    }
  }
  return { data: out, channels, height: size, width: size };
}

function flipHorizontally(image: Image): Image {
  const { channels, height, width, data } = image;
  // A copy whose rows are reversed in place: TypedArray.reverse is native, 4x a JavaScript loop at 224 pixels.
  const out = data.slice();
  for (let start = 0; start < out.length; start += width) out.subarray(start, start + width).reverse();
  return { data: out, channels, height, width };
}

function colorJitter(image: Image, transform: Extract<Transform, { kind: 'colorJitter' }>, rng: Rng): Image {
  if (image.channels !== 3) throw new Error(`colorJitter needs a 3-channel image, got ${image.channels} channels`);
  const factor = (strength = 0): number | null => (strength > 0 ? rng.uniform(Math.max(0, 1 - strength), 1 + strength) : null);
  const steps: ((img: Image) => Image)[] = [];
  const brightness = factor(transform.brightness);
  const contrast = factor(transform.contrast);
  const saturation = factor(transform.saturation);
  const hue = (transform.hue ?? 0) > 0 ? rng.uniform(-transform.hue!, transform.hue!) : null;
  if (brightness !== null) steps.push((img) => adjustBrightness(img, brightness));
  if (contrast !== null) steps.push((img) => adjustContrast(img, contrast));
  if (saturation !== null) steps.push((img) => adjustSaturation(img, saturation));
  if (hue !== null) steps.push((img) => adjustHue(img, hue));
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
      const mode = transform.paddingMode ?? 'constant';
      if (mode === 'reflect' && padding >= Math.min(image.height, image.width)) {
        throw new Error(`randomCrop: reflect padding ${padding} needs an image larger than it, got ${image.height}x${image.width}`);
      }
      const top = rng.nextInt(image.height + 2 * padding - size + 1) - padding;
      const left = rng.nextInt(image.width + 2 * padding - size + 1) - padding;
      return mode === 'constant' ? crop(image, top, left, size, size, transform.fill ?? 0) : paddedCrop(image, top, left, size, mode);
    }
    case 'horizontalFlip':
      return rng.nextFloat() < (transform.p ?? 0.5) ? flipHorizontally(image) : image;
    case 'colorJitter':
      return colorJitter(image, transform, rng);
    case 'grayscale':
      return grayscale(image);
    case 'autoAugment':
      return autoAugment(image, transform.policy, rng, transform.fill);
    case 'randAugment':
      return randAugment(image, transform, rng, transform.fill);
    case 'trivialAugmentWide':
      return trivialAugmentWide(image, transform.numMagnitudeBins, rng, transform.fill);
  }
}

/**
 * torchvision's RandomErasing on one item's normalised values (out[offset...], CHW): with probability p, up to ten
 * tries at a rectangle of random area and aspect ratio that fits, filled with the value(s) or standard normal draws.
 */
export function eraseRandomly(
  out: Float32Array,
  offset: number,
  shape: readonly [number, number, number],
  transform: RandomErasing,
  rng: Pick<Rng, 'nextFloat' | 'uniform' | 'nextInt' | 'normal'>,
): void {
  // torchvision compares a float32 draw with p as float32.
  if (!(Math.fround(rng.nextFloat()) < Math.fround(transform.p))) return;
  const [channels, height, width] = shape;
  const { value } = transform;
  if (typeof value === 'object' && value.length !== 1 && value.length !== channels) {
    throw new Error(`randomErasing has ${value.length} values for a ${channels}-channel image (give 1 or ${channels})`);
  }
  const area = height * width;
  const logRatio = [Math.log(transform.ratio[0]), Math.log(transform.ratio[1])] as const;
  for (let attempt = 0; attempt < 10; attempt++) {
    const eraseArea = area * rng.uniform(transform.scale[0], transform.scale[1]);
    const aspect = Math.exp(rng.uniform(logRatio[0], logRatio[1]));
    const h = roundHalfEven(Math.sqrt(eraseArea * aspect));
    const w = roundHalfEven(Math.sqrt(eraseArea / aspect));
    if (!(h < height && w < width)) continue;
    const fillOf =
      value === 'random' ? () => rng.normal() : typeof value === 'number' ? () => value : (c: number) => value[value.length === 1 ? 0 : c]!;
    const top = rng.nextInt(height - h + 1);
    const left = rng.nextInt(width - w + 1);
    for (let c = 0; c < channels; c++) {
      for (let y = top; y < top + h; y++) {
        for (let x = left; x < left + w; x++) out[offset + (c * height + y) * width + x] = fillOf(c);
      }
    }
    return;
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
  const shape = [image.channels, image.height, image.width] as [number, number, number];
  writeNormalized(image, plan.normalize, data, 0);
  if (plan.erasing) eraseRandomly(data, 0, shape, plan.erasing, rng);
  return { data, shape };
}

/** Writes `image` as float32 CHW at out[offset...]: (pixel / 255 - mean) / std, or pixel / 255. */
/**
 * pixel -> pixel * scale[c] + shift[c] per channel: (pixel / 255 - mean) / std, or pixel / 255 without a normalize
 * transform. Computed in double precision and rounded to float32 once, wherever it runs (a loader worker, or
 * batchTensors on the device for 8-bit batches), so both give the same values.
 */
export function channelFactors(normalize: Normalize | undefined, channels: number): { scale: Float64Array; shift: Float64Array } {
  if (normalize && normalize.mean.length !== channels) {
    throw new Error(`normalize has ${normalize.mean.length} channel means for a ${channels}-channel image`);
  }
  const scale = new Float64Array(channels).fill(1 / 255);
  const shift = new Float64Array(channels);
  for (let c = 0; normalize && c < channels; c++) {
    scale[c] = 1 / (255 * normalize.std[c]!);
    shift[c] = -normalize.mean[c]! / normalize.std[c]!;
  }
  return { scale, shift };
}

export function writeNormalized(image: Image, normalize: Normalize | undefined, out: Float32Array, offset: number): void {
  const { channels, height, width, data } = image;
  const { scale, shift } = channelFactors(normalize, channels);
  if (data.length !== channels * height * width) throw new Error(`an image of ${data.length} bytes is not ${channels}x${height}x${width}`);
  // In the addon: the JavaScript loop took a third of a 224-pixel JPEG item's time in a loader worker.
  imageAddon().normalizeInto(data, channels, scale, shift, out, offset);
}
