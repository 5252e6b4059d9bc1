// Using a trained model: loading a run for inference, and the inputs of `scatter predict`.
export { Classifier, loadClassifier } from './classifier.js';
export type { ClassScore, ClassifierInput, LoadOptions, Prediction } from './classifier.js';
export { expandInputs } from './inputs.js';
