// scatter's optimizers and learning-rate schedules.
export { SGD } from './sgd.js';
export type { ParamGroup, ParamGroupInput, SavedParamGroup, SgdHyperParameters, SgdState } from './sgd.js';
export { constantLr, cosineLr, linearWarmup, multiStepLr } from './schedules.js';
export type { CosineOptions, LrSchedule, MultiStepOptions } from './schedules.js';
