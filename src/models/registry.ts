// Models by name, as configuration files name them.
import { CifarResNet } from './resnet-cifar.js';
import { ResNet } from './resnet.js';
import type { ClassifierOptions, ImageClassifier } from './classifier.js';

const BUILDERS = {
  resnet32: (options: ClassifierOptions) => new CifarResNet({ ...options, depth: 32 }),
  resnet10: (options: ClassifierOptions) => new ResNet({ ...options, block: 'basic', layers: [1, 1, 1, 1] }),
  resnet50: (options: ClassifierOptions) => new ResNet({ ...options, block: 'bottleneck', layers: [3, 4, 6, 3] }),
  resnext50_32x4d: (options: ClassifierOptions) =>
    new ResNet({ ...options, block: 'bottleneck', layers: [3, 4, 6, 3], groups: 32, widthPerGroup: 4 }),
} satisfies Record<string, (options: ClassifierOptions) => ImageClassifier>;

export type ModelName = keyof typeof BUILDERS;
export const MODEL_NAMES = Object.keys(BUILDERS) as ModelName[];

/** A freshly initialised model: 'resnet32' (CIFAR), 'resnet10', 'resnet50', 'resnext50_32x4d' (ImageNet). */
export function createModel(name: string, options: ClassifierOptions): ImageClassifier {
  if (!Object.hasOwn(BUILDERS, name)) throw new Error(`unknown model '${name}' (known: ${MODEL_NAMES.join(', ')})`);
  return BUILDERS[name as ModelName](options);
}
