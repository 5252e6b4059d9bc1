// train.recordCovarianceEvery: the covariance of a training batch's pooled features (this rank's share), the
// statistic whitening depends on, recorded per sampler: its trace, condition number (null when singular) and mean
// |correlation|. The trainer passes the features of the steps it records; batch-covariance.jsonl holds the records.
import { type BatchSampler, BatchEmbeddedSampler } from '../data/index.js';
import { conditionNumber, correlationMatrix, covariance, meanAbsOffDiagonal } from '../longtail/feature-statistics.js';
import * as torch from '../torch/index.js';

/** Which sampler drew batch `batch` of `epoch`: interleaved BET alternates instance and B3RS batches. */
export function samplerOf(batchSampler: BatchSampler, configured: string, epoch: number, batch: number): string {
  if (!(batchSampler instanceof BatchEmbeddedSampler) || batchSampler.period === 1) return configured;
  return batchSampler.embeddedBatches(epoch).includes(batch) ? 'bet: b3rs batch' : 'bet: instance batch';
}

/** The record of one training step's features (epoch 0-based, as the trainer counts; recorded 1-based). */
export function batchCovarianceRecord(
  features: torch.Tensor,
  at: { epoch: number; step: number },
  sampler: string,
): Record<string, unknown> {
  return torch.noGrad(() =>
    torch.scope(() => {
      const x = features.detach().to('float64');
      const cov = covariance(x);
      const condition = conditionNumber(cov);
      return {
        epoch: at.epoch + 1,
        step: at.step,
        sampler,
        batchSize: x.shape[0]!,
        trace: cov.diagonal().sum().item(),
        condition: Number.isFinite(condition) ? condition : null,
        meanAbsCorrelation: meanAbsOffDiagonal(correlationMatrix(x)),
      };
    }),
  );
}
