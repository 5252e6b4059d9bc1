// Conv2d with PyTorch's default initialisation.
import * as torch from '../torch/index.js';
import { WeightedLayer } from './weighted.js';

type Tensor = torch.Tensor;
type Pair = number | readonly [number, number];

function pair(value: Pair): [number, number] {
  return typeof value === 'number' ? [value, value] : [value[0], value[1]];
}

/** torch.nn.functional.conv2d's options, and whether the layer has a bias. */
export interface Conv2dOptions extends torch.nn.functional.Conv2dOptions {
  /** true by default, as in PyTorch. */
  bias?: boolean;
}

export class Conv2d extends WeightedLayer {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(inChannels: number, outChannels: number, kernelSize: Pair, options: Conv2dOptions = {}) {
    const groups = options.groups ?? 1;
    if (!(groups >= 1 && inChannels % groups === 0 && outChannels % groups === 0)) {
      throw new Error(`Conv2d: in (${inChannels}) and out (${outChannels}) channels must be divisible by groups (${groups})`);
    }
    const kernel = pair(kernelSize);
    super([outChannels, inChannels / groups, ...kernel], options.bias ?? true);
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = kernel;
    this.stride = pair(options.stride ?? 1);
    this.padding = pair(options.padding ?? 0);
    this.dilation = pair(options.dilation ?? 1);
    this.groups = groups;
  }

  forward(input: Tensor): Tensor {
    const shape = input.shape;
    if (shape.length !== 4 || shape[1] !== this.inChannels) {
      throw new Error(
        `Conv2d(${this.inChannels}, ${this.outChannels}, kernel ${this.kernelSize.join('x')}): expected input of ` +
          `shape (N, ${this.inChannels}, H, W), got [${shape.join(', ')}]`,
      );
    }
    return torch.conv2d(input, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
    });
  }
}
