// Neural-network functionals, PyTorch's torch.nn.functional in camelCase, each one libtorch operator (channelWhitening:
// one call of the addon's own whitening node).
import type { Dtype } from './dtype.js';
import { native } from './native.js';
import { Tensor, op, ops } from './tensor.js';

export type Pair = number | readonly [number, number];
export type Reduction = 'none' | 'mean' | 'sum';

const REDUCTION_CODE: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

function reductionCode(reduction: Reduction | undefined): number {
  const code = REDUCTION_CODE[reduction ?? 'mean'];
  if (code === undefined) throw new TypeError(`unknown reduction '${reduction}' (none, mean, sum)`);
  return code;
}

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}

export function conv2d(input: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  return op('conv2d', input, weight, bias, options.stride ?? 1, options.padding ?? 0, options.dilation ?? 1, options.groups ?? 1);
}

export function linear(input: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return op('linear', input, weight, bias);
}

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Batch statistics (and a running-statistics update) when true; running statistics when false. */
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/** Batch normalisation over dim 1; running statistics are updated in place when training. */
export function batchNorm(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, options: BatchNormOptions = {}): Tensor {
  return op(
    'batch_norm',
    input,
    options.weight ?? null,
    options.bias ?? null,
    runningMean,
    runningVar,
    options.training ?? false,
    options.momentum ?? 0.1,
    options.eps ?? 1e-5,
    true,
  );
}

/** A whitening layer's buffers, as src/longtail/whitening.ts's ChannelWhitening holds them. */
export interface WhiteningState {
  runningMean: Tensor;
  /** [groups, g, g] */
  runningWhitening: Tensor;
  /** [groups, g, g] when the running statistics average the covariance, else null. */
  runningCovariance: Tensor | null;
  numBatchesTracked: Tensor;
}

export interface WhiteningOptions {
  /** Batch statistics (and a running-statistics update) when true; running statistics when false. */
  training: boolean;
  groups: number;
  eps: number;
  method: 'zca' | 'newton-schulz';
  iterations: number;
  decompositionDtype: Dtype;
  momentum: number;
  /**
   * ZCA in training: the eigendecomposition (linalg.eigh, in decompositionDtype) of the batch's S + eps I as
   * channelWhiteningCovariance gives it, used instead of the node's own (a captured step's, made between its graphs).
   */
  decomposition?: { eigenvalues: Tensor; eigenvectors: Tensor } | null;
}

/**
 * Channel whitening of (N, C) features (docs/method.md, "Channel whitening") in one native call: the training
 * forward is one autograd node with a closed-form backward (native/src/whitening.cc); the running buffers are
 * updated in place when training. Not the batch norm of a library: an operator of scatter's own addon.
 */
export function channelWhitening(input: Tensor, state: WhiteningState, options: WhiteningOptions): Tensor {
  const { decomposition, ...rest } = options;
  return new Tensor(
    native.channelWhitening(input.handle, {
      ...rest,
      eigenvalues: decomposition?.eigenvalues.handle ?? null,
      eigenvectors: decomposition?.eigenvectors.handle ?? null,
      runningMean: state.runningMean.handle,
      runningWhitening: state.runningWhitening.handle,
      runningCovariance: state.runningCovariance?.handle ?? null,
      numBatchesTracked: state.numBatchesTracked.handle,
    }),
  );
}

/** The training batch's S + eps I [groups, g, g], as channelWhitening computes it; not differentiated. */
export function channelWhiteningCovariance(input: Tensor, options: { groups: number; eps: number }): Tensor {
  return new Tensor(native.channelWhiteningCovariance(input.handle, options));
}

export function layerNorm(
  input: Tensor,
  normalizedShape: readonly number[],
  options: { weight?: Tensor | null; bias?: Tensor | null; eps?: number } = {},
): Tensor {
  return op('layer_norm', input, normalizedShape, options.weight ?? null, options.bias ?? null, options.eps ?? 1e-5, true);
}

export function relu(input: Tensor): Tensor {
  return op('relu', input);
}

export function gelu(input: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return op('gelu', input, approximate);
}

export function sigmoid(input: Tensor): Tensor {
  return op('sigmoid', input);
}

export function softmax(input: Tensor, dim: number): Tensor {
  return op('softmax.int', input, dim);
}

export function logSoftmax(input: Tensor, dim: number): Tensor {
  return op('log_softmax.int', input, dim);
}

/** Zeroes elements with probability p and scales the rest by 1/(1-p), when training. */
export function dropout(input: Tensor, p = 0.5, training = true): Tensor {
  if (p < 0 || p > 1) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  return op('dropout', input, p, training);
}

export interface PoolOptions {
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
}

