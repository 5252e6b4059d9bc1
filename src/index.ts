// scatter: long-tailed image classification in TypeScript on libtorch.
export * as torch from './torch/index.js';
export * as nn from './nn/index.js';
export * as models from './models/index.js';
export * as optim from './optim/index.js';
export * as data from './data/index.js';
export * as longtail from './longtail/index.js';
export * as train from './train/index.js';
