// Fully connected layers: Linear (PyTorch's, default initialisation) and CosineLinear (LDAM-DRW's cosine
// classifier, NormedLinear there).
import * as torch from '../torch/index.js';
import { Module } from './module.js';
import { WeightedLayer } from './weighted.js';

type Tensor = torch.Tensor;

function checkFeatures(layer: string, input: Tensor, inFeatures: number): void {
  const shape = input.shape;
  if (shape.length < 1 || shape[shape.length - 1] !== inFeatures) {
    throw new Error(`${layer}: expected input with ${inFeatures} features in its last dim, got shape [${shape.join(', ')}]`);
  }
}

/** y = x W^T + b, with W of shape (outFeatures, inFeatures). */
export class Linear extends WeightedLayer {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(inFeatures: number, outFeatures: number, options: { bias?: boolean } = {}) {
    super([outFeatures, inFeatures], options.bias ?? true);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
  }

  forward(input: Tensor): Tensor {
    checkFeatures(`Linear(${this.inFeatures}, ${this.outFeatures})`, input, this.inFeatures);
    return torch.nn.functional.linear(input, this.weight, this.bias);
  }
}

/**
 * Cosine classifier: scale * normalize(x) normalize(W), the cosines between each input and each class
 * vector. The weight keeps LDAM-DRW's layout, (inFeatures, outFeatures) with one unit column per class,
 * and its initialisation (uniform on [-1, 1], columns renormalised to 1), so checkpoints load both ways.
 * LDAM-DRW applies its scale (s = 30) in the loss; `scale` here multiplies the cosines (1 by default).
 */
export class CosineLinear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly scale: number;

  constructor(inFeatures: number, outFeatures: number, options: { scale?: number } = {}) {
    super();
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.scale = options.scale ?? 1;
    const weight = torch.noGrad(() =>
      torch.scope(() => torch.op('renorm', torch.empty([inFeatures, outFeatures]).uniform_(-1, 1), 2, 1, 1e-5).mul(1e5)),
    );
    this.registerParameter('weight', weight);
  }

  get weight(): Tensor {
    return this.getParameter('weight');
  }

  forward(input: Tensor): Tensor {
    if (input.ndim !== 2) throw new Error(`CosineLinear: expected input of shape (N, ${this.inFeatures}), got [${input.shape.join(', ')}]`);
    checkFeatures(`CosineLinear(${this.inFeatures}, ${this.outFeatures})`, input, this.inFeatures);
    const cosines = torch.nn.functional.normalize(input, 2, 1).mm(torch.nn.functional.normalize(this.weight, 2, 0));
    return this.scale === 1 ? cosines : cosines.mul(this.scale);
  }
}
