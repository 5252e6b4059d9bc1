// The learned and random augmentation policies of torchvision (transforms/autoaugment.py, v0.14): AutoAugment
// (its CIFAR-10, ImageNet and SVHN policies), RandAugment and TrivialAugmentWide, with their magnitude tables in
// float32 as torch.linspace makes them, the same random draws in the same order (from scatter's streams instead
// of torch's), and each operation as torchvision's tensor back end computes it (pixel-ops.ts).
import type { Image } from './image.js';
import {
  adjustBrightness,
  adjustContrast,
  adjustSaturation,
  adjustSharpness,
  affine,
  autocontrast,
  equalize,
  invert,
  linspace32,
  posterize,
  solarize,
} from './pixel-ops.js';

export const AUGMENT_OPS = [
  'Identity',
  'ShearX',
  'ShearY',
  'TranslateX',
  'TranslateY',
  'Rotate',
  'Brightness',
  'Color',
  'Contrast',
  'Sharpness',
  'Posterize',
  'Solarize',
  'AutoContrast',
  'Equalize',
  'Invert',
] as const;
export type AugmentOp = (typeof AUGMENT_OPS)[number];

/** The random draws a policy makes, in torchvision's order: integers below n, and uniform floats in [0, 1). */
export interface Draws {
  nextInt(n: number): number;
  nextFloat(): number;
}

/** torchvision's _apply_op on a tensor image: one operation at one (signed) magnitude, nearest sampling, `fill`. */
export function applyOp(image: Image, op: AugmentOp, magnitude: number, fill?: readonly number[]): Image {
  const still = { angle: 0, translate: [0, 0] as const, scale: 1, shear: [0, 0] as const, center: [0, 0] as const };
  // Shears are about the top-left corner (center [0, 0] in pixels, given as an offset from the image's centre).
  const corner = [-image.width * 0.5, -image.height * 0.5] as const;
  const shearDegrees = (Math.atan(magnitude) * 180) / Math.PI;
  switch (op) {
    case 'Identity':
      return image;
    case 'ShearX':
      return affine(image, { ...still, shear: [shearDegrees, 0], center: corner }, fill);
    case 'ShearY':
      return affine(image, { ...still, shear: [0, shearDegrees], center: corner }, fill);
    case 'TranslateX':
      return affine(image, { ...still, translate: [Math.trunc(magnitude), 0] }, fill);
    case 'TranslateY':
      return affine(image, { ...still, translate: [0, Math.trunc(magnitude)] }, fill);
    case 'Rotate':
      // F.rotate turns counter-clockwise: the inverse map of -angle.
      return affine(image, { ...still, angle: -magnitude }, fill);
    case 'Brightness':
      return adjustBrightness(image, 1 + magnitude);
    case 'Color':
      return adjustSaturation(image, 1 + magnitude);
    case 'Contrast':
      return adjustContrast(image, 1 + magnitude);
    case 'Sharpness':
      return adjustSharpness(image, 1 + magnitude);
    case 'Posterize':
      return posterize(image, Math.trunc(magnitude));
    case 'Solarize':
      return solarize(image, magnitude);
    case 'AutoContrast':
      return autocontrast(image);
    case 'Equalize':
      return equalize(image);
    case 'Invert':
      return invert(image);
  }
}

/** An operation's magnitudes (null: it takes none) and whether a random sign applies to them. */
interface OpRange {
  magnitudes: number[] | null;
  signed: boolean;
}

/** torch.round of float32 values (ties to even) of 8 - i / ((bins - 1) / levels): the posterize bits. */
function posterizeBits(bins: number, levels: number): number[] {
  const divisor = Math.fround((bins - 1) / levels);
  return Array.from({ length: bins }, (_, i) => {
    const value = Math.fround(i / divisor);
    const floor = Math.floor(value);
    const rounded = value - floor === 0.5 ? (floor % 2 === 0 ? floor : floor + 1) : Math.round(value);
    return 8 - rounded;
  });
}

/**
 * AutoAugment's and RandAugment's operations and magnitudes (torchvision's _augmentation_space): RandAugment's list
 * starts with Identity, AutoAugment's ends with Invert.
 */
