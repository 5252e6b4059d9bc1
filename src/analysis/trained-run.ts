// A finished (or stopped) run's model, loaded for analysis, and whole-split passes over it that keep only
// what a computation returns.
import { type Loader, batchTensors } from '../data/index.js';
import { createLoss } from '../longtail/losses.js';
import type { ImageClassifier } from '../models/index.js';
import * as torch from '../torch/index.js';
import { chooseCheckpoint, withModelState } from '../train/checkpoint.js';
import { type Config, lossConfig } from '../train/config.js';
import { InferencePass } from '../train/inference.js';
import { type Evaluation, evaluate } from '../train/evaluation.js';
import { RunDir } from '../train/run-dir.js';
import { type RunData, buildModel, loadRunData, modelShape } from '../train/setup.js';

type Tensor = torch.Tensor;

export interface TrainedRun {
  dir: RunDir;
  config: Config;
  data: RunData;
  /** In evaluation mode, with the checkpoint's weights and buffers. */
  model: ImageClassifier;
  /** The checkpoint file loaded. */
  checkpoint: string;
  /** The trainer's inference pass over the model (device, autocast, evaluation adjustment): train/inference.ts. */
  inference: InferencePass;
}

/** A run's model from its best (or last) checkpoint: the one asked for (checkpoint.ts chooseCheckpoint), or an error. */
export function loadTrainedRun(runDirectory: string, which: 'best' | 'last' = 'best'): TrainedRun {
  const dir = RunDir.open(runDirectory);
  const config = dir.config();
  const checkpoint = chooseCheckpoint(dir, which).file;
  const data = loadRunData(config);
  const model = buildModel(config, modelShape(data));
  withModelState(checkpoint, (state) => model.loadStateDict(state, { strict: true }));
  model.eval();
  const { precision, channelsLast } = config.train;
  // The CPU, whatever device trained the run: analysis reads what the checkpoint holds.
  const adjustForEval = createLoss(lossConfig(config), data.classCounts).adjustForEval;
  const inference = new InferencePass(model, { device: 'cpu', precision, channelsLast, adjustForEval });
  return { dir, config, data, model, checkpoint, inference };
}

/** Top-1, many / medium / few and per class of predictions on the run's test labels, with the run's thresholds. */
export function evaluateOnRun(
  run: Pick<TrainedRun, 'config' | 'data'>,
  predictions: ArrayLike<number>,
  labels: ArrayLike<number>,
): Evaluation {
  const { manyThreshold: many, fewThreshold: few } = run.config.data;
  return evaluate(predictions, labels, run.data.classCounts, { many, few });
}

/**
 * compute(images, labels) on every batch the loader yields, without gradients; each of its outputs is
 * concatenated over the batches, in the loader's order. The loader is closed afterwards.
 */
export async function collectOverBatches<const Outputs extends readonly Tensor[]>(
  loader: Loader,
  compute: (images: Tensor, labels: Tensor) => Outputs,
): Promise<Outputs> {
  const chunks: (readonly Tensor[])[] = [];
  try {
    for await (const batch of loader.epoch(0)) {
      const outputs = torch.noGrad(() =>
        torch.scope(() => {
          const { images, labels } = batchTensors(batch);
          loader.recycle(batch);
          return compute(images, labels);
        }),
      );
      chunks.push(outputs.map((output) => torch.keep(output)));
    }
  } finally {
    await loader.close();
  }
  if (chunks.length === 0) throw new Error('collectOverBatches: the loader yielded no batch');
  return chunks[0]!.map((_, index) => {
    const parts = chunks.map((outputs) => outputs[index]!);
    const all = torch.cat(parts, 0);
    for (const part of parts) part.dispose();
    return all;
  }) as unknown as Outputs;
}
