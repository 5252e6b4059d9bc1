// Statistics of a batch of features (N x d) that the method is about: the covariance whitening undoes,
// how correlated the channels are, and how ill-conditioned the covariance is. The analysis reports them
// on the test set; the trainer records them on training batches (train.recordCovarianceEvery).
import * as torch from '../torch/index.js';

type Tensor = torch.Tensor;

/** The biased covariance of the rows of x (N x d). */
export function covariance(features: Tensor): Tensor {
  return torch.scope(() => {
    const centred = features.sub(features.mean({ dim: 0, keepdim: true }));
    return centred.t().mm(centred).div(features.shape[0]!);
  });
}

/** Pearson correlations between channels (d x d); a channel with no variance correlates 0 with the rest. */
export function correlationMatrix(features: Tensor): Tensor {
  return torch.scope(() => {
    const cov = covariance(features);
    const std = cov.diagonal().clamp(0).sqrt();
    const safe = torch.where(std.gt(0), std, 1);
    const correlation = cov.div(safe.outer(safe));
    const live = std.gt(0).to('float64');
    return correlation.mul(live.outer(live));
  });
}

/** Mean |correlation| over distinct pairs of channels: 0 for decorrelated features, 1 for collapsed ones. */
export function meanAbsOffDiagonal(correlation: Tensor): number {
  return torch.scope(() => {
    const d = correlation.shape[0]!;
    if (d < 2) return 0;
    const total = correlation.abs().sum().item() - correlation.diagonal().abs().sum().item();
    return total / (d * (d - 1));
  });
}

/** Largest over smallest eigenvalue of a symmetric positive semi-definite matrix (Infinity when singular). */
export function conditionNumber(symmetric: Tensor): number {
  return torch.scope(() => {
    const eigenvalues = torch.linalg.eigvalsh(symmetric).toArray();
    const largest = eigenvalues[eigenvalues.length - 1]!;
    const smallest = eigenvalues[0]!;
    return smallest <= largest * 1e-15 ? Infinity : largest / smallest;
  });
}
