// Channel whitening: the method's layer between the pooled features and the classifier (ZCA with batch
// statistics, or IterNorm's Newton-Schulz iterations), the "batch norm before the classifier" baseline,
// and the factory the trainer builds either from a config. What each option does and why its default is
// what it is: docs/method.md, "Channel whitening".
import * as torch from '../torch/index.js';
import { BatchNorm1d, Identity, Module } from '../nn/index.js';
import type { BatchNormOptions } from '../nn/index.js';

type Tensor = torch.Tensor;

export const WHITENING_METHODS = ['zca', 'newton-schulz'] as const;
export type WhiteningMethod = (typeof WHITENING_METHODS)[number];

export const RUNNING_STATISTICS = ['whitening', 'covariance'] as const;
export type RunningStatistic = (typeof RUNNING_STATISTICS)[number];

export const DECOMPOSITION_DTYPES = ['float32', 'float64'] as const;
export type DecompositionDtype = (typeof DECOMPOSITION_DTYPES)[number];

export const WHITENING_IMPLEMENTATIONS = ['native', 'typescript'] as const;
export type WhiteningImplementation = (typeof WHITENING_IMPLEMENTATIONS)[number];

/** Channels whitened together when groupSize is not given: every channel up to this many. */
export const DEFAULT_MAX_GROUP_SIZE = 64;

export interface ChannelWhiteningOptions {
  /** Added to the batch covariance's diagonal (0.1): caps the gain of any direction at eps^-1/2. */
  eps?: number;
  /** Weight of the newest batch in the running statistics (0.1). */
  momentum?: number;
  /** Channels whitened together (block-diagonal whitening); must divide numFeatures. Default: all up to 64, else 64. */
  groupSize?: number;
  /** A learnable per-channel scale (1) and shift (0) after whitening; false by default. */
  affine?: boolean;
  /** 'zca' (eigendecomposition; default) or 'newton-schulz' (IterNorm: matrix products only). */
  method?: WhiteningMethod;
  /** Newton-Schulz iterations (5, IterNorm's); unused by 'zca'. */
  iterations?: number;
  /** The precision in which the whitening matrix is computed from the covariance ('float64' by default). */
  decompositionDtype?: DecompositionDtype;
  /** What the running statistics average: 'whitening' matrices (default, as DBN) or 'covariance' matrices. */
  runningStats?: RunningStatistic;
  /**
   * 'native' (default): the whole layer in one call of the addon's whitening node, its backward in closed form
   * (native/src/whitening.cc); 'typescript': the same arithmetic as dozens of operator calls, differentiable
   * more than once. Same results to rounding; the native one spends less time crossing from JavaScript.
   */
  implementation?: WhiteningImplementation;
}

function checkChoice<T extends string>(owner: string, name: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value)) throw new Error(`${owner}: ${name} must be one of ${allowed.join(', ')}, got '${value}'`);
  return value;
}

function checkPositiveInteger(owner: string, name: string, value: number): number {
  if (!(Number.isInteger(value) && value >= 1)) throw new Error(`${owner}: ${name} must be a positive integer, got ${value}`);
  return value;
}

/** linalg.eigh of covariance blocks [G, g, g]: eigenvalues [G, g], eigenvectors [G, g, g]. */
interface Decomposition {
  eigenvalues: Tensor;
  eigenvectors: Tensor;
}

/**
 * cov^-1/2 for a stack of symmetric positive definite matrices [G, g, g], by eigendecomposition (`given`'s, when
 * not null: made outside, between a captured step's graphs).
 * Its gradient is the exact derivative of the matrix function (Daleckii-Krein): U (K o U^T dS U) U^T with
 * K_ij the divided difference of f(x) = x^-1/2 at the eigenvalues, -1 / (r_i r_j (r_i + r_j)) for roots r.
 * Back-propagating through eigh computes the same where eigenvalues differ, but divides by
 * lambda_i - lambda_j, so tied eigenvalues (two dead ReLU channels; a batch smaller than the group, whose
 * null space is all eps) make every gradient NaN.
 */
