// Transform lists as configs write them: torchvision's class names with its argument names, e.g.
//   - RandomCrop: { size: 32, padding: 4, padding_mode: reflect }
//   - RandomHorizontalFlip
//   - AutoAugment: { policy: cifar10 }
//   - Normalize: { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] }
// read into transforms.ts' Transform objects (checked there), and written back with every argument spelled out.
import { AUTO_AUGMENT_POLICIES } from './auto-augment.js';
import { PADDING_MODES, type Transform, planTransforms } from './transforms.js';

type ArgType = 'int' | 'number' | 'pair' | 'numbers' | 'fill' | 'policy' | 'paddingMode' | 'erasingValue';

interface Arg {
  /** The Transform field it sets. */
  field: string;
  type: ArgType;
  /** torchvision's default; undefined: required. */
  default?: unknown;
}

interface Spec {
  kind: Transform['kind'];
  args: Record<string, Arg>;
}

const SPECS: Record<string, Spec> = {
  RandomCrop: {
    kind: 'randomCrop',
    args: {
      size: { field: 'size', type: 'int' },
      padding: { field: 'padding', type: 'int', default: 0 },
      fill: { field: 'fill', type: 'int', default: 0 },
      padding_mode: { field: 'paddingMode', type: 'paddingMode', default: 'constant' },
    },
  },
  RandomResizedCrop: {
    kind: 'randomResizedCrop',
    args: {
      size: { field: 'size', type: 'int' },
      scale: { field: 'scale', type: 'pair', default: [0.08, 1] },
      ratio: { field: 'ratio', type: 'pair', default: [3 / 4, 4 / 3] },
    },
  },
  Resize: { kind: 'resize', args: { size: { field: 'size', type: 'int' } } },
  CenterCrop: { kind: 'centerCrop', args: { size: { field: 'size', type: 'int' } } },
  RandomHorizontalFlip: { kind: 'horizontalFlip', args: { p: { field: 'p', type: 'number', default: 0.5 } } },
  ColorJitter: {
    kind: 'colorJitter',
    args: {
      brightness: { field: 'brightness', type: 'number', default: 0 },
      contrast: { field: 'contrast', type: 'number', default: 0 },
      saturation: { field: 'saturation', type: 'number', default: 0 },
      hue: { field: 'hue', type: 'number', default: 0 },
    },
  },
  Grayscale: { kind: 'grayscale', args: {} },
  AutoAugment: {
    kind: 'autoAugment',
    args: { policy: { field: 'policy', type: 'policy', default: 'imagenet' }, fill: { field: 'fill', type: 'fill', default: null } },
  },
  RandAugment: {
    kind: 'randAugment',
    args: {
      num_ops: { field: 'numOps', type: 'int', default: 2 },
      magnitude: { field: 'magnitude', type: 'int', default: 9 },
      num_magnitude_bins: { field: 'numMagnitudeBins', type: 'int', default: 31 },
      fill: { field: 'fill', type: 'fill', default: null },
    },
  },
  TrivialAugmentWide: {
    kind: 'trivialAugmentWide',
    args: {
      num_magnitude_bins: { field: 'numMagnitudeBins', type: 'int', default: 31 },
      fill: { field: 'fill', type: 'fill', default: null },
    },
  },
  RandomErasing: {
    kind: 'randomErasing',
    args: {
      p: { field: 'p', type: 'number', default: 0.5 },
      scale: { field: 'scale', type: 'pair', default: [0.02, 0.33] },
      ratio: { field: 'ratio', type: 'pair', default: [0.3, 3.3] },
      value: { field: 'value', type: 'erasingValue', default: 0 },
    },
  },
  Normalize: {
    kind: 'normalize',
    args: { mean: { field: 'mean', type: 'numbers' }, std: { field: 'std', type: 'numbers' } },
  },
};

export const TRANSFORM_NAMES = Object.keys(SPECS);

/** One transform as configs write it: { Name: { argument: value } }. */
export type TransformEntry = Record<string, Record<string, unknown>>;

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isNumbers = (value: unknown): value is number[] => Array.isArray(value) && value.length > 0 && value.every(isNumber);