export function augmentationSpace(bins: number, height: number, width: number, policy: 'auto' | 'rand'): Map<AugmentOp, OpRange> {
  const signed = (end: number): OpRange => ({ magnitudes: linspace32(0, end, bins), signed: true });
  const none: OpRange = { magnitudes: null, signed: false };
  return new Map<AugmentOp, OpRange>([
    ...(policy === 'rand' ? [['Identity', none] as const] : []),
    ['ShearX', signed(0.3)],
    ['ShearY', signed(0.3)],
    ['TranslateX', signed((150 / 331) * width)],
    ['TranslateY', signed((150 / 331) * height)],
    ['Rotate', signed(30)],
    ['Brightness', signed(0.9)],
    ['Color', signed(0.9)],
    ['Contrast', signed(0.9)],
    ['Sharpness', signed(0.9)],
    ['Posterize', { magnitudes: posterizeBits(bins, 4), signed: false }],
    ['Solarize', { magnitudes: linspace32(255, 0, bins), signed: false }],
    ['AutoContrast', none],
    ['Equalize', none],
    ...(policy === 'auto' ? [['Invert', none] as const] : []),
  ]);
}

/** TrivialAugmentWide's wider ranges, independent of the image size. */
export function wideAugmentationSpace(bins: number): Map<AugmentOp, OpRange> {
  const signed = (end: number): OpRange => ({ magnitudes: linspace32(0, end, bins), signed: true });
  const none: OpRange = { magnitudes: null, signed: false };
  return new Map<AugmentOp, OpRange>([
    ['Identity', none],
    ['ShearX', signed(0.99)],
    ['ShearY', signed(0.99)],
    ['TranslateX', signed(32)],
    ['TranslateY', signed(32)],
    ['Rotate', signed(135)],
    ['Brightness', signed(0.99)],
    ['Color', signed(0.99)],
    ['Contrast', signed(0.99)],
    ['Sharpness', signed(0.99)],
    ['Posterize', { magnitudes: posterizeBits(bins, 6), signed: false }],
    ['Solarize', { magnitudes: linspace32(255, 0, bins), signed: false }],
    ['AutoContrast', none],
    ['Equalize', none],
  ]);
}

export const AUTO_AUGMENT_POLICIES = ['imagenet', 'cifar10', 'svhn'] as const;
export type AutoAugmentPolicy = (typeof AUTO_AUGMENT_POLICIES)[number];

/** One sub-policy step: the operation, its probability and its magnitude bin (null: the operation takes none). */
type Step = readonly [AugmentOp, number, number | null];

