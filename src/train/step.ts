// A training step's policy (the mechanics, broadcast / reduce / gather, are nn/DataParallel's): each rank's share
// of the global batch, the loss every rank back-propagates, how the gradients are reduced after, so that the run
// follows the one-process run with the same global batch (docs/architecture.md), and the optimizer step around
// the passes (SAM's two).
import { shardRange } from '../data/index.js';
import type { AnyModule, DataParallel } from '../nn/index.js';
import { type CapturableOptimizer, type Optimizer, SAM } from '../optim/index.js';
import * as torch from '../torch/index.js';

type Tensor = torch.Tensor;

/** How many items of a global batch of `globalSize` each rank holds (the loader's shardRange, the one split). */
export function rowsPerRank(globalSize: number, worldSize: number): number[] {
  return Array.from({ length: worldSize }, (_, rank) => {
    const { start, end } = shardRange(globalSize, rank, worldSize);
    return end - start;
  });
}

/**
 * The loss to back-propagate for this rank's share of a global batch, and the global batch's mean loss as a
 * detached 0-dim tensor (the same number on every rank, so that a NaN guard stops every rank at the same step; read
 * by the caller, so that nothing here waits for the device).
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
): { loss: Tensor; mean: Tensor } {
  const { images, labels, rowsPerRank } = step;
  if (step.syncHead) {
    const loss = step.loss(step.head(parallel.gather(step.features(images), rowsPerRank)), parallel.gather(labels, rowsPerRank));
    return { loss, mean: loss.detach() };
  }
  const globalSize = rowsPerRank.reduce((sum, rows) => sum + rows, 0);
  const loss = step.loss(step.head(step.features(images)), labels).mul((rowsPerRank[parallel.rank]! * parallel.worldSize) / globalSize);
  const mean = loss.detach().clone();
  parallel.group.allReduce(mean, 'avg');
  return { loss, mean };
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

/**
 * One optimizer step on a batch. `pass` runs a forward and backward pass at the current parameters (with the
 * gradients reduced across ranks, so that every rank moves identically) and returns the global batch's mean
 * loss. SAM takes two passes: at w, then at its perturbed w + e, with the model's buffers (batch-norm and
 * whitening running statistics) put back after the second, so that they follow the first pass only, as one
 * step of another optimizer would (running them twice would count the batch twice in the momentum average).
 * Returns the first pass's loss; a non-finite loss (of either pass) is returned without a step, for the NaN
 * guard, which ends the run.
 */
export function optimizerStep(optimizer: Optimizer, model: AnyModule, pass: (second: boolean) => number): number {
  return guardedLoss(stepPasses(optimizer, model, pass, Number.isFinite, () => optimizer.step()));
}

/**
 * optimizerStep as a CUDA graph records it (train.capture, capture.ts): the passes return their losses as tensors,
 * nothing is read on the host, so the update always runs (guardedLoss on the replayed losses then ends the run as
 * the eager guard would; the model it leaves is never saved), and the optimizer steps from the tensors its
 * prepareStep() writes. Returns the passes' losses: one, or SAM's two.
 */
export function capturableOptimizerStep(optimizer: CapturableOptimizer, model: AnyModule, pass: (second: boolean) => Tensor): Tensor[] {
  return stepPasses(
    optimizer,
    model,
    pass,
    () => true,
    () => optimizer.stepFromTensors(),
  );
}

/** The loss a step reports: the first pass's, or the first non-finite one (which ends the run). */
export function guardedLoss(losses: readonly number[]): number {
  return losses.find((loss) => !Number.isFinite(loss)) ?? losses[0]!;
}

/** The passes of one step and the update between and after them; stops, without updating, after a loss `finite` refuses. */
function stepPasses<L>(
  optimizer: Optimizer,
  model: AnyModule,
  pass: (second: boolean) => L,
  finite: (loss: L) => boolean,
  update: () => void,
): L[] {
  const losses = [pass(false)];
  if (!finite(losses[0]!)) return losses;
  if (optimizer instanceof SAM) {
    optimizer.firstStep();
    losses.push(keepingBuffers(model, () => pass(true)));
    if (!finite(losses[1]!)) return losses;
  }
  update();
  optimizer.zeroGrad();
  return losses;
}

/** `run`'s result, with every buffer of `model` as it was before. */
function keepingBuffers<T>(model: AnyModule, run: () => T): T {
  const saved = torch.noGrad(() => [...model.namedBuffers().values()].map((buffer) => [buffer, torch.keep(buffer.clone())] as const));
  try {
    return run();
  } finally {
    torch.noGrad(() => {
      for (const [buffer, value] of saved) {
        buffer.copy_(value);
        value.dispose();
      }
    });
  }
}
