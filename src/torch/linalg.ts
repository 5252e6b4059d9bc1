// Linear algebra, torch.linalg in camelCase; gradients wherever libtorch defines them.
import { type Tensor, op, ops } from './tensor.js';

/** Eigenvalues (ascending) and eigenvectors (columns) of symmetric matrices. */
export function eigh(a: Tensor, uplo: 'L' | 'U' = 'L'): { eigenvalues: Tensor; eigenvectors: Tensor } {
  const [eigenvalues, eigenvectors] = ops('linalg_eigh', a, uplo);
  return { eigenvalues: eigenvalues!, eigenvectors: eigenvectors! };
}

export function eigvalsh(a: Tensor, uplo: 'L' | 'U' = 'L'): Tensor {
  return op('linalg_eigvalsh', a, uplo);
}

/** A = U diag(S) Vh; reduced unless fullMatrices. */
export function svd(a: Tensor, fullMatrices = false): { U: Tensor; S: Tensor; Vh: Tensor } {
  const [U, S, Vh] = ops('linalg_svd', a, fullMatrices, null);
  return { U: U!, S: S!, Vh: Vh! };
}

export function svdvals(a: Tensor): Tensor {
  return op('linalg_svdvals', a, null);
}

/** Lower-triangular L with A = L L^T (upper: A = U^T U). */
export function cholesky(a: Tensor, upper = false): Tensor {
  return op('linalg_cholesky', a, upper);
}

export function inv(a: Tensor): Tensor {
  return op('linalg_inv', a);
}

/** X with A X = B. */
export function solve(a: Tensor, b: Tensor): Tensor {
  return op('linalg_solve', a, b, true);
}

/** Sign and log of the absolute determinant. */
export function slogdet(a: Tensor): { sign: Tensor; logabsdet: Tensor } {
  const [sign, logabsdet] = ops('linalg_slogdet', a);
  return { sign: sign!, logabsdet: logabsdet! };
}

export function det(a: Tensor): Tensor {
  return op('linalg_det', a);
}

export function qr(a: Tensor, mode: 'reduced' | 'complete' | 'r' = 'reduced'): { Q: Tensor; R: Tensor } {
  const [Q, R] = ops('linalg_qr', a, mode);
  return { Q: Q!, R: R! };
}

export function matrixNorm(a: Tensor, ord: 'fro' | 'nuc' = 'fro'): Tensor {
  return op('linalg_matrix_norm.str_ord', a, ord);
}

/** The condition number in the 2-norm (ratio of extreme singular values). */
export function cond(a: Tensor): Tensor {
  return op('linalg_cond', a, null);
}
