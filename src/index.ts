// scatter: long-tailed image classification in TypeScript on libtorch.
export * as torch from './torch/index.js';
