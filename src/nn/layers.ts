// Layers without parameters, and Sequential.
import * as torch from '../torch/index.js';
import { Module } from './module.js';

type Tensor = torch.Tensor;
type Pair = number | readonly [number, number];

/** Returns its input (the same tensor): a placeholder where a layer may go, e.g. a model's neck. */
export class Identity extends Module {
  forward(input: Tensor): Tensor {
    return input;
  }
}

export class ReLU extends Module {
  forward(input: Tensor): Tensor {
    return torch.relu(input);
  }
}

/** Zeroes elements with probability p and scales the rest by 1/(1-p) in training; the identity in eval. */
export class Dropout extends Module {
  readonly p: number;

  constructor(p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1], got ${p}`);
    this.p = p;
  }

  forward(input: Tensor): Tensor {
    return torch.dropout(input, this.p, this.training);
  }
}

export class AdaptiveAvgPool2d extends Module {
  readonly outputSize: Pair;

  constructor(outputSize: Pair) {
    super();
    this.outputSize = outputSize;
  }

  forward(input: Tensor): Tensor {
    return torch.nn.functional.adaptiveAvgPool2d(input, this.outputSize);
  }
}

export class MaxPool2d extends Module {
  readonly kernelSize: Pair;
  readonly options: torch.nn.functional.PoolOptions;

  constructor(kernelSize: Pair, options: torch.nn.functional.PoolOptions = {}) {
    super();
    this.kernelSize = kernelSize;
    this.options = { ...options };
  }

  forward(input: Tensor): Tensor {
    return torch.maxPool2d(input, this.kernelSize, this.options);
  }
}

/** Flattens dims startDim..endDim into one (from dim 1 by default: (N, C, H, W) -> (N, C*H*W)). */
export class Flatten extends Module {
  readonly startDim: number;
  readonly endDim: number;

  constructor(startDim = 1, endDim = -1) {
    super();
    this.startDim = startDim;
    this.endDim = endDim;
  }

  forward(input: Tensor): Tensor {
    return input.flatten(this.startDim, this.endDim);
  }
}

/** Modules applied in order, registered as children '0', '1', ... (PyTorch's names). */
export class Sequential extends Module {
  #length = 0;

  constructor(...modules: Module[]) {
    super();
    for (const module of modules) this.append(module);
  }

  append(module: Module): this {
    this.registerModule(String(this.#length), module);
    this.#length += 1;
    return this;
  }

  get length(): number {
    return this.#length;
  }

  /** The module at index (negative counts from the end). */
  at(index: number): Module {
    const position = index < 0 ? index + this.#length : index;
    if (!(position >= 0 && position < this.#length)) throw new RangeError(`Sequential.at(${index}): it has ${this.#length} modules`);
    return this.getSubmodule(String(position)) as Module;
  }

  forward(input: Tensor): Tensor {
    let output = input;
    for (let index = 0; index < this.#length; index++) output = this.at(index).call(output);
    return output;
  }
}
