// Weight initialisation, PyTorch's torch.nn.init in camelCase: the same fan and gain formulas and the same
// random draws in the same order, so that a seeded module starts from the same numbers as in Python.
// Every function fills the tensor in place without recording for autograd, and returns it.
import * as torch from '../torch/index.js';

type Tensor = torch.Tensor;

export type Nonlinearity = 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';
export type FanMode = 'fan_in' | 'fan_out';

/** The recommended gain for a nonlinearity (param: leaky_relu's negative slope, 0.01 by default). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv1d':
    case 'conv2d':
    case 'conv3d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.sqrt(2);
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope ** 2));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new Error(`calculateGain: unknown nonlinearity '${nonlinearity as string}'`);
  }
}

/** fan_in = size(1) x receptive field, fan_out = size(0) x receptive field (the sizes after dim 1). */
export function calculateFanInAndFanOut(tensor: Tensor): { fanIn: number; fanOut: number } {
  const [outputMaps, inputMaps, ...receptive] = tensor.shape;
  if (outputMaps === undefined || inputMaps === undefined) {
    throw new Error(`fan in and fan out need a tensor of at least 2 dims, got shape [${tensor.shape.join(', ')}]`);
  }
  const receptiveField = receptive.reduce((a, b) => a * b, 1);
  return { fanIn: inputMaps * receptiveField, fanOut: outputMaps * receptiveField };
}

function fan(tensor: Tensor, mode: FanMode): number {
  const { fanIn, fanOut } = calculateFanInAndFanOut(tensor);
  if (mode !== 'fan_in' && mode !== 'fan_out') throw new Error(`unknown fan mode '${mode as string}' (fan_in, fan_out)`);
  return mode === 'fan_in' ? fanIn : fanOut;
}

export function uniform_(tensor: Tensor, low = 0, high = 1): Tensor {
  return torch.noGrad(() => tensor.uniform_(low, high));
}

export function normal_(tensor: Tensor, mean = 0, std = 1): Tensor {
  return torch.noGrad(() => tensor.normal_(mean, std));
}

export function constant_(tensor: Tensor, value: number): Tensor {
  return torch.noGrad(() => tensor.fill_(value));
}

export function zeros_(tensor: Tensor): Tensor {
  return constant_(tensor, 0);
}

export function ones_(tensor: Tensor): Tensor {
  return constant_(tensor, 1);
}

/** Uniform on [-a, a] with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010). */
export function xavierUniform_(tensor: Tensor, gain = 1): Tensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(tensor);
  const std = gain * Math.sqrt(2 / (fanIn + fanOut));
  const bound = Math.sqrt(3) * std;
  return uniform_(tensor, -bound, bound);
}

/** Normal with std = gain * sqrt(2 / (fan_in + fan_out)). */
export function xavierNormal_(tensor: Tensor, gain = 1): Tensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(tensor);
  return normal_(tensor, 0, gain * Math.sqrt(2 / (fanIn + fanOut)));
}

export interface KaimingOptions {
  /** leaky_relu's negative slope (PyTorch's `a`), 0 by default. */
  a?: number;
  mode?: FanMode;
  nonlinearity?: Nonlinearity;
}

function kaimingStd(tensor: Tensor, options: KaimingOptions): number {
  const gain = calculateGain(options.nonlinearity ?? 'leaky_relu', options.a ?? 0);
  return gain / Math.sqrt(fan(tensor, options.mode ?? 'fan_in'));
}

/** Uniform on [-b, b] with b = gain * sqrt(3 / fan) (He et al., 2015). */
export function kaimingUniform_(tensor: Tensor, options: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(tensor, options);
  return uniform_(tensor, -bound, bound);
}

/** Normal with std = gain / sqrt(fan) (He et al., 2015). */
export function kaimingNormal_(tensor: Tensor, options: KaimingOptions = {}): Tensor {
  return normal_(tensor, 0, kaimingStd(tensor, options));
}