// The sub-policies as torchvision lists them (Cubuk et al., 2019), two steps each.
const POLICIES: Record<AutoAugmentPolicy, readonly (readonly [Step, Step])[]> = {
  imagenet: [
    [
      ['Posterize', 0.4, 8],
      ['Rotate', 0.6, 9],
    ],
    [
      ['Solarize', 0.6, 5],
      ['AutoContrast', 0.6, null],
    ],
    [
      ['Equalize', 0.8, null],
      ['Equalize', 0.6, null],
    ],
    [
      ['Posterize', 0.6, 7],
      ['Posterize', 0.6, 6],
    ],
    [
      ['Equalize', 0.4, null],
      ['Solarize', 0.2, 4],
    ],
    [
      ['Equalize', 0.4, null],
      ['Rotate', 0.8, 8],
    ],
    [
      ['Solarize', 0.6, 3],
      ['Equalize', 0.6, null],
    ],
    [
      ['Posterize', 0.8, 5],
      ['Equalize', 1.0, null],
    ],
    [
      ['Rotate', 0.2, 3],
      ['Solarize', 0.6, 8],
    ],
    [
      ['Equalize', 0.6, null],
      ['Posterize', 0.4, 6],
    ],
    [
      ['Rotate', 0.8, 8],
      ['Color', 0.4, 0],
    ],
    [
      ['Rotate', 0.4, 9],
      ['Equalize', 0.6, null],
    ],
    [
      ['Equalize', 0.0, null],
      ['Equalize', 0.8, null],
    ],
    [
      ['Invert', 0.6, null],
      ['Equalize', 1.0, null],
    ],
    [
      ['Color', 0.6, 4],
      ['Contrast', 1.0, 8],
    ],
    [
      ['Rotate', 0.8, 8],
      ['Color', 1.0, 2],
    ],
    [
      ['Color', 0.8, 8],
      ['Solarize', 0.8, 7],
    ],
    [
      ['Sharpness', 0.4, 7],
      ['Invert', 0.6, null],
    ],
    [
      ['ShearX', 0.6, 5],
      ['Equalize', 1.0, null],
    ],
    [
      ['Color', 0.4, 0],
      ['Equalize', 0.6, null],
    ],
    [
      ['Equalize', 0.4, null],
      ['Solarize', 0.2, 4],
    ],
    [
      ['Solarize', 0.6, 5],
      ['AutoContrast', 0.6, null],
    ],
    [
      ['Invert', 0.6, null],
      ['Equalize', 1.0, null],
    ],
    [
      ['Color', 0.6, 4],
      ['Contrast', 1.0, 8],
    ],
    [
      ['Equalize', 0.8, null],
      ['Equalize', 0.6, null],
    ],
  ],
  cifar10: [
    [
      ['Invert', 0.1, null],
      ['Contrast', 0.2, 6],
    ],
    [
      ['Rotate', 0.7, 2],
      ['TranslateX', 0.3, 9],
    ],
    [
      ['Sharpness', 0.8, 1],
      ['Sharpness', 0.9, 3],
    ],
    [
      ['ShearY', 0.5, 8],
      ['TranslateY', 0.7, 9],
    ],
    [
      ['AutoContrast', 0.5, null],
      ['Equalize', 0.9, null],
    ],
    [
      ['ShearY', 0.2, 7],
      ['Posterize', 0.3, 7],
    ],
    [
      ['Color', 0.4, 3],
      ['Brightness', 0.6, 7],
    ],
    [
      ['Sharpness', 0.3, 9],
      ['Brightness', 0.7, 9],
    ],
    [
      ['Equalize', 0.6, null],
      ['Equalize', 0.5, null],
    ],
    [
      ['Contrast', 0.6, 7],
      ['Sharpness', 0.6, 5],
    ],
    [
      ['Color', 0.7, 7],
      ['TranslateX', 0.5, 8],
    ],
    [
      ['Equalize', 0.3, null],
      ['AutoContrast', 0.4, null],
    ],
    [
      ['TranslateY', 0.4, 3],
      ['Sharpness', 0.2, 6],
    ],
    [
      ['Brightness', 0.9, 6],
      ['Color', 0.2, 8],
    ],
    [
      ['Solarize', 0.5, 2],
      ['Invert', 0.0, null],
    ],
    [
      ['Equalize', 0.2, null],
      ['AutoContrast', 0.6, null],
    ],
    [
      ['Equalize', 0.2, null],
      ['Equalize', 0.6, null],
    ],
    [
      ['Color', 0.9, 9],
      ['Equalize', 0.6, null],
    ],
    [
      ['AutoContrast', 0.8, null],
      ['Solarize', 0.2, 8],
    ],
    [
      ['Brightness', 0.1, 3],
      ['Color', 0.7, 0],
    ],
    [
      ['Solarize', 0.4, 5],
      ['AutoContrast', 0.9, null],
    ],
    [
      ['TranslateY', 0.9, 9],
      ['TranslateY', 0.7, 9],
    ],
    [
      ['AutoContrast', 0.9, null],
      ['Solarize', 0.8, 3],
    ],
    [
      ['Equalize', 0.8, null],
      ['Invert', 0.1, null],
    ],
    [
      ['TranslateY', 0.7, 9],
      ['AutoContrast', 0.9, null],
    ],
  ],
  svhn: [
    [
      ['ShearX', 0.9, 4],
      ['Invert', 0.2, null],
    ],
    [
      ['ShearY', 0.9, 8],
      ['Invert', 0.7, null],
    ],
    [
      ['Equalize', 0.6, null],
      ['Solarize', 0.6, 6],
    ],
    [
      ['Invert', 0.9, null],
      ['Equalize', 0.6, null],
    ],
    [
      ['Equalize', 0.6, null],
      ['Rotate', 0.9, 3],
    ],
    [
      ['ShearX', 0.9, 4],
      ['AutoContrast', 0.8, null],
    ],
    [
      ['ShearY', 0.9, 8],
      ['Invert', 0.4, null],
    ],
    [
      ['ShearY', 0.9, 5],
      ['Solarize', 0.2, 6],
    ],
    [
      ['Invert', 0.9, null],
      ['AutoContrast', 0.8, null],
    ],
    [
      ['Equalize', 0.6, null],
      ['Rotate', 0.9, 3],
    ],
    [
      ['ShearX', 0.9, 4],
      ['Solarize', 0.3, 3],
    ],
    [
      ['ShearY', 0.8, 8],
      ['Invert', 0.7, null],
    ],
    [
      ['Equalize', 0.9, null],
      ['TranslateY', 0.6, 6],
    ],
    [
      ['Invert', 0.9, null],
      ['Equalize', 0.6, null],
    ],
    [
      ['Contrast', 0.3, 3],
      ['Rotate', 0.8, 4],
    ],
    [
      ['Invert', 0.8, null],
      ['TranslateY', 0.0, 2],
    ],
    [
      ['ShearY', 0.7, 6],
      ['Solarize', 0.4, 8],
    ],
    [
      ['Invert', 0.6, null],
      ['Rotate', 0.8, 4],
    ],
    [
      ['ShearY', 0.3, 7],
      ['TranslateX', 0.9, 3],
    ],
    [
      ['ShearX', 0.1, 6],
      ['Invert', 0.6, null],
    ],
    [
      ['Solarize', 0.7, 2],
      ['TranslateY', 0.6, 7],
    ],
    [
      ['ShearY', 0.8, 4],
      ['Invert', 0.8, null],
    ],
    [
      ['ShearX', 0.7, 9],
      ['TranslateY', 0.8, 3],
    ],
    [
      ['ShearY', 0.8, 5],
      ['AutoContrast', 0.7, null],
    ],
    [
      ['ShearX', 0.7, 2],
      ['Invert', 0.1, null],
    ],
  ],
};

