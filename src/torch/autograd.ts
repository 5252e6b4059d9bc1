// Autograd beyond tensor.backward(): gradient mode scopes and torch.autograd.grad.
import { native } from './native.js';
import { Tensor } from './tensor.js';

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const previous = native.setGradEnabled(enabled);
  try {
    return fn();
  } finally {
    native.setGradEnabled(previous);
  }
}

/** Runs fn without recording operations for autograd (evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs fn with autograd recording, even inside noGrad. */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

export interface GradOptions {
  gradOutputs?: readonly (Tensor | null)[];
  retainGraph?: boolean;
  createGraph?: boolean;
  /** Return null for inputs the outputs do not depend on, instead of throwing. */
  allowUnused?: boolean;
}

/** The gradients of outputs with respect to inputs, returned rather than accumulated into .grad. */
export function grad(
  outputs: Tensor | readonly Tensor[],
  inputs: Tensor | readonly Tensor[],
  options: GradOptions = {},
): (Tensor | null)[] {
  const outputList = outputs instanceof Tensor ? [outputs] : outputs;
  const inputList = inputs instanceof Tensor ? [inputs] : inputs;
  const gradOutputs = options.gradOutputs ?? outputList.map(() => null);
  const result = native.grad(
    outputList.map((t) => t.handle),
    inputList.map((t) => t.handle),
    gradOutputs.map((g) => (g === null ? null : g.handle)),
    options.retainGraph,
    options.createGraph ?? false,
    options.allowUnused ?? false,
  );
  return result.map((handle) => (handle === null ? null : new Tensor(handle)));
}

/** Zeroes (or drops) the gradients of the given tensors. */
export function zeroGrad(tensors: Iterable<Tensor>, setToNull = true): void {
  for (const tensor of tensors) {
    if (setToNull) {
      tensor.grad = null;
    } else {
      const g = tensor.grad;
      if (g !== null) {
        g.zero_();
        g.dispose();
      }
    }
  }
}