function zcaWhitening(cov: Tensor, minEigenvalue: number, given: Decomposition | null): Tensor {
  const { eigenvalues, eigenvectors: basis } = given ?? torch.linalg.eigh(cov.detach());
  // Every eigenvalue of S + eps I is at least eps; rounding may put a computed one below it (or below 0).
  const roots = eigenvalues.clamp(minEigenvalue).sqrt();
  const basisT = basis.transpose(-2, -1);
  const whitening = basis.mul(roots.reciprocal().unsqueeze(-2)).matmul(basisT);
  if (!cov.requiresGrad) return whitening;
  const rootsI = roots.unsqueeze(-1);
  const rootsJ = roots.unsqueeze(-2);
  const dividedDifferences = rootsI.mul(rootsJ).mul(rootsI.add(rootsJ)).reciprocal().neg();
  // Zero in value (cov - cov) but linear in cov, so autograd sends back exactly the derivative above.
  const change = cov.sub(cov.detach());
  const derivative = basis.matmul(dividedDifferences.mul(basisT.matmul(change).matmul(basis))).matmul(basisT);
  return whitening.add(derivative);
}

/**
 * IterNorm's approximation of cov^-1/2 for [G, g, g]: S_N = S / tr(S), P_0 = I,
 * P_{k+1} = 1.5 P_k - 0.5 P_k^3 S_N, W = P_T / sqrt(tr(S)). Computed in the coupled form (Higham 1997):
 * Y_0 = S_N, Z_0 = I, T_k = 1.5 I - 0.5 Z_k Y_k, Y_{k+1} = Y_k T_k, Z_{k+1} = T_k Z_k, which gives the same
 * iterates (Z_k = P_k) for as many products, but stays stable: the uncoupled form diverged after 15
 * iterations on a covariance of condition number 1.7e4, in float64. Autograd follows the products.
 */
function newtonSchulzWhitening(cov: Tensor, iterations: number): Tensor {
  const size = cov.shape[cov.ndim - 1]!;
  const identity = torch.eye(size, { dtype: cov.dtype, device: cov.device });
  const trace = cov.diagonal(0, -2, -1).sum({ dim: -1, keepdim: true }).unsqueeze(-1);
  let y = cov.div(trace);
  let z = identity.expand(cov.shape);
  for (let k = 0; k < iterations; k++) {
    const step = identity.mul(1.5).sub(z.matmul(y).mul(0.5));
    y = y.matmul(step);
    z = step.matmul(z);
  }
  return z.div(trace.sqrt());
}

/**
 * Whitens B x d features: in training, x - mean(x) times the ZCA (or Newton-Schulz) whitening matrix of
 * the batch covariance S + eps I, within groups of groupSize channels (block-diagonal); in evaluation,
 * (x - running_mean) times running_whitening. Buffers: running_mean [d], running_whitening [G, g, g]
 * (G = d / g groups), running_covariance [G, g, g] (runningStats 'covariance' only), num_batches_tracked.
 */
