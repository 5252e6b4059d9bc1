// scatter's run configuration: the schema of configs/*.yaml, loading with --set overrides, and the
// fully resolved form written into every run directory. Defaults are the LDAM-DRW CIFAR-LT recipe.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

import { parse, stringify } from 'yaml';

import { TRANSFORM_NAMES, type TransformEntry, formatTransforms, parseTransforms } from '../data/index.js';
import { DECOUPLED_METHODS, DEFAULT_TAU_GRID } from '../longtail/decoupled.js';
import { LOSS_NAMES, type LossConfig } from '../longtail/losses.js';
import {
  DECOMPOSITION_DTYPES,
  NECK_KINDS,
  RUNNING_STATISTICS,
  WHITENING_IMPLEMENTATIONS,
  WHITENING_METHODS,
} from '../longtail/whitening.js';
import {
  type BooleanField,
  ConfigError,
  type EnumField,
  type Fields,
  type Infer,
  type ListField,
  type NumberField,
  type NumberListField,
  type SectionField,
  type StringField,
  setKey,
  validate,
} from './schema.js';
import { leaves } from '../util/objects.js';

const int = (doc: string, defaultValue: number | null, min?: number): NumberField => ({
  kind: 'number',
  integer: true,
  doc,
  default: defaultValue,
  min,
});
const real = (doc: string, defaultValue: number | null, min?: number, max?: number): NumberField => ({
  kind: 'number',
  doc,
  default: defaultValue,
  min,
  max,
});
const text = (doc: string, defaultValue: string | null): StringField => ({ kind: 'string', doc, default: defaultValue });
const oneOf = <const V extends string>(doc: string, values: readonly V[], defaultValue: V): EnumField<V> => ({
  kind: 'enum',
  doc,
  values,
  default: defaultValue,
});
const flag = (doc: string, defaultValue: boolean): BooleanField => ({ kind: 'boolean', doc, default: defaultValue });
const numbers = (doc: string, defaultValue: number[]): NumberListField => ({ kind: 'numberList', doc, default: defaultValue });
const transformList = (split: string): ListField<TransformEntry> => ({
  kind: 'list',
  doc:
    `${split} transforms in order, by torchvision's names and arguments (${TRANSFORM_NAMES.join(', ')}), e.g. ` +
    '[{RandomCrop: {size: 32, padding: 4}}, RandomHorizontalFlip, {Normalize: {mean: [...], std: [...]}}]; null: the data.augment preset',
  items: 'transforms',
  default: null,
  parse: (value, where) => formatTransforms(parseTransforms(value, where)),
});
const section = <F extends Fields>(doc: string, fields: F): SectionField<F> => ({ kind: 'section', doc, fields });

export const OPTIMIZER_NAMES = ['sgd', 'adamw', 'sam'] as const;

export const DATASETS = ['cifar10', 'cifar100', 'fashion-mnist', 'mnist', 'image-folder', 'list-file'] as const;