/** The value of one argument, or an error message saying what it allows. */
function readArg(type: ArgType, value: unknown): { value: unknown } | { expected: string } {
  switch (type) {
    case 'int':
      return Number.isInteger(value) ? { value } : { expected: 'an integer' };
    case 'number':
      return isNumber(value) ? { value } : { expected: 'a number' };
    case 'pair':
      return isNumbers(value) && value.length === 2 ? { value } : { expected: 'two numbers [low, high]' };
    case 'numbers':
      return isNumbers(value) ? { value } : { expected: 'a list of numbers' };
    case 'fill':
      if (value === null) return { value: undefined };
      return isNumber(value) ? { value: [value] } : isNumbers(value) ? { value } : { expected: 'a number or one number per channel' };
    case 'policy':
      return AUTO_AUGMENT_POLICIES.includes(value as never) ? { value } : { expected: `one of ${AUTO_AUGMENT_POLICIES.join(', ')}` };
    case 'paddingMode':
      return PADDING_MODES.includes(value as never) ? { value } : { expected: `one of ${PADDING_MODES.join(', ')}` };
    case 'erasingValue':
      return isNumber(value) || isNumbers(value) || value === 'random'
        ? { value }
        : { expected: "a number, a list of numbers or 'random'" };
  }
}

/**
 * A config's transform list (`where` names it in errors: "config key 'data.train.transforms'") as Transform
 * objects, checked: an unknown transform or argument, or a wrong value, is an Error naming it and what is allowed.
 */
export function parseTransforms(list: unknown, where: string, storageKind: Parameters<typeof planTransforms>[1] = 'files'): Transform[] {
  if (!Array.isArray(list)) throw new Error(`${where}: expected a list of transforms (torchvision names), got ${JSON.stringify(list)}`);
  const transforms = list.map((item, position): Transform => {
    const at = `${where}[${position}]`;
    const [name, given] =
      typeof item === 'string'
        ? [item, {}]
        : item !== null && typeof item === 'object' && !Array.isArray(item) && Object.keys(item).length === 1
          ? Object.entries(item as Record<string, unknown>)[0]!
          : [undefined, undefined];
    if (name === undefined)
      throw new Error(`${at}: expected a transform name or { Name: { argument: value } }, got ${JSON.stringify(item)}`);
    const spec = SPECS[name];
    if (spec === undefined) throw new Error(`${at}: unknown transform '${name}' (allowed: ${TRANSFORM_NAMES.join(', ')})`);
    const args = given ?? {};
    if (typeof args !== 'object' || Array.isArray(args))
      throw new Error(`${at}: ${name}'s arguments must be a mapping, got ${JSON.stringify(args)}`);
    const transform: Record<string, unknown> = { kind: spec.kind };
    for (const key of Object.keys(args)) {
      if (!(key in spec.args)) {
        const allowed = Object.keys(spec.args);
        throw new Error(`${at}: ${name} has no argument '${key}' (${allowed.length ? `allowed: ${allowed.join(', ')}` : 'it takes none'})`);
      }
    }
    for (const [key, arg] of Object.entries(spec.args)) {
      const raw = (args as Record<string, unknown>)[key] ?? arg.default;
      if (raw === undefined) throw new Error(`${at}: ${name} needs the argument '${key}'`);
      const read = readArg(arg.type, raw);
      if ('expected' in read) throw new Error(`${at}: ${name} ${key}: expected ${read.expected}, got ${JSON.stringify(raw)}`);
      if (read.value !== undefined) transform[arg.field] = read.value;
    }
    return transform as Transform;
  });
  try {
    planTransforms(transforms, storageKind);
  } catch (error) {
    throw new Error(`${where}: ${(error as Error).message.replace(/^transforms: /, '')}`);
  }
  return transforms;
}

/** Transform objects in the config's form, every argument spelled out (what config.yaml records). */
export function formatTransforms(transforms: readonly Transform[]): TransformEntry[] {
  return transforms.map((transform) => {
    const [name, spec] = Object.entries(SPECS).find(([, candidate]) => candidate.kind === transform.kind)!;
    const args: Record<string, unknown> = {};
    for (const [key, arg] of Object.entries(spec.args)) {
      const value = (transform as unknown as Record<string, unknown>)[arg.field] ?? arg.default;
      args[key] = arg.type === 'fill' && Array.isArray(value) && value.length === 1 ? value[0] : value;
    }
    return { [name]: args };
  });
}
