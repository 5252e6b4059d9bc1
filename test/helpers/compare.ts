// Tensor comparisons shared by the parity tests.
import assert from 'node:assert/strict';

import { torch } from '../../src/index.js';

/** max |actual - expected| / max |expected|: the error relative to the tensor's scale (0 when both are 0). */
export function relativeError(actual: torch.Tensor, expected: torch.Tensor): number {
  return torch.scope(() => {
    const difference = actual.detach().to(expected.dtype).sub(expected).abs().max().item();
    return difference === 0 ? 0 : difference / Math.max(expected.abs().max().item(), 1e-30);
  });
}

/** Asserts equal shapes and a relative error of at most `tolerance` (0: bitwise equal values). */
export function assertClose(
  actual: torch.Tensor | null | undefined,
  expected: torch.Tensor | undefined,
  tolerance: number,
  label: string,
): void {
  assert.ok(actual, `${label}: missing on scatter's side`);
  assert.ok(expected, `${label}: missing on the reference side`);
  assert.deepEqual(actual.shape, expected.shape, `${label}: shape`);
  const error = relativeError(actual, expected);
  assert.ok(error <= tolerance, `${label}: relative error ${error.toExponential(2)} > ${tolerance}`);
}
