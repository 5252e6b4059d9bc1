// scatter's nn: PyTorch's torch.nn in TypeScript (modules, layers, initialisation).
export { Module } from './module.js';
export type { AnyModule, LoadResult, StateDict } from './module.js';
export { Conv2d } from './conv.js';
export type { Conv2dOptions } from './conv.js';
export { CosineLinear, Linear } from './linear.js';
export { BatchNorm1d, BatchNorm2d } from './batch-norm.js';
export type { BatchNormOptions } from './batch-norm.js';
export { AdaptiveAvgPool2d, Dropout, Flatten, Identity, MaxPool2d, ReLU, Sequential } from './layers.js';
export { DataParallel } from './data-parallel.js';
export type { DataParallelOptions } from './data-parallel.js';
export { weightDecayGroups } from './parameter-groups.js';
export type { DecayGroup } from './parameter-groups.js';
export * as init from './init.js';
