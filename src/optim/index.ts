// scatter's optimizers and learning-rate schedules.
export { SGD } from './sgd.js';
export { AdamW } from './adamw.js';
export type { AdamWGroup, AdamWGroupInput, AdamWHyperParameters, AdamWState, SavedAdamWGroup } from './adamw.js';
export { SAM } from './sam.js';
export type { SamOptions } from './sam.js';
export { isCapturable } from './optimizer.js';
export type { CapturableOptimizer, Optimizer, OptimizerGroup, OptimizerState } from './optimizer.js';
export type { ParamGroup, ParamGroupInput, SavedParamGroup, SgdHyperParameters, SgdState } from './sgd.js';
export { constantLr, cosineLr, linearWarmup, multiStepLr } from './schedules.js';
export type { CosineOptions, LrSchedule, MultiStepOptions } from './schedules.js';
