// scatter's training: configs, the trainer, evaluation, run directories.
export { CONFIG_SCHEMA, configToYaml, dataDirectory, loadConfig, parseOverride, resolveConfig } from './config.js';
export type { Config } from './config.js';
export { ConfigError } from './schema.js';
export { evaluate } from './evaluation.js';
export type { Evaluation } from './evaluation.js';
export { RunDir } from './run-dir.js';
export { evaluateRun, resume, train } from './commands.js';
export { NonFiniteLossError, NonFiniteStateError, chooseCheckpoint, withModelState } from './checkpoint.js';
export type { EvaluateOptions, TrainOptions } from './commands.js';
export type { Summary } from './run-dir.js';
export { buildModel, buildOptimizer, buildSchedule, evalLoader, loadRunData, modelShape, testLoader, trainLoader } from './setup.js';
export type { ModelShape, RunData } from './setup.js';
