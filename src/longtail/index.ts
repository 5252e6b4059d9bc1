// scatter's long-tail methods: channel whitening and the batch-norm baseline for the model's neck, and the
// long-tail losses (docs/method.md).
export {
  BatchNormNeck,
  ChannelWhitening,
  DECOMPOSITION_DTYPES,
  DEFAULT_MAX_GROUP_SIZE,
  NECK_KINDS,
  RUNNING_STATISTICS,
  WHITENING_IMPLEMENTATIONS,
  WHITENING_METHODS,
  createNeck,
} from './whitening.js';
export type {
  ChannelWhiteningOptions,
  DecompositionDtype,
  NeckKind,
  NeckOptions,
  RunningStatistic,
  WhiteningImplementation,
  WhiteningMethod,
} from './whitening.js';
export { conditionNumber, correlationMatrix, covariance, meanAbsOffDiagonal } from './feature-statistics.js';
export { LOSS_NAMES, classBalancedWeights, createLoss, ldamMargins, logPrior, mixedLoss } from './losses.js';
export type { DrwConfig, Loss, LossConfig, LossContext, LossName, MixWeights } from './losses.js';
export {
  DECOUPLED_METHODS,
  DEFAULT_TAU_GRID,
  LearnableWeightScaling,
  TauNormalizedClassifier,
  decoupleClassifier,
  meanPerClassAccuracy,
  selectTau,
  trainClassifierOnly,
} from './decoupled.js';
export type { DecoupledMethod, TauChoice } from './decoupled.js';
