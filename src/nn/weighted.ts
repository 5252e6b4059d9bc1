// What Conv2d and Linear share: a `weight` whose first dim is the output size, an optional `bias` of that
// size, and PyTorch's default initialisation of both.
import * as torch from '../torch/index.js';
import { calculateFanInAndFanOut, kaimingUniform_, uniform_ } from './init.js';
import { Module } from './module.js';

type Tensor = torch.Tensor;

/**
 * PyTorch's reset_parameters for Conv and Linear: kaiming_uniform_ with a = sqrt(5) (uniform on
 * +-1/sqrt(fan_in)) for the weight, then uniform on +-1/sqrt(fan_in) for the bias.
 */
export function defaultInit(weight: Tensor, bias: Tensor | null): void {
  kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias === null) return;
  const { fanIn } = calculateFanInAndFanOut(weight);
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  uniform_(bias, -bound, bound);
}

export abstract class WeightedLayer extends Module {
  readonly hasBias: boolean;

  /** Registers weight (of `weightShape`) and, when `bias`, a bias of weightShape[0]; initialises both. */
  protected constructor(weightShape: readonly number[], bias: boolean) {
    super();
    this.hasBias = bias;
    const weight = this.registerParameter('weight', torch.empty(weightShape));
    defaultInit(weight, bias ? this.registerParameter('bias', torch.empty([weightShape[0]!])) : null);
  }

  get weight(): Tensor {
    return this.getParameter('weight');
  }

  get bias(): Tensor | null {
    return this.hasBias ? this.getParameter('bias') : null;
  }
}
