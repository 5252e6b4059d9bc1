// Feature diagnostics that make the method's claim visible (docs/paper.md, "Diagnostics that make the claims visible"):
// how correlated and how low-rank the classifier's input is, and how that conditions the classifier.
// Every function takes float64 tensors (N x d features, C x d weights) and returns plain numbers.
import { conditionNumber, correlationMatrix, covariance, meanAbsOffDiagonal } from '../longtail/feature-statistics.js';
import * as torch from '../torch/index.js';

export { conditionNumber, correlationMatrix, covariance, meanAbsOffDiagonal };

type Tensor = torch.Tensor;

/** Singular values of the centred features, largest first. */
export function singularValues(features: Tensor): number[] {
  return torch.scope(() => torch.linalg.svdvals(features.sub(features.mean({ dim: 0, keepdim: true }))).toArray());
}

/** exp(entropy of the normalised singular-value spectrum) (Roy & Vetterli): between 1 and min(N, d). */
export function effectiveRank(values: readonly number[]): number {
  const total = values.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  const entropy = values.reduce((sum, value) => (value > 0 ? sum - (value / total) * Math.log(value / total) : sum), 0);
  return Math.exp(entropy);
}

/** The differential entropy of a Gaussian with the features' covariance: 0.5 log det(2 pi e S) (nats). */
export function gaussianEntropy(features: Tensor, eps = 0): number {
  return torch.scope(() => {
    const cov = covariance(features);
    const d = cov.shape[0]!;
    const regular = eps > 0 ? cov.add(torch.eye(d, { dtype: cov.dtype }).mul(eps)) : cov;
    const { sign, logabsdet } = torch.linalg.slogdet(regular);
    if (sign.item() <= 0) return -Infinity;
    return 0.5 * (d * Math.log(2 * Math.PI * Math.E) + logabsdet.item());
  });
}

/**
 * The Hessian of the mean cross-entropy with respect to a linear classifier's weights W (C x d), exact:
 * H = E[(diag(p) - p p^T) kron x x^T] over the samples (features x, softmax probabilities p), Cd x Cd.
 * It is singular along W -> W + 1 v^T (softmax ignores a shift shared by all classes), so its condition
 * number is taken on the orthogonal complement of that null space.
 */
export function classifierHessian(features: Tensor, probabilities: Tensor, chunk = 256): Tensor {
  const n = features.shape[0]!;
  const [c, d] = [probabilities.shape[1]!, features.shape[1]!];
  const identity = torch.eye(c, { dtype: probabilities.dtype });
  // Summed over chunks of samples, so that the n x C x C and n x d x d terms never exist whole.
  let total = torch.zeros([c * d, c * d], { dtype: features.dtype });
  for (let start = 0; start < n; start += chunk) {
    const next = torch.scope(() => {
      const length = Math.min(chunk, n - start);
      const p = probabilities.narrow(0, start, length);
      const x = features.narrow(0, start, length);
      const curvature = torch.einsum('nc,ck->nck', p, identity).sub(torch.einsum('nc,nk->nck', p, p));
      const outer = torch.einsum('ni,nj->nij', x, x);
      return total.add(torch.einsum('nck,nij->cikj', curvature, outer).reshape([c * d, c * d]));
    });
    total.dispose();
    total = next;
  }
  const mean = total.div(n);
  total.dispose();
  return mean;
}

/** The condition number of the classifier's Hessian, ignoring the shift null space (d directions). */
export function classifierHessianCondition(features: Tensor, probabilities: Tensor): number {
  return torch.scope(() => {
    const eigenvalues = torch.linalg.eigvalsh(classifierHessian(features, probabilities)).toArray();
    const d = features.shape[1]!;
    const kept = eigenvalues.slice(d);
    const largest = kept[kept.length - 1]!;
    const smallest = kept[0]!;
    return smallest <= largest * 1e-15 ? Infinity : largest / smallest;
  });
}

/**
 * How strongly the classes' weight gradients point the same way (docs/paper.md, claim 2's coupling): the per-class
 * gradients of the mean cross-entropy, g_c = E[(p_c - y_c) x], and their mean |cosine| over distinct pairs.
 */
export function gradientCoupling(features: Tensor, probabilities: Tensor, labels: Tensor): number {
  return torch.scope(() => {
    const c = probabilities.shape[1]!;
    const residual = probabilities.sub(torch.oneHot(labels, c).to('float64'));
    const gradients = residual.t().mm(features).div(features.shape[0]!);
    const unit = torch.nn.functional.normalize(gradients, 2, 1);
    const cosines = unit.mm(unit.t()).abs();
    return (cosines.sum().item() - cosines.diagonal().sum().item()) / (c * (c - 1));
  });
}

/** The L2 norm of each class's weight vector (rows of W). */
export function classWeightNorms(weight: Tensor): number[] {
  return torch.scope(() => weight.norm(2, { dim: 1 }).toArray());
}

export interface FeatureDiagnostics {
  meanAbsCorrelation: number;
  effectiveRank: number;
  gaussianEntropy: number;
  covarianceCondition: number;
  singularValues: number[];
}

/** The feature-only diagnostics of one set of features (N x d, any float dtype). */
export function describeFeatures(features: Tensor): FeatureDiagnostics {
  return torch.scope(() => {
    const x = features.to('float64');
    const values = singularValues(x);
    return {
      meanAbsCorrelation: meanAbsOffDiagonal(correlationMatrix(x)),
      effectiveRank: effectiveRank(values),
      gaussianEntropy: gaussianEntropy(x),
      covarianceCondition: conditionNumber(covariance(x)),
      singularValues: values,
    };
  });
}