export const CONFIG_SCHEMA = {
  seed: int('seed of every random choice (weights, sampling, augmentation)', 0, 0),
  data: section('the data set', {
    dataset: oneOf('which data set', DATASETS, 'cifar10'),
    root: text("the data set's folder; default: its archive's folder under $SCATTER_DATA_DIR or ~/.cache/scatter-data", null),
    trainList: text('list file of training images (list-file data sets), relative to root', null),
    testList: text('list file of test images (list-file data sets), relative to root', null),
    imbalance: section('long-tailed construction of the training split', {
      profile: oneOf(
        'exponential or step decay of class sizes; none keeps the data as it is',
        ['exponential', 'step', 'none'],
        'exponential',
      ),
      ratio: real('imbalance ratio: largest class size / smallest', 100, 1),
      maxPerClass: int(
        "images of the largest class, n_max; null: the source's largest class (with ratio 1 and a cap, a " +
          'balanced control of the same size as a long-tailed split)',
        null,
        1,
      ),
    }),
    augment: oneOf(
      'the transforms preset where data.train.transforms / data.test.transforms are null: cifar (random crop with padding ' +
        'size / 8, flip; image files are first resized and center-cropped to the size), imagenet (random-resized crop, flip; ' +
        'evaluation: resize to size x 256 / 224, center crop), none; config.yaml records the lists it expands to',
      ['cifar', 'imagenet', 'none'],
      'cifar',
    ),
    imageSize: int(
      "the side of the square images the presets produce; null: the data set's (CIFAR 32, MNIST 28; image files: 224 " +
        'under imagenet, the first training image under cifar)',
      null,
      1,
    ),
    train: section('the training split', { transforms: transformList('training') }),
    test: section('the test split (and held-out images)', { transforms: transformList('evaluation') }),
    colorJitter: real(
      'imagenet augmentation: brightness, contrast and saturation jitter strength (torchvision ColorJitter); 0: none',
      0,
      0,
    ),
    workers: int('worker threads preparing batches', 2, 0),
    decodedCacheMiB: int('image files: MiB of decoded training images the workers keep between epochs (small data sets); 0: none', 0, 0),
    manyThreshold: int('classes with more training images than this are "many-shot"', 100, 0),
    fewThreshold: int('classes with fewer training images than this are "few-shot"', 20, 0),
    holdoutPerClass: int(
      'hold out the last images of every class (up to this many, keeping one) from training, ' + "as tau-norm's validation set; null: none",
      null,
      1,
    ),
    valList: text(
      'list file of validation images (list-file data sets), relative to root, on which tau-norm chooses tau ' +
        "instead of held-out training images (ImageNet-LT's and Places-LT's published validation lists)",
      null,
    ),
    numClasses: int(
      "list-file data sets: the number of classes, labels 0..numClasses-1; null: the training list's labels, and then " +
        'the training and test lists must name the same classes (a label in one list only is an error before training)',
      null,
      1,
    ),
    verify: oneOf(
      'before training, check that every image file of the data set opens: headers (read each header), decode ' +
        '(decode each image whole: slower, finds truncated files), off',
      ['headers', 'decode', 'off'],
      'headers',
    ),
  }),
  model: section('the network', {
    name: oneOf('architecture', ['resnet32', 'resnet10', 'resnet50', 'resnext50_32x4d'], 'resnet32'),
    classifier: oneOf('classifier layer on the pooled features', ['linear', 'cosine'], 'linear'),
    neck: oneOf('layer between the pooled features and the classifier (docs/method.md)', NECK_KINDS, 'identity'),
    pretrained: text(
      "a torchvision or timm state dict (.safetensors, or torch.save's .pth/.pt) the model starts from at epoch 0 (a resumed " +
        'run keeps its own weights): the backbone must fit exactly, a classifier for other classes starts from scratch; ' +
        "a decoupled run starts from stage 1 instead; null: the model's random initialisation",
      null,
    ),
    whitening: section('the whitening neck (momentum and affine also for the batchnorm neck)', {
      method: oneOf('zca (eigendecomposition) or newton-schulz (IterNorm iterations)', WHITENING_METHODS, 'zca'),
      eps: real("added to the covariance diagonal (absolute: compare it with the features' variances)", 0.1, 0),
      momentum: real('running statistics: new = (1 - momentum) old + momentum batch', 0.1, 0, 1),
      groupSize: int('channels whitened together; null: all up to 64, else 64', null, 1),
      affine: flag('a learned per-channel scale and shift after whitening', false),
      iterations: int('newton-schulz iterations', 5, 1),
      decompositionDtype: oneOf('precision of the decomposition', DECOMPOSITION_DTYPES, 'float64'),
      runningStats: oneOf('what evaluation averages: the whitening matrix or the covariance', RUNNING_STATISTICS, 'whitening'),
      implementation: oneOf(
        "how the layer runs: native (one call of the addon's whitening node) or typescript (operator by operator); same results",
        WHITENING_IMPLEMENTATIONS,
        'native',
      ),
    }),
  }),
  train: section('the training loop', {
    epochs: int('epochs', 200, 1),
    batchSize: int('images per batch', 128, 1),
    sampler: oneOf(
      'how training batches are drawn (b3rs, bet: docs/method.md)',
      ['instance', 'class-balanced', 'square-root', 'progressive', 'b3rs', 'bet'],
      'instance',
    ),
    b3rs: section('B3RS batches (sampler b3rs, and the embedded batches of bet)', {
      numBlocks: int('blocks of classes, sorted by frequency', 4, 1),
      q: real('block k gets a share of every batch proportional to N_k^q (1: instance, 0: block-balanced)', 0.5, 0, 1),
      blocking: oneOf('equal numbers of classes or of images per block', ['classes', 'images'], 'classes'),
    }),
    bet: section('Batch Embedded Training (sampler bet)', {
      mode: oneOf(
        'concat: a B3RS sub-batch added to every batch; interleave: every period-th batch is a B3RS batch',
        ['interleave', 'concat'],
        'concat',
      ),
      period: int('interleave: one B3RS batch in every period batches', 4, 1),
      subBatchSize: int('concat: items of the B3RS sub-batch', 32, 1),
      startEpoch: int('first epoch (0-based) with B3RS batches; instance sampling before', 0, 0),
    }),
    recordCovarianceEvery: int(
      "every N steps, record the trace, condition number and mean |correlation| of the training batch's " +
        'pooled-feature covariance in batch-covariance.jsonl (scatter report plots them; with sampler bet, an N that is not a ' +
        'multiple of bet.period sees both kinds of batch); null: never',
      null,
      1,
    ),
    evalEvery: int('evaluate on the test split every N epochs (and after the last)', 10, 1),
    stepsPerEpoch: int('cap on the batches of an epoch (short demos and tests); null: the whole epoch', null, 1),
    device: text("'cpu', 'cuda' or 'cuda:N'", 'cpu'),
    threads: int('libtorch threads; null: every core', null, 1),
    precision: oneOf(
      'float32, or bfloat16 autocast for the backbone (the neck, classifier and loss stay float32)',
      ['float32', 'bfloat16'],
      'float32',
    ),
    channelsLast: flag('store convolution weights and input images channels-last (NHWC)', false),
    capture: oneOf(
      'auto: on cuda, each training step (forward, loss, backward, optimizer update) is recorded once as a CUDA graph ' +
        'and replayed, its inputs copied into fixed buffers; what cannot be captured runs eagerly, with one line saying ' +
        "why (src/train/capture.ts); off: every step eagerly. Results equal the eager step's to rounding",
      ['auto', 'off'],
      'auto',
    ),
    mix: section(
      "batch-level mixing, timm's Mixup choice per batch (docs/method.md): each item with a partner from a seeded " +
        "permutation of its batch (of its rank's share under data parallelism); the loss is lam L(y) + (1 - lam) L(y_partner)",
      {
        mixupAlpha: real('mixup: lam ~ Beta(alpha, alpha), images lam x + (1 - lam) x_partner; 0: no mixup', 0, 0),
        cutmixAlpha: real(
          "cutmix: lam ~ Beta(alpha, alpha), the partner's box pasted (torchvision's CutMix box) and lam corrected to the " +
            'share of the image left; 0: no cutmix',
          0,
          0,
        ),
        prob: real('the probability that a batch is mixed', 1, 0, 1),
        switchProb: real('with both alphas > 0: the probability that a mixed batch is cutmix (else mixup)', 0.5, 0, 1),
      },
    ),
  }),
  distributed: section(
    'data-parallel training over several processes (scatter launch, or torchrun-style RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)',
    {
      backend: oneOf('collective backend; auto: nccl on cuda, gloo on cpu', ['auto', 'gloo', 'nccl'], 'auto'),
      syncWhitening: flag(
        'every rank computes the neck, classifier and loss on the whole global batch (pooled features all-gathered), ' +
          'so whitening sees the global batch covariance, exactly as one process would; false: per-rank statistics',
        false,
      ),
      bucketMiB: real('gradients are all-reduced in buckets of at most this many MiB', 25, 0),
      timeoutSeconds: int('how long joining and each collective wait for the other ranks before failing', 1800, 1),
    },
  ),
  optim: section('the optimizer (docs/method.md); the schedule sets its lr', {
    name: oneOf('sgd; adamw (decoupled weight decay); sam: sharpness-aware minimisation around optim.sam.base', OPTIMIZER_NAMES, 'sgd'),
    lr: real("base learning rate (adamw, unless given: 1e-3, PyTorch's default)", 0.1, 0),
    momentum: real('sgd: momentum', 0.9, 0, 1),
    weightDecay: real(
      'weight decay of every trainable parameter: sgd adds weightDecay x w to the gradient (L2), adamw multiplies w by ' +
        "1 - lr x weightDecay (decoupled; adamw, unless given: 1e-2, PyTorch's default)",
      2e-4,
      0,
    ),
    nesterov: flag('sgd: Nesterov momentum', false),
    betas: numbers("adamw: the moments' decay rates [beta1, beta2], each in [0, 1)", [0.9, 0.999]),
    eps: real("adamw: added to the second moment's square root", 1e-8, 0),
    sam: section(
      'sam (Foret et al.): a step perturbs w by rho g / ||g||, takes a second gradient there (a second forward and backward ' +
        'pass; running statistics keep the first pass only) and steps from w with it',
      {
        base: oneOf('the optimizer that takes the step, configured by the keys above', ['sgd', 'adamw'], 'sgd'),
        rho: real('the neighbourhood radius, > 0', 0.05, 0),
        adaptive: flag('ASAM (Kwon et al.): the perturbation scaled elementwise by |w| (a larger rho is usual, e.g. 0.5)', false),
      },
    ),
  }),
  schedule: section('learning-rate schedule', {
    type: oneOf('multistep: lr x gamma at each milestone; cosine: to minLr at the end', ['multistep', 'cosine', 'constant'], 'multistep'),
    warmupEpochs: int('linear warm-up epochs (epoch e < warmupEpochs runs at (e + 1) / warmupEpochs of the lr)', 5, 0),
    milestones: numbers('epochs (from 0) at whose start the multistep schedule multiplies the lr by gamma', [160, 180]),
    gamma: real('multistep factor', 0.01, 0),
    minLr: real('final lr of the cosine schedule', 0, 0),
  }),
  loss: section('the training loss (docs/method.md)', {
    name: oneOf('loss function', LOSS_NAMES, 'ce'),
    labelSmoothing: real('label smoothing of the cross-entropy term', 0, 0, 1),
    focalGamma: real('focal and cb-focal: the focusing exponent', 1, 0),
    cbBeta: real('cb-ce and cb-focal: beta of the effective number of samples', 0.9999, 0, 1),
    ldamMaxMargin: real('ldam: the largest class margin', 0.5, 0),
    ldamScale: real('ldam: the logit scale', 30, 0),
    laTau: real('la: the logit adjustment strength', 1, 0),
    posthocTau: real('ce only: post-hoc logit adjustment strength at evaluation; null: none', null, 0),
    drwStartEpoch: int('deferred re-weighting from this epoch (0-based) on; null: never', null, 0),
    drwBeta: real('deferred re-weighting: beta of the effective number of samples', 0.9999, 0, 1),
  }),
  decoupled: section('a second stage on a finished joint-training run (docs/method.md); train, optim and schedule describe it', {
    method: { kind: 'enum', doc: 'crt, lws or tau-norm; null: joint training', values: DECOUPLED_METHODS, default: null },
    from: text('the stage-1 run directory, required with a method: --set decoupled.from=RUN_DIR', null),
    checkpoint: oneOf("stage 1's checkpoint to start from", ['last', 'best'], 'last'),
    tauGrid: numbers('tau-norm: the values of tau tried on the held-out images', [...DEFAULT_TAU_GRID]),
    keepBias: flag("tau-norm: keep stage 1's classifier bias (false: dropped, as Kang et al.)", false),
  }),
} as const satisfies Fields;

