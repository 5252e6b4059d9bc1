// Diagnostic: how much a whitened run's test accuracy owes to the running statistics its neck ended training
// with. Each run's checkpoint is scored on the test split twice: with the running mean and whitening matrix
// (what `scatter eval` uses), and with the population statistics of the pooled features of every training
// image, evaluation transforms, backbone in evaluation mode (ChannelWhitening.setPopulationStatistics,
// PreciseBN's idea). Predictions as the trainer makes them (post-hoc adjustment included), the whole split
// through neck and classifier at once. One JSON line per run.
// Usage: node dist/bench/neck-statistics.js RUN_DIR... [--checkpoint last|best]
import { parseArgs } from 'node:util';

import { collectOverBatches, evaluateOnRun, loadTrainedRun } from '../src/analysis/trained-run.js';
import { ChannelWhitening } from '../src/longtail/index.js';
import { torch } from '../src/index.js';
import { evalLoader, testLoader } from '../src/train/setup.js';

const { values: flags, positionals: runs } = parseArgs({
  options: { checkpoint: { type: 'string', default: 'last' } },
  allowPositionals: true,
});
if (runs.length === 0) throw new Error('usage: neck-statistics.js RUN_DIR... [--checkpoint last|best]');

for (const run of runs) {
  const trained = loadTrainedRun(run, flags.checkpoint as 'best' | 'last');
  const { config, data, model, checkpoint, inference } = trained;
  const neck = model.neck;
  if (!(neck instanceof ChannelWhitening)) throw new Error(`${run}: its neck is not channel whitening (model.neck ${config.model.neck})`);
  const features = (images: torch.Tensor): [torch.Tensor] => [inference.features(inference.input(images))];
  const [trainFeatures] = await collectOverBatches(evalLoader(config, data, data.train), features);
  const [testFeatures, labels] = await collectOverBatches(testLoader(config, data), (images, batchLabels) => [
    ...features(images),
    batchLabels,
  ]);
  const testLabels = labels.toArray();
  const score = (): Record<string, number | null> =>
    torch.noGrad(() =>
      torch.scope(() => {
        const predictions = inference.predictions(inference.logits(inference.embedding(testFeatures)));
        const { top1, many, medium, few } = evaluateOnRun(trained, predictions.toArray(), testLabels);
        return { top1, many, medium, few };
      }),
    );
  const running = score();
  neck.setPopulationStatistics(trainFeatures.double());
  const population = score();
  console.log(JSON.stringify({ run, checkpoint, trainImages: trainFeatures.shape[0], running, population }));
}