export class ChannelWhitening extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number;
  readonly groupSize: number;
  readonly groups: number;
  readonly affine: boolean;
  readonly method: WhiteningMethod;
  readonly iterations: number;
  readonly decompositionDtype: DecompositionDtype;
  readonly runningStats: RunningStatistic;
  readonly implementation: WhiteningImplementation;
  /** A captured step's eigendecomposition, written between its graphs (decomposedBetweenParts); made at the first. */
  #decomposition: Decomposition | null = null;

  constructor(numFeatures: number, options: ChannelWhiteningOptions = {}) {
    super();
    const owner = 'ChannelWhitening';
    this.numFeatures = checkPositiveInteger(owner, 'numFeatures', numFeatures);
    this.eps = options.eps ?? 0.1;
    if (!(this.eps > 0)) throw new Error(`${owner}: eps must be positive, got ${this.eps}`);
    this.momentum = options.momentum ?? 0.1;
    if (!(this.momentum >= 0 && this.momentum <= 1)) throw new Error(`${owner}: momentum must be in [0, 1], got ${this.momentum}`);
    this.groupSize = checkPositiveInteger(owner, 'groupSize', options.groupSize ?? Math.min(numFeatures, DEFAULT_MAX_GROUP_SIZE));
    if (numFeatures % this.groupSize !== 0) {
      throw new Error(`${owner}: groupSize ${this.groupSize} does not divide numFeatures ${numFeatures}; set groupSize to a divisor`);
    }
    this.groups = numFeatures / this.groupSize;
    this.affine = options.affine ?? false;
    this.method = checkChoice(owner, 'method', options.method ?? 'zca', WHITENING_METHODS);
    this.iterations = checkPositiveInteger(owner, 'iterations', options.iterations ?? 5);
    this.decompositionDtype = checkChoice(owner, 'decompositionDtype', options.decompositionDtype ?? 'float64', DECOMPOSITION_DTYPES);
    this.runningStats = checkChoice(owner, 'runningStats', options.runningStats ?? 'whitening', RUNNING_STATISTICS);
    this.implementation = checkChoice(owner, 'implementation', options.implementation ?? 'native', WHITENING_IMPLEMENTATIONS);

    if (this.affine) {
      this.registerParameter('weight', torch.ones([numFeatures]));
      this.registerParameter('bias', torch.zeros([numFeatures]));
    }
    const identityBlocks = (): Tensor => torch.eye(this.groupSize).repeat([this.groups, 1, 1]);
    this.registerBuffer('running_mean', torch.zeros([numFeatures]));
    this.registerBuffer('running_whitening', identityBlocks());
    if (this.runningStats === 'covariance') this.registerBuffer('running_covariance', identityBlocks());
    this.registerBuffer('num_batches_tracked', torch.zeros([], { dtype: 'int64' }));
  }

  get weight(): Tensor | null {
    return this.affine ? this.getParameter('weight') : null;
  }

  get bias(): Tensor | null {
    return this.affine ? this.getParameter('bias') : null;
  }

  get runningMean(): Tensor {
    return this.getBuffer('running_mean');
  }

  /** The diagonal blocks of the evaluation whitening matrix, [groups, groupSize, groupSize]. */
  get runningWhitening(): Tensor {
    return this.getBuffer('running_whitening');
  }

  /** The averaged regularised covariance blocks (runningStats 'covariance'), else null. */
  get runningCovariance(): Tensor | null {
    return this.runningStats === 'covariance' ? this.getBuffer('running_covariance') : null;
  }

  get numBatchesTracked(): Tensor {
    return this.getBuffer('num_batches_tracked');
  }

  forward(input: Tensor): Tensor {
    const shape = input.shape;
    if (shape.length !== 2 || shape[1] !== this.numFeatures) {
      throw new Error(`ChannelWhitening(${this.numFeatures}): expected input of shape (N, ${this.numFeatures}), got [${shape.join(', ')}]`);
    }
    if (this.training && shape[0]! < 2) {
      throw new Error(`ChannelWhitening: batch statistics need more than 1 value per channel, got input [${shape.join(', ')}]`);
    }
    const whitened =
      this.implementation === 'native'
        ? this.#whitenNatively(input)
        : this.training
          ? this.#whitenWithBatch(input)
          : this.#applyBlocks(input.sub(this.runningMean), this.runningWhitening);
    return this.affine ? whitened.mul(this.weight!).add(this.bias!) : whitened;
  }

  /** Training or evaluation, running statistics included, in one call of the addon (two under a capture in parts). */
  #whitenNatively(input: Tensor): Tensor {
    const decomposition = this.#decomposedBetweenParts(() =>
      torch.nn.functional.channelWhiteningCovariance(input, { groups: this.groups, eps: this.eps }),
    );
    return torch.nn.functional.channelWhitening(
      input,
      {
        runningMean: this.runningMean,
        runningWhitening: this.runningWhitening,
        runningCovariance: this.runningCovariance,
        numBatchesTracked: this.numBatchesTracked,
      },
      {
        training: this.training,
        groups: this.groups,
        eps: this.eps,
        method: this.method,
        iterations: this.iterations,
        decompositionDtype: this.decompositionDtype,
        momentum: this.momentum,
        decomposition,
      },
    );
  }

  /**
   * Under a CUDA graph captured in parts (train.capture), ZCA's eigendecomposition moves out of the graph, since
   * linalg.eigh waits for the host: the batch's S + eps I (`covariance`) is taken in the part being recorded, eigh of
   * it runs between that part and the next at every replay (torch.cuda.hostStep) into buffers of the layer's own,
   * and the whitening is computed from those in the next part. Returns the buffers, or null where nothing moves
   * (no such capture, evaluation, Newton-Schulz). The buffers serve every captured graph: replays run one at a time,
   * and a pass's backward reads them before the next pass's host step writes them.
   */
  #decomposedBetweenParts(covariance: () => Tensor): Decomposition | null {
    if (!(this.training && this.method === 'zca' && torch.cuda.capturingInParts())) return null;
    if (this.runningStats === 'covariance') {
      throw new Error(
        "ChannelWhitening: runningStats 'covariance' with ZCA cannot be captured (its running whitening needs an " +
          'eigendecomposition of its own every step)',
      );
    }
    // Kept: the host step reads it at every replay.
    const blocks = torch.keep(covariance().detach());
    const buffers = this.#decompositionBuffers(blocks);
    torch.cuda.hostStep(() =>
      torch.noGrad(() =>
        torch.scope(() => {
          const { eigenvalues, eigenvectors } = torch.linalg.eigh(blocks.to(this.decompositionDtype));
          buffers.eigenvalues.copy_(eigenvalues);
          buffers.eigenvectors.copy_(eigenvectors);
        }),
      ),
    );
    return buffers;
  }

  /**
   * The decomposition buffers, on the covariance's device in decompositionDtype (made empty: the host step fills them).
   * Buffers of another device are left to the collector, not disposed: a graph captured before may still read them.
   */
  #decompositionBuffers(covariance: Tensor): Decomposition {
    const current = this.#decomposition;
    if (current !== null && current.eigenvectors.device === covariance.device) return current;
    const options = { dtype: this.decompositionDtype, device: covariance.device };
    this.#decomposition = {
      eigenvalues: torch.keep(torch.empty([this.groups, this.groupSize], options)),
      eigenvectors: torch.keep(torch.empty([this.groups, this.groupSize, this.groupSize], options)),
    };
    return this.#decomposition;
  }

  #whitenWithBatch(input: Tensor): Tensor {
    const mean = input.mean({ dim: 0 });
    const centred = input.sub(mean);
    const covariance = this.#regularisedCovariance(centred);
    const whitening = this.#whiteningMatrix(
      covariance,
      this.#decomposedBetweenParts(() => covariance),
    );
    torch.noGrad(() => this.#updateRunningStats(mean, covariance, whitening));
    return this.#applyBlocks(centred, whitening);
  }

  /**
   * Replaces the running statistics by those of a whole population of features [N, d]: its mean and the
   * whitening matrix of its covariance + eps I (PreciseBN's idea, Wu & Johnson 2021: the moving averages
   * of the last batches, taken while the backbone still changed, are only an estimate of them).
   */
  setPopulationStatistics(features: Tensor): void {
    if (features.ndim !== 2 || features.shape[1] !== this.numFeatures || features.shape[0]! < 2) {
      throw new Error(
        `ChannelWhitening(${this.numFeatures}): population statistics need features (N >= 2, ${this.numFeatures}), got [${features.shape.join(', ')}]`,
      );
    }
    torch.noGrad(() =>
      torch.scope(() => {
        const mean = features.mean({ dim: 0 });
        const covariance = this.#regularisedCovariance(features.sub(mean));
        this.runningMean.copy_(mean);
        this.runningCovariance?.copy_(covariance);
        this.runningWhitening.copy_(this.#whiteningMatrix(covariance));
      }),
    );
  }

  /** The covariance blocks [G, g, g] of centred features [N, d], plus eps I. */
  #regularisedCovariance(centred: Tensor): Tensor {
    const count = centred.shape[0]!;
    const grouped = centred.view([count, this.groups, this.groupSize]);
    const identity = torch.eye(this.groupSize, { dtype: centred.dtype, device: centred.device });
    return torch.einsum('bgi,bgj->gij', grouped, grouped).div(count).add(identity.mul(this.eps));
  }

  /** The whitening matrices of covariance blocks, computed in decompositionDtype and returned in theirs. */
  #whiteningMatrix(covariance: Tensor, given: Decomposition | null = null): Tensor {
    const cov = covariance.to(this.decompositionDtype);
    const whitening = this.method === 'zca' ? zcaWhitening(cov, this.eps, given) : newtonSchulzWhitening(cov, this.iterations);
    return whitening.to(covariance.dtype);
  }

  /** Exponential moving averages (weight momentum on the new batch) of the mean and of W or S + eps I. */
  #updateRunningStats(mean: Tensor, covariance: Tensor, whitening: Tensor): void {
    this.runningMean.lerp_(mean, this.momentum);
    const runningCovariance = this.runningCovariance;
    if (runningCovariance === null) {
      this.runningWhitening.lerp_(whitening, this.momentum);
    } else {
      runningCovariance.lerp_(covariance, this.momentum);
      this.runningWhitening.copy_(this.#whiteningMatrix(runningCovariance));
    }
    // A bigint: a JavaScript number would be a float scalar, which an int64 tensor cannot take in place.
    (torch.callOp('add_.Scalar', this.numBatchesTracked, 1n) as Tensor).dispose();
  }

  /** centred [B, d] times the block-diagonal matrix with blocks [G, g, g]. */
  #applyBlocks(centred: Tensor, blocks: Tensor): Tensor {
    const batch = centred.shape[0]!;
    const grouped = centred.view([batch, this.groups, this.groupSize]);
    return torch.einsum('bgi,gij->bgj', grouped, blocks).reshape([batch, this.numFeatures]);
  }
}

