// Parameter groups for optimizers: weight decay on weights only, the common practice of excluding biases
// and normalisation parameters from it.
import type * as torch from '../torch/index.js';
import type { AnyModule } from './module.js';

export interface DecayGroup {
  params: torch.Tensor[];
  weightDecay: number;
}

/**
 * The module's trainable parameters in two groups: those of 2 or more dims (conv and linear weights) with
 * `weightDecay`, and those of 0 or 1 dim (biases, batch-norm weights and biases) with none. The result
 * is what an optimizer's constructor takes as parameter groups.
 */
export function weightDecayGroups(module: AnyModule, weightDecay: number): [DecayGroup, DecayGroup] {
  const trainable = module.parameters().filter((tensor) => tensor.requiresGrad);
  return [
    { params: trainable.filter((tensor) => tensor.ndim >= 2), weightDecay },
    { params: trainable.filter((tensor) => tensor.ndim < 2), weightDecay: 0 },
  ];
}
