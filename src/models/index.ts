// scatter's models: CIFAR and ImageNet ResNets behind one interface (features, neck, classifier).
export { ImageClassifier } from './classifier.js';
export type { ClassifierOptions } from './classifier.js';
export { BasicBlock, Bottleneck, PadShortcut, makeStage } from './blocks.js';
export type { BlockOptions, BlockType, BottleneckOptions, ShortcutOption } from './blocks.js';
export { CifarResNet } from './resnet-cifar.js';
export type { CifarResNetOptions } from './resnet-cifar.js';
export { ResNet } from './resnet.js';
export type { ResNetOptions } from './resnet.js';
export { MODEL_NAMES, createModel } from './registry.js';
export type { ModelName } from './registry.js';
export { loadPretrained, readPretrained } from './pretrained.js';
export type { PretrainedSource } from './pretrained.js';
