// A data-parallel training step's policy (the mechanics, broadcast / reduce / gather, are nn/DataParallel's): each
// rank's share of the global batch, the loss every rank back-propagates, and how the gradients are reduced after,
// so that the run follows the one-process run with the same global batch (docs/architecture.md).
import { shardRange } from '../data/index.js';
import type { DataParallel } from '../nn/index.js';
import type * as torch from '../torch/index.js';

type Tensor = torch.Tensor;

/** How many items of a global batch of `globalSize` each rank holds (the loader's shardRange, the one split). */
export function rowsPerRank(globalSize: number, worldSize: number): number[] {
  return Array.from({ length: worldSize }, (_, rank) => {
    const { start, end } = shardRange(globalSize, rank, worldSize);
    return end - start;
  });
}

/**
 * The loss to back-propagate for this rank's share of a global batch, and the global batch's mean loss
 * (the same number on every rank, so that a NaN guard stops every rank at the same step).
 *
 * Per-rank (syncHead false): the model runs on this rank's images and its mean loss is weighted by the
 * rank's share of the batch, so that the average of the ranks' gradients (reduceStepGradients) is the
 * gradient of the global batch's mean loss, also when shares differ by one.
 * Synchronised head (syncHead true): the pooled features of all ranks are gathered and every rank runs
 * the head (neck, classifier) and the loss on the whole global batch, as one process would: batch
 * statistics in the head (whitening's covariance) are the global batch's.
 */
export function stepLoss(
  parallel: DataParallel,
  step: {
    images: Tensor;
    labels: Tensor;
    rowsPerRank: readonly number[];
    syncHead: boolean;
    features: (images: Tensor) => Tensor;
    head: (features: Tensor) => Tensor;
    loss: (logits: Tensor, labels: Tensor) => Tensor;
  },
): { loss: Tensor; mean: number } {
  const { images, labels, rowsPerRank } = step;
  if (step.syncHead) {
    const loss = step.loss(step.head(parallel.gather(step.features(images), rowsPerRank)), parallel.gather(labels, rowsPerRank));
    return { loss, mean: loss.item() };
  }
  const globalSize = rowsPerRank.reduce((sum, rows) => sum + rows, 0);
  const loss = step.loss(step.head(step.features(images)), labels).mul((rowsPerRank[parallel.rank]! * parallel.worldSize) / globalSize);
  const mean = loss.detach().clone();
  parallel.group.allReduce(mean, 'avg');
  return { loss, mean: mean.item() };
}

/**
 * After stepLoss's backward pass: the gradients of the global batch's mean loss on every rank. Per-rank
 * losses: the ranks' gradients averaged. Synchronised head: every rank computed the same global loss,
 * so its head gradients already are the global ones (averaged only to stay identical), while a rank's
 * other gradients are its images' part of the global one: those are summed.
 */
export function reduceStepGradients(
  parallel: DataParallel,
  parameters: readonly Tensor[],
  headParameters: readonly Tensor[],
  syncHead: boolean,
): void {
  if (!syncHead) {
    parallel.reduceGradients(parameters, 'avg');
    return;
  }
  const head = new Set(headParameters);
  parallel.reduceGradients(
    parameters.filter((parameter) => !head.has(parameter)),
    'sum',
  );
  parallel.reduceGradients(headParameters, 'avg');
}
