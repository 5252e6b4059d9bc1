// Finite-difference gradient checking, as torch.autograd.gradcheck: compares autograd's gradient of a
// random projection of fn's output with central differences, element by element, in float64.
import { grad, noGrad } from './autograd.js';
import { randnLike } from './creation.js';
import { scope } from './memory.js';
import type { Tensor } from './tensor.js';

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
}

export interface GradcheckResult {
  ok: boolean;
  /** The largest |analytic - numeric| - rtol * |numeric| over all checked elements (<= atol passes). */
  worstExcess: number;
  /** Where the worst element is: input index and flat element index. */
  worst: { input: number; element: number; analytic: number; numeric: number } | null;
}

/** Checks d fn(inputs) / d inputs for every input that requires grad (inputs should be float64 leaves). */
export function gradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], options: GradcheckOptions = {}): GradcheckResult {
  const eps = options.eps ?? 1e-6;
  const atol = options.atol ?? 1e-5;
  const rtol = options.rtol ?? 1e-3;
  return scope(() => {
    for (const input of inputs) {
      if (input.requiresGrad && input.dtype !== 'float64') throw new TypeError('gradcheck: inputs that require grad must be float64');
    }
    const probe = noGrad(() => randnLike(fn(...inputs)));
    const projected = (): Tensor =>
      fn(...inputs)
        .mul(probe)
        .sum();
    const checked = inputs.filter((input) => input.requiresGrad);
    const analytic = grad(projected(), checked, { allowUnused: true });
    let result: GradcheckResult = { ok: true, worstExcess: -Infinity, worst: null };
    checked.forEach((input, index) => {
      const expected = analytic[index] === null ? new Float64Array(input.numel()) : (analytic[index]!.toTypedArray() as Float64Array);
      const flat = input.view([-1]);
      for (let element = 0; element < expected.length; element++) {
        const numeric = noGrad(() =>
          scope(() => {
            const entry = flat.select(0, element);
            entry.add_(eps);
            const plus = projected().item();
            entry.sub_(2 * eps);
            const minus = projected().item();
            entry.add_(eps);
            return (plus - minus) / (2 * eps);
          }),
        );
        const excess = Math.abs(expected[element]! - numeric) - rtol * Math.abs(numeric);
        if (excess > result.worstExcess) {
          result = {
            ok: result.ok,
            worstExcess: excess,
            worst: { input: inputs.indexOf(input), element, analytic: expected[element]!, numeric },
          };
        }
        if (excess > atol) result.ok = false;
      }
    });
    return result;
  });
}