export type Config = Infer<SectionField<typeof CONFIG_SCHEMA>>;

/** Parses `key=value` from --set; the value is read as YAML (numbers, booleans, lists, null). */
export function parseOverride(assignment: string): [string, unknown] {
  const equals = assignment.indexOf('=');
  if (equals <= 0) throw new ConfigError(`--set expects key=value, got '${assignment}'`);
  return [assignment.slice(0, equals).trim(), parse(assignment.slice(equals + 1)) as unknown];
}

// The folders the official archives unpack to, under the data directory; Fashion-MNIST from Debian's
// dataset-fashion-mnist when it is installed.
const DEFAULT_FOLDERS: Record<string, string> = {
  cifar10: 'cifar-10-batches-bin',
  cifar100: 'cifar-100-binary',
  mnist: 'mnist',
  'fashion-mnist': 'fashion-mnist',
  'image-folder': 'image-folder',
  'list-file': 'list-file',
};
const DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist';

/** $SCATTER_DATA_DIR, else ~/.cache/scatter-data. */
export function dataDirectory(): string {
  return process.env.SCATTER_DATA_DIR ?? path.join(homedir(), '.cache', 'scatter-data');
}

function defaultDataRoot(dataset: string): string {
  const root = path.join(dataDirectory(), DEFAULT_FOLDERS[dataset]!);
  return dataset === 'fashion-mnist' && !existsSync(root) && existsSync(DEBIAN_FASHION_MNIST) ? DEBIAN_FASHION_MNIST : root;
}