/**
 * The "batch norm before the classifier" baseline: BatchNorm1d over pooled features (N, C). Without affine
 * by default, like ChannelWhitening, so that the two necks differ only in decorrelating the channels.
 */
export class BatchNormNeck extends BatchNorm1d {
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super(numFeatures, { ...options, affine: options.affine ?? false });
  }
}

export const NECK_KINDS = ['identity', 'batchnorm', 'whitening'] as const;
export type NeckKind = (typeof NECK_KINDS)[number];

/** A neck's options: ChannelWhitening's; 'batchnorm' takes eps, momentum and affine of them, 'identity' none. */
export type NeckOptions = ChannelWhiteningOptions;

/** An option the kind does not use is an error rather than silently ignored (the ablation would not be one). */
function rejectUnusedOptions(kind: NeckKind, options: NeckOptions, takes: readonly (keyof NeckOptions)[]): void {
  const unused = Object.entries(options)
    .filter(([name, value]) => value !== undefined && !takes.includes(name as keyof NeckOptions))
    .map(([name]) => `'${name}'`);
  if (unused.length > 0) {
    throw new Error(
      `createNeck('${kind}'): option ${unused.join(', ')} does not apply (${kind} takes ${takes.length > 0 ? takes.join(', ') : 'no options'})`,
    );
  }
}

/** The layer between a model's pooled features (featureDim) and its classifier, by config name. */
export function createNeck(kind: NeckKind, featureDim: number, options: NeckOptions = {}): Module {
  switch (checkChoice('createNeck', 'kind', kind, NECK_KINDS)) {
    case 'identity':
      rejectUnusedOptions(kind, options, []);
      return new Identity();
    case 'batchnorm':
      rejectUnusedOptions(kind, options, ['eps', 'momentum', 'affine']);
      return new BatchNormNeck(featureDim, { eps: options.eps, momentum: options.momentum, affine: options.affine });
    case 'whitening':
      return new ChannelWhitening(featureDim, options);
  }
}
