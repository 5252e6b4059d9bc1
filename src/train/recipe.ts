// The training recipe of a config: what decides the trained model, as against how the run executes and the
// settings its features leave unused. Runs are compared by it (a second stage against its stage 1, the
// report's seeds) and keys set for a feature that is off are named from it.
import { leaves } from '../util/objects.js';
import { type Config, steppingOptimizer } from './config.js';

/** `value` without `keys`. */
function omit<T extends object>(value: T, keys: readonly string[]): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([key]) => !keys.includes(key))) as Partial<T>;
}

// The loss parameters and the losses that use them; the others ignore them.
const LOSS_PARAMETERS: Record<string, readonly string[]> = {
  focalGamma: ['focal', 'cb-focal'],
  cbBeta: ['cb-focal', 'cb-ce'],
  ldamMaxMargin: ['ldam'],
  ldamScale: ['ldam'],
  laTau: ['la'],
};

// The keys that only say how a run executes, not what it trains.
const EXECUTION_KEYS = [
  'data.root',
  'data.workers',
  'data.decodedCacheMiB',
  'data.verify',
  'model.whitening.implementation',
  'train.device',
  'train.threads',
  'train.channelsLast',
  'train.evalEvery',
  'train.recordCovarianceEvery',
  'distributed.backend',
  'distributed.bucketMiB',
  'distributed.timeoutSeconds',
];
const executionKeysOf = (section: string): string[] =>
  EXECUTION_KEYS.filter((key) => key.startsWith(`${section}.`)).map((key) => key.slice(section.length + 1));

/**
 * What decides the trained model, up to the seed and floating-point order: the config without the keys that
 * take no effect in it (the whitening section without a whitening neck, B3RS and BET settings under another
 * sampler, other losses' parameters, other schedules' keys, ...) and without those that only say how the run
 * executes (EXECUTION_KEYS). Runs with equal recipes trained the same method, though they were written by
 * versions of scatter whose defaults for unused keys differ.
 */
export function trainingRecipe(config: Config): Record<string, unknown> {
  const { data, model, train, schedule, loss, decoupled } = config;
  const whitening =
    model.neck === 'whitening'
      ? omit(model.whitening, ['implementation', ...(model.whitening.method === 'zca' ? ['iterations'] : [])])
      : model.neck === 'batchnorm'
        ? { momentum: model.whitening.momentum, affine: model.whitening.affine }
        : null;
  const unusedScheduleKeys = { multistep: ['minLr'], cosine: ['milestones', 'gamma'], constant: ['milestones', 'gamma', 'minLr'] }[
    schedule.type
  ];
  const unusedLossKeys = Object.keys(LOSS_PARAMETERS).filter((key) => !LOSS_PARAMETERS[key]!.includes(loss.name));
  const { mixupAlpha, cutmixAlpha } = train.mix;
  const mix = mixupAlpha > 0 || cutmixAlpha > 0 ? omit(train.mix, mixupAlpha > 0 && cutmixAlpha > 0 ? [] : ['switchProb']) : null;
  const unusedOptimKeys = [
    ...(steppingOptimizer(config) === 'sgd' ? ['betas', 'eps'] : ['momentum', 'nesterov']),
    ...(config.optim.name === 'sam' ? [] : ['sam']),
  ];
  return {
    seed: config.seed,
    data: omit(data, executionKeysOf('data')),
    model: { ...model, whitening },
    train: {
      ...omit(train, executionKeysOf('train')),
      b3rs: train.sampler === 'b3rs' || train.sampler === 'bet' ? train.b3rs : null,
      bet: train.sampler === 'bet' ? omit(train.bet, [train.bet.mode === 'concat' ? 'period' : 'subBatchSize']) : null,
      mix,
    },
    distributed: omit(config.distributed, executionKeysOf('distributed')),
    optim: omit(config.optim, unusedOptimKeys),
    schedule: omit(schedule, unusedScheduleKeys),
    loss: omit(loss, [...unusedLossKeys, ...(loss.drwStartEpoch === null ? ['drwBeta'] : [])]),
    decoupled:
      decoupled.method === null ? { method: null } : omit(decoupled, decoupled.method === 'tau-norm' ? [] : ['tauGrid', 'keepBias']),
  };
}

/**
 * Why an unused key takes no effect: the setting that turns its feature off. null for a parameter of the
 * feature's other variant (Newton-Schulz's iterations under zca, bet.period under concat, the multistep keys
 * under a cosine schedule): configs preset those on purpose, for a switch by --set.
 */
function whyUnused(key: string, config: Config): string | null {
  const { model, train, loss, decoupled } = config;
  if (key.startsWith('model.whitening.')) return model.neck === 'whitening' ? null : `model.neck is ${model.neck}`;
  if (key.startsWith('train.bet.')) return train.sampler === 'bet' ? null : `train.sampler is ${train.sampler}`;
  if (key.startsWith('train.b3rs.')) return `train.sampler is ${train.sampler}`;
  if (key === 'loss.drwBeta') return 'loss.drwStartEpoch is null';
  if (key.startsWith('loss.')) return `loss.name is ${loss.name}`;
  if (key.startsWith('decoupled.')) return `decoupled.method is ${decoupled.method}`;
  if (key === 'train.mix.switchProb' && (train.mix.mixupAlpha > 0 || train.mix.cutmixAlpha > 0)) return null;
  if (key.startsWith('train.mix.')) return 'train.mix.mixupAlpha and train.mix.cutmixAlpha are 0';
  if (key.startsWith('optim.sam.')) return `optim.name is ${config.optim.name}`;
  if (key.startsWith('optim.')) return `the optimizer that steps is ${steppingOptimizer(config)}`;
  return null;
}

/**
 * The keys among `keys` (explicitKeys) whose feature is off in `config`, each with the setting that turns it
 * off: a `train.bet.mode` without `train.sampler: bet` trains no BET, which the user should hear of.
 */
export function unusedSettings(config: Config, keys: readonly string[]): { key: string; why: string }[] {
  const used = [...leaves(trainingRecipe(config)).keys()];
  return keys
    .filter((key) => !EXECUTION_KEYS.includes(key) && !used.includes(key))
    .flatMap((key) => {
      const why = whyUnused(key, config);
      return why === null ? [] : [{ key, why }];
    });
}