/** The signed magnitude of `op` at `bin` (0 for operations without magnitudes); `negative` flips signed ones. */
function magnitudeOf(range: OpRange, bin: number, negative: boolean): number {
  const magnitude = range.magnitudes === null ? 0 : range.magnitudes[bin]!;
  return range.signed && negative ? -magnitude : magnitude;
}

/**
 * AutoAugment: a sub-policy drawn uniformly, then each of its two steps applied with its probability. Draws, as
 * torchvision's get_params makes them: the sub-policy, two probabilities, two signs.
 */
export function autoAugment(image: Image, policy: AutoAugmentPolicy, draws: Draws, fill?: readonly number[]): Image {
  const subPolicies = POLICIES[policy];
  const chosen = subPolicies[draws.nextInt(subPolicies.length)]!;
  const probabilities = [draws.nextFloat(), draws.nextFloat()];
  const signs = [draws.nextInt(2), draws.nextInt(2)];
  const space = augmentationSpace(10, image.height, image.width, 'auto');
  return chosen.reduce((current, [op, p, bin], i) => {
    // torchvision compares a float32 draw with the probability as float32.
    if (!(Math.fround(probabilities[i]!) <= Math.fround(p))) return current;
    return applyOp(current, op, magnitudeOf(space.get(op)!, bin ?? 0, signs[i] === 0), fill);
  }, image);
}

/** RandAugment: numOps operations drawn uniformly (Identity among them), each at the fixed magnitude bin, signs drawn. */
export function randAugment(
  image: Image,
  options: { numOps: number; magnitude: number; numMagnitudeBins: number },
  draws: Draws,
  fill?: readonly number[],
): Image {
  const space = augmentationSpace(options.numMagnitudeBins, image.height, image.width, 'rand');
  const ops = [...space.keys()];
  let current = image;
  for (let n = 0; n < options.numOps; n++) {
    const op = ops[draws.nextInt(ops.length)]!;
    const range = space.get(op)!;
    const negative = range.signed && draws.nextInt(2) === 1;
    current = applyOp(current, op, magnitudeOf(range, options.magnitude, negative), fill);
  }
  return current;
}

/** TrivialAugmentWide: one operation and one magnitude bin drawn uniformly, then a sign. */
export function trivialAugmentWide(image: Image, numMagnitudeBins: number, draws: Draws, fill?: readonly number[]): Image {
  const space = wideAugmentationSpace(numMagnitudeBins);
  const ops = [...space.keys()];
  const op = ops[draws.nextInt(ops.length)]!;
  const range = space.get(op)!;
  const bin = range.magnitudes === null ? 0 : draws.nextInt(range.magnitudes.length);
  const negative = range.signed && draws.nextInt(2) === 1;
  return applyOp(image, op, magnitudeOf(range, bin, negative), fill);
}