/** Validates a document (parsed YAML) with overrides applied, and resolves what depends on other keys. */
export function resolveConfig(document: unknown, overrides: readonly string[] = []): Config {
  if (document !== null && document !== undefined && (typeof document !== 'object' || Array.isArray(document))) {
    throw new ConfigError('the config must be a YAML mapping');
  }
  const editable = structuredClone((document ?? {}) as Record<string, unknown>);
  for (const assignment of overrides) {
    const [key, value] = parseOverride(assignment);
    setKey(CONFIG_SCHEMA, editable, key, value);
  }
  const config = validate(CONFIG_SCHEMA, editable);
  config.data.root ??= defaultDataRoot(config.data.dataset);
  const milestones = config.schedule.milestones;
  if (milestones.some((m, i) => !Number.isInteger(m) || m < 0 || (i > 0 && m <= milestones[i - 1]!))) {
    throw new ConfigError(`config key 'schedule.milestones': expected increasing epoch numbers >= 0, got [${milestones.join(', ')}]`);
  }
  if (config.data.valList !== null && config.data.dataset !== 'list-file') {
    throw new ConfigError(`config key 'data.valList' is for list-file data sets, not '${config.data.dataset}'`);
  }
  if (config.data.fewThreshold > config.data.manyThreshold) {
    throw new ConfigError(
      `config key 'data.fewThreshold' (${config.data.fewThreshold}) must not exceed 'data.manyThreshold' (${config.data.manyThreshold})`,
    );
  }
  checkDecoupled(config);
  // Absolute, as config.yaml records it: a resumed or swept run may start elsewhere.
  if (config.model.pretrained !== null) config.model.pretrained = path.resolve(config.model.pretrained);
  checkOptimizer(config);
  adamwDefaults(config, editable);
  checkMixing(config);
  return config;
}