export function maxPool2d(input: Tensor, kernelSize: Pair, options: PoolOptions & { dilation?: Pair } = {}): Tensor {
  return op(
    'max_pool2d',
    input,
    kernelSize,
    options.stride ?? kernelSize,
    options.padding ?? 0,
    options.dilation ?? 1,
    options.ceilMode ?? false,
  );
}

export function avgPool2d(input: Tensor, kernelSize: Pair, options: PoolOptions & { countIncludePad?: boolean } = {}): Tensor {
  return op(
    'avg_pool2d',
    input,
    kernelSize,
    options.stride ?? kernelSize,
    options.padding ?? 0,
    options.ceilMode ?? false,
    options.countIncludePad ?? true,
    null,
  );
}

export function adaptiveAvgPool2d(input: Tensor, outputSize: Pair): Tensor {
  return op('adaptive_avg_pool2d', input, outputSize);
}

export interface LossOptions {
  /** Per-class weights (a 1-d tensor of C). */
  weight?: Tensor | null;
  reduction?: Reduction;
  ignoreIndex?: number;
}

/** Cross-entropy of logits (N, C, ...) against class indices or class probabilities. */
export function crossEntropy(input: Tensor, target: Tensor, options: LossOptions & { labelSmoothing?: number } = {}): Tensor {
  return op(
    'cross_entropy_loss',
    input,
    target,
    options.weight ?? null,
    reductionCode(options.reduction),
    options.ignoreIndex ?? -100,
    options.labelSmoothing ?? 0,
  );
}

/** Negative log-likelihood of log-probabilities (N, C, ...) against class indices. */
export function nllLoss(input: Tensor, target: Tensor, options: LossOptions = {}): Tensor {
  return op('nll_loss_nd', input, target, options.weight ?? null, reductionCode(options.reduction), options.ignoreIndex ?? -100);
}

export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return op('mse_loss', input, target, reductionCode(reduction));
}

export function binaryCrossEntropyWithLogits(
  input: Tensor,
  target: Tensor,
  options: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction } = {},
): Tensor {
  return op(
    'binary_cross_entropy_with_logits',
    input,
    target,
    options.weight ?? null,
    options.posWeight ?? null,
    reductionCode(options.reduction),
  );
}

/** Pads the last dims: [left, right, top, bottom, ...] as in PyTorch. */
export function pad(
  input: Tensor,
  padding: readonly number[],
  mode: 'constant' | 'reflect' | 'replicate' | 'circular' = 'constant',
  value = 0,
): Tensor {
  return op('pad', input, padding, mode, mode === 'constant' ? value : null);
}

/** Resizes (N, C, H, W) to `size` or by `scaleFactor`, with nearest or bilinear interpolation. */
export function interpolate(
  input: Tensor,
  options: { size?: Pair; scaleFactor?: number; mode?: 'nearest' | 'bilinear'; alignCorners?: boolean },
): Tensor {
  const [height, width] = input.shape.slice(-2) as [number, number];
  let size: readonly [number, number];
  if (options.size !== undefined) {
    size = typeof options.size === 'number' ? [options.size, options.size] : options.size;
  } else if (options.scaleFactor !== undefined) {
    size = [Math.floor(height * options.scaleFactor), Math.floor(width * options.scaleFactor)];
  } else {
    throw new TypeError('interpolate: give size or scaleFactor');
  }
  const scale = options.size === undefined ? (options.scaleFactor ?? null) : null;
  if ((options.mode ?? 'nearest') === 'nearest') return op('upsample_nearest2d', input, size, scale, scale);
  return op('upsample_bilinear2d', input, size, options.alignCorners ?? false, scale, scale);
}

export function cosineSimilarity(x1: Tensor, x2: Tensor, dim = 1, eps = 1e-8): Tensor {
  return op('cosine_similarity', x1, x2, dim, eps);
}

/** x / max(||x||_p, eps) along dim. */
export function normalize(input: Tensor, p = 2, dim = 1, eps = 1e-12): Tensor {
  const norm = input.norm(p, { dim, keepdim: true });
  const safe = norm.clamp(eps);
  const result = input.div(safe);
  norm.dispose();
  safe.dispose();
  return result;
}

/** Max-pooled values and their flat indices (for unpooling and tests). */
export function maxPool2dWithIndices(input: Tensor, kernelSize: Pair, options: PoolOptions = {}): { values: Tensor; indices: Tensor } {
  const [values, indices] = ops(
    'max_pool2d_with_indices',
    input,
    kernelSize,
    options.stride ?? kernelSize,
    options.padding ?? 0,
    1,
    options.ceilMode ?? false,
  );
  return { values: values!, indices: indices! };
}
