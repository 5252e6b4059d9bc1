// Batch normalisation layers, PyTorch's: learnable affine weight and bias, running statistics buffers
// (running_mean, running_var, num_batches_tracked, under PyTorch's names so checkpoints match).
import * as torch from '../torch/index.js';
import { Module } from './module.js';

type Tensor = torch.Tensor;

export interface BatchNormOptions {
  eps?: number;
  /** Weight of the newest batch in the running statistics (0.1); null: a cumulative average. */
  momentum?: number | null;
  /** Learnable weight (1) and bias (0); true by default. */
  affine?: boolean;
  /** Keep running statistics and use them in evaluation; true by default. Without: batch statistics always. */
  trackRunningStats?: boolean;
}

abstract class BatchNorm extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;

  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super();
    this.numFeatures = numFeatures;
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    this.affine = options.affine ?? true;
    this.trackRunningStats = options.trackRunningStats ?? true;
    if (this.affine) {
      this.registerParameter('weight', torch.ones([numFeatures]));
      this.registerParameter('bias', torch.zeros([numFeatures]));
    }
    if (this.trackRunningStats) {
      this.registerBuffer('running_mean', torch.zeros([numFeatures]));
      this.registerBuffer('running_var', torch.ones([numFeatures]));
      this.registerBuffer('num_batches_tracked', torch.zeros([], { dtype: 'int64' }));
    }
  }

  /** The input shapes this layer takes, for its error message, e.g. '(N, C, H, W)'. */
  protected abstract readonly expectedShape: string;
  protected abstract acceptsRank(rank: number): boolean;

  get weight(): Tensor | null {
    return this.affine ? this.getParameter('weight') : null;
  }

  get bias(): Tensor | null {
    return this.affine ? this.getParameter('bias') : null;
  }

  get runningMean(): Tensor | null {
    return this.trackRunningStats ? this.getBuffer('running_mean') : null;
  }

  get runningVar(): Tensor | null {
    return this.trackRunningStats ? this.getBuffer('running_var') : null;
  }

  get numBatchesTracked(): Tensor | null {
    return this.trackRunningStats ? this.getBuffer('num_batches_tracked') : null;
  }

  forward(input: Tensor): Tensor {
    const shape = input.shape;
    if (!this.acceptsRank(shape.length) || shape[1] !== this.numFeatures) {
      throw new Error(
        `${this.constructor.name}(${this.numFeatures}): expected input of shape ` +
          `${this.expectedShape.replaceAll('C', String(this.numFeatures))}, got [${shape.join(', ')}]`,
      );
    }
    // Batch statistics when training, or always without running statistics (PyTorch's bn_training).
    const useBatchStats = this.training || !this.trackRunningStats;
    if (useBatchStats && shape[0]! * shape.slice(2).reduce((a, b) => a * b, 1) === 1) {
      throw new Error(`${this.constructor.name}: batch statistics need more than 1 value per channel, got input [${shape.join(', ')}]`);
    }
    let momentum = this.momentum ?? 0;
    const counter = this.numBatchesTracked;
    if (this.training && counter !== null) {
      // A bigint: a JavaScript number would be a float scalar, which an int64 tensor cannot take in place.
      (torch.callOp('add_.Scalar', counter, 1n) as Tensor).dispose();
      if (this.momentum === null) momentum = 1 / counter.item();
    }
    return torch.batchNorm(input, this.runningMean, this.runningVar, {
      weight: this.weight,
      bias: this.bias,
      training: useBatchStats,
      momentum,
      eps: this.eps,
    });
  }
}

/** Batch norm over (N, C) or (N, C, L) inputs, per channel C. */
export class BatchNorm1d extends BatchNorm {
  protected readonly expectedShape = '(N, C) or (N, C, L)';

  protected acceptsRank(rank: number): boolean {
    return rank === 2 || rank === 3;
  }
}

/** Batch norm over (N, C, H, W) inputs, per channel C. */
export class BatchNorm2d extends BatchNorm {
  protected readonly expectedShape = '(N, C, H, W)';

  protected acceptsRank(rank: number): boolean {
    return rank === 4;
  }
}
