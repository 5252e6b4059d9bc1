// `scatter predict`: the classes of new images from a trained run, in batches, as a table, JSON lines or CSV.
// An image that cannot be read is named on stderr and skipped (counted at the end), or with --strict stops the
// command.
import { type Classifier, type Prediction, expandInputs, loadClassifier } from '../predict/index.js';
import type * as torch from '../torch/index.js';
import { Progress } from '../train/progress.js';

export type PredictFormat = 'table' | 'jsonl' | 'csv';
export const PREDICT_FORMATS: readonly PredictFormat[] = ['table', 'jsonl', 'csv'];

export interface PredictOptions {
  run: string;
  inputs: readonly string[];
  checkpoint: 'best' | 'last';
  topK: number;
  format: PredictFormat;
  batchSize: number;
  strict: boolean;
  device: torch.Device;
}

/** A CSV field, quoted where it must be (RFC 4180). */
function csvField(value: string | number): string {
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Lines of output for one batch's predictions (and the header before the first, for table and CSV). */
function formatted(
  format: PredictFormat,
  files: readonly string[],
  predictions: readonly Prediction[],
  first: boolean,
  topK: number,
): string[] {
  switch (format) {
    case 'jsonl':
      return files.map((file, i) => JSON.stringify({ input: file, top: predictions[i]!.top }));
    case 'csv':
      return [
        ...(first ? ['input,rank,label,name,probability'] : []),
        ...files.flatMap((file, i) =>
          predictions[i]!.top.map((score, rank) =>
            [csvField(file), rank + 1, score.label, csvField(score.name), score.probability.toFixed(6)].join(','),
          ),
        ),
      ];
    case 'table':
      return [
        ...(first ? [['input', ...Array.from({ length: topK }, (_, k) => `top ${k + 1}`)].join('\t')] : []),
        ...files.map((file, i) =>
          [file, ...predictions[i]!.top.map((score) => `${score.name} (${score.probability.toFixed(3)})`)].join('\t'),
        ),
      ];
  }
}

/** Runs the command; resolves to the number of images that could not be read (skipped). */
export async function predictCommand(options: PredictOptions, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const files = expandInputs(options.inputs);
  if (files.length === 0) throw new Error('predict: the inputs name no image');
  const classifier: Classifier = await loadClassifier(options.run, { checkpoint: options.checkpoint, device: options.device });
  process.stderr.write(
    `scatter: predicting ${files.length} image${files.length === 1 ? '' : 's'} with ${classifier.checkpoint.file} ` +
      `(epoch ${classifier.checkpoint.epoch}), ${classifier.classNames.length} classes\n`,
  );
  const batches = Math.ceil(files.length / options.batchSize);
  const progress = batches > 1 ? new Progress('predict', batches, options.batchSize) : null;
  let skipped = 0;
  try {
    for (let b = 0; b < batches; b++) {
      const batch = files.slice(b * options.batchSize, (b + 1) * options.batchSize);
      // Each image prepared on its own, so that one bad file costs only itself; --strict names the first in order.
      const settled = await Promise.allSettled(batch.map((file) => classifier.prepare(file)));
      const prepared = settled.map((result) => (result.status === 'fulfilled' ? result.value : null));
      const failures = settled.flatMap((result) => (result.status === 'rejected' ? [(result.reason as Error).message] : []));
      if (options.strict && failures.length > 0) {
        for (const tensor of prepared) tensor?.dispose();
        throw new Error(`${failures[0]} (--strict stops at the first unreadable image)`);
      }
      for (const failure of failures) process.stderr.write(`scatter: skipped ${failure}\n`);
      const good = batch.filter((_, i) => prepared[i] !== null);
      const tensors = prepared.filter((tensor): tensor is torch.Tensor => tensor !== null);
      skipped += batch.length - good.length;
      try {
        const predictions = await classifier.predict(tensors, { topK: options.topK });
        const lines = formatted(options.format, good, predictions, b === 0, Math.min(options.topK, classifier.classNames.length));
        if (lines.length > 0) out.write(`${lines.join('\n')}\n`);
      } finally {
        for (const tensor of tensors) tensor.dispose();
      }
      progress?.update(b + 1);
    }
  } finally {
    classifier.dispose();
  }
  if (skipped > 0) process.stderr.write(`scatter: ${skipped} of ${files.length} images could not be read and were skipped\n`);
  return skipped;
}
