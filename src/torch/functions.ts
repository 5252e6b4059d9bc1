// Free functions over several tensors (cat, stack, where, einsum) and torch.* forms of methods.
import { type Tensor, op, ops } from './tensor.js';

export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return op('cat', tensors, dim);
}

export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return op('stack', tensors, dim);
}

/** Elementwise choice: x where condition holds, else y. */
export function where(condition: Tensor, x: Tensor | number, y: Tensor | number): Tensor {
  return op('where.self', condition, x, y);
}

/** Einstein summation, e.g. einsum('bi,bj->ij', a, b). */
export function einsum(equation: string, ...operands: Tensor[]): Tensor {
  return op('einsum', equation, operands);
}

export function maximum(a: Tensor, b: Tensor | number): Tensor {
  return a.maximum(b);
}

export function minimum(a: Tensor, b: Tensor | number): Tensor {
  return a.minimum(b);
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  return a.matmul(b);
}

export function outer(a: Tensor, b: Tensor): Tensor {
  return a.outer(b);
}

/** The broadcast shape's tensors, all expanded to it (views). */
export function broadcastTensors(...tensors: Tensor[]): Tensor[] {
  return ops('broadcast_tensors', tensors);
}

/** Class indices to one-hot rows (int64). */
export function oneHot(indices: Tensor, numClasses = -1): Tensor {
  return op('one_hot', indices, numClasses);
}

/** Counts of each non-negative integer in a 1-d int tensor. */
export function bincount(input: Tensor, options: { weights?: Tensor; minlength?: number } = {}): Tensor {
  return op('bincount', input, options.weights ?? null, options.minlength ?? 0);
}
