// Diagnostic: how much of a run's test accuracy is a matter of its decision offset between classes. Its test
// logits (as the trainer scores them, post-hoc adjustment included) are shifted by -t log(prior) for t in a
// grid; t is chosen by mean per-class accuracy on one half of the test split (even items) and scored on the
// other half (odd items), then the other way round. Printed per run: the unshifted score and, for each half,
// the chosen t with its held-out score (an honest estimate: no item scores the t it chose), and the mean of the
// two held-out top-1s. One JSON line each.
// Usage: node dist/bench/decision-offset.js RUN_DIR... [--checkpoint last|best] [--grid -1:1.5:0.1]
import { parseArgs } from 'node:util';

import { collectOverBatches, evaluateOnRun, loadTrainedRun } from '../src/analysis/trained-run.js';
import { logPrior, meanPerClassAccuracy } from '../src/longtail/index.js';
import { torch } from '../src/index.js';
import { testLoader } from '../src/train/setup.js';

const { values: flags, positionals: runs } = parseArgs({
  options: { checkpoint: { type: 'string', default: 'last' }, grid: { type: 'string', default: '-1:1.5:0.1' } },
  allowPositionals: true,
});
if (runs.length === 0) throw new Error('usage: decision-offset.js RUN_DIR... [--checkpoint last|best] [--grid FROM:TO:STEP]');
const [from, to, step] = flags.grid!.split(':').map(Number) as [number, number, number];
if (![from, to, step].every(Number.isFinite) || !(step > 0) || to < from)
  throw new Error(`--grid: expected FROM:TO:STEP with STEP > 0, got ${flags.grid}`);
const grid = Array.from({ length: Math.round((to - from) / step) + 1 }, (_, i) => Number((from + i * step).toFixed(6)));

for (const run of runs) {
  const trained = loadTrainedRun(run, flags.checkpoint as 'best' | 'last');
  const { config, data, checkpoint, inference } = trained;
  const [logits, labelTensor] = await collectOverBatches(testLoader(config, data), (images, labels) => {
    const raw = inference.forward(inference.input(images)).logits;
    return [(inference.options.adjustForEval?.(raw) ?? raw).double(), labels];
  });
  const labels = labelTensor.toArray();
  const prior = torch.tensor(logPrior(data.classCounts), { dtype: 'float64' });
  const predictionsAt = (t: number): number[] => torch.scope(() => logits.sub(prior.mul(t)).argmax(1).toArray());
  const byT = new Map(grid.map((t) => [t, predictionsAt(t)]));
  const halves = [0, 1].map((parity) => labels.map((_, i) => i).filter((i) => i % 2 === parity));
  const pick = <T>(values: readonly T[], items: readonly number[]): T[] => items.map((i) => values[i]!);
  const score = (predictions: readonly number[], items: readonly number[]) => {
    const { top1, many, medium, few } = evaluateOnRun(trained, pick(predictions, items), pick(labels, items));
    return { top1, many, medium, few };
  };
  const unshifted = predictionsAt(0);
  const crossFitted = halves.map((chooseOn, half) => {
    const accuracies = grid.map((t) => meanPerClassAccuracy(pick(byT.get(t)!, chooseOn), pick(labels, chooseOn)));
    const chosen = grid[accuracies.indexOf(Math.max(...accuracies))]!;
    const scoreOn = halves[1 - half]!;
    return { t: chosen, heldOut: score(byT.get(chosen)!, scoreOn), unshifted: score(unshifted, scoreOn) };
  });
  const all = labels.map((_, i) => i);
  const crossFittedTop1 = (crossFitted[0]!.heldOut.top1 + crossFitted[1]!.heldOut.top1) / 2;
  console.log(JSON.stringify({ run, checkpoint, unshifted: score(unshifted, all), crossFittedTop1, crossFitted }));
}
