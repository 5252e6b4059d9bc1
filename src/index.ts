// scatter: long-tailed image classification in TypeScript on libtorch.
export * as torch from './torch/index.js';
export * as nn from './nn/index.js';
export * as models from './models/index.js';
export * as optim from './optim/index.js';
export * as data from './data/index.js';
export * as longtail from './longtail/index.js';
export * as train from './train/index.js';
export * as predict from './predict/index.js';
export { Classifier, loadClassifier } from './predict/index.js';
export type { ClassScore, ClassifierInput, LoadOptions, Prediction } from './predict/index.js';