/**
 * AdamW's own defaults (PyTorch's: lr 1e-3, weight decay 1e-2) where the config does not give them: SGD's lr 0.1
 * makes AdamW's normalised steps 100x too large.
 */
function adamwDefaults(config: Config, document: Record<string, unknown>): void {
  if (steppingOptimizer(config) !== 'adamw') return;
  const given = isMapping(document.optim) ? document.optim : {};
  if (!('lr' in given)) config.optim.lr = 1e-3;
  if (!('weightDecay' in given)) config.optim.weightDecay = 1e-2;
}

/** What the schema cannot say about the optim section. */
function checkOptimizer(config: Config): void {
  const { betas, sam } = config.optim;
  if (betas.length !== 2 || betas.some((beta) => !(beta >= 0 && beta < 1))) {
    throw new ConfigError(`config key 'optim.betas': expected two numbers in [0, 1), got [${betas.join(', ')}]`);
  }
  if (!(sam.rho > 0)) throw new ConfigError(`config key 'optim.sam.rho': expected a number > 0, got ${sam.rho}`);
}

/** The optimizer that takes the step: optim.name, or under sam its base. */
export function steppingOptimizer(config: Config): 'sgd' | 'adamw' {
  return config.optim.name === 'sam' ? config.optim.sam.base : config.optim.name;
}

/**
 * Mixing in a decoupled second stage is refused: cRT and LWS re-balance the classifier on stage 1's features of the
 * images as they are (MiSLAS, too, mixes in stage 1 only), and tau-norm trains nothing.
 */
