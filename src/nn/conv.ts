// Conv2d with PyTorch's default initialisation.
import * as torch from '../torch/index.js';
import { calculateFanInAndFanOut, kaimingUniform_, uniform_ } from './init.js';
import { Module } from './module.js';

type Tensor = torch.Tensor;
type Pair = number | readonly [number, number];

function pair(value: Pair): [number, number] {
  return typeof value === 'number' ? [value, value] : [value[0], value[1]];
}

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

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  /** true by default, as in PyTorch. */
  bias?: boolean;
}

export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  readonly hasBias: boolean;

  constructor(inChannels: number, outChannels: number, kernelSize: Pair, options: Conv2dOptions = {}) {
    super();
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = pair(kernelSize);
    this.stride = pair(options.stride ?? 1);
    this.padding = pair(options.padding ?? 0);
    this.dilation = pair(options.dilation ?? 1);
    this.groups = options.groups ?? 1;
    if (!(this.groups >= 1 && inChannels % this.groups === 0 && outChannels % this.groups === 0)) {
      throw new Error(`Conv2d: in (${inChannels}) and out (${outChannels}) channels must be divisible by groups (${this.groups})`);
    }
    const weight = this.registerParameter('weight', torch.empty([outChannels, inChannels / this.groups, ...this.kernelSize]));
    this.hasBias = options.bias ?? true;
    const bias = this.hasBias ? this.registerParameter('bias', torch.empty([outChannels])) : null;
    defaultInit(weight, bias);
  }

  get weight(): Tensor {
    return this.getParameter('weight');
  }

  get bias(): Tensor | null {
    return this.hasBias ? this.getParameter('bias') : null;
  }

  forward(input: Tensor): Tensor {
    const shape = input.shape;
    if (shape.length !== 4 || shape[1] !== this.inChannels) {
      throw new Error(`Conv2d(${this.inChannels}, ${this.outChannels}, kernel ${this.kernelSize.join('x')}): expected input of ` +
        `shape (N, ${this.inChannels}, H, W), got [${shape.join(', ')}]`);
    }
    return torch.conv2d(input, this.weight, this.bias, {
      stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups,
    });
  }
}