function checkMixing(config: Config): void {
  const { mixupAlpha, cutmixAlpha } = config.train.mix;
  const method = config.decoupled.method;
  if ((mixupAlpha > 0 || cutmixAlpha > 0) && method !== null) {
    throw new ConfigError(
      `config key 'train.mix': a decoupled second stage (${method}) re-balances the classifier on unmixed images; mix in stage 1 (set mixupAlpha and cutmixAlpha to 0 here)`,
    );
  }
}

/**
 * What the schema cannot say about the decoupled section; `from` becomes absolute, as config.yaml records
 * it. (A method without `from` is valid here, as the shipped configs are; training asks for it.)
 */
function checkDecoupled(config: Config): void {
  const { method, from, tauGrid } = config.decoupled;
  if (method === null && from !== null)
    throw new ConfigError("config key 'decoupled.from' is set but 'decoupled.method' is null (crt, lws or tau-norm)");
  if (from !== null) config.decoupled.from = path.resolve(from);
  if (tauGrid.length === 0 || tauGrid.some((tau) => tau < 0)) {
    throw new ConfigError(`config key 'decoupled.tauGrid': expected a non-empty list of numbers >= 0, got [${tauGrid.join(', ')}]`);
  }
  if (method !== 'tau-norm') return;
  const { holdoutPerClass, valList } = config.data;
  if (holdoutPerClass === null && valList === null) {
    throw new ConfigError(
      "decoupled.method tau-norm chooses tau on images stage 1 did not train on: set 'data.holdoutPerClass' to the value " +
        "stage 1 was trained with, or 'data.valList' (list-file data sets)",
    );
  }
  if (holdoutPerClass !== null && valList !== null) {
    throw new ConfigError("tau-norm chooses tau on 'data.holdoutPerClass' held-out images or on 'data.valList', not both: set one to null");
  }
  if (config.model.classifier !== 'linear') {
    throw new ConfigError(
      "decoupled.method tau-norm needs 'model.classifier' linear: a cosine classifier's class vectors are normalised already",
    );
  }
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `over` laid on `base`: mappings merge key by key, anything else replaces. */
function deepMerge(base: unknown, over: unknown): unknown {
  if (!isMapping(base) || !isMapping(over)) return over;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) merged[key] = deepMerge(base[key], value);
  return merged;
}

/**
 * A config file's document with its `extends: OTHER.yaml` chain resolved (paths relative to the file),
 * so that a method's config states only how it differs from its data set's base recipe.
 */
function readDocument(file: string, chain: readonly string[] = []): unknown {
  const resolved = path.resolve(file);
  if (chain.includes(resolved)) throw new ConfigError(`${file}: 'extends' loops back to itself (${[...chain, resolved].join(' -> ')})`);
  if (!existsSync(file))
    throw new ConfigError(
      chain.length === 0 ? `config file ${file} does not exist` : `${chain.at(-1)}: extends ${file}, which does not exist`,
    );
  let document: unknown;
  try {
    document = parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${file}: not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (!isMapping(document) || !('extends' in document)) return document;
  const { extends: base, ...rest } = document;
  if (typeof base !== 'string') throw new ConfigError(`${file}: 'extends' must name a config file`);
  return deepMerge(readDocument(path.resolve(path.dirname(file), base), [...chain, resolved]), rest);
}

/** Reads a YAML config file (and what it extends) with --set overrides; errors name the file and the key. */
export function loadConfig(file: string, overrides: readonly string[] = []): Config {
  const document = readDocument(file);
  try {
    return resolveConfig(document, overrides);
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`${file}: ${error.message}`);
    throw error;
  }
}

/** The loss section as the loss factory takes it. */
export function lossConfig(config: Config): LossConfig {
  const { drwStartEpoch, drwBeta, ...rest } = config.loss;
  return { ...rest, drw: drwStartEpoch === null ? null : { startEpoch: drwStartEpoch, beta: drwBeta } };
}

/** The dotted keys a config file (with what it extends) and its --set overrides give a value. */
export function explicitKeys(file: string, overrides: readonly string[] = []): string[] {
  const document = structuredClone((readDocument(file) ?? {}) as Record<string, unknown>);
  for (const assignment of overrides) setKey(CONFIG_SCHEMA, document, ...parseOverride(assignment));
  return [...leaves(document).keys()];
}

export function configToYaml(config: Config): string {
  return stringify(config);
}
