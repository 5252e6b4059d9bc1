// The steadiness of the training batches' covariance, per run and sampler, read from each run's
// batch-covariance.jsonl alone (no model, no test split): what `scatter analyze --run DIR` reports in its
// `batchCovariance` entries, for many runs at once. Columns: records, the trace's coefficient of variation
// over the run, its batch-to-batch noise, the median condition number and batch size (the condition number
// depends on it: compare runs of one batch size), the mean |correlation|.
// Usage: node dist/bench/batch-covariance-table.js RUN_DIR...
import { existsSync } from 'node:fs';
import path from 'node:path';
import { summarizeRunBatchCovariance } from '../src/analysis/analyze.js';
import { RunDir } from '../src/train/run-dir.js';

const runs = process.argv.slice(2);
if (runs.length === 0) throw new Error('usage: batch-covariance-table.js RUN_DIR...');

const lines = [
  '| run | sampler | records | variation | batch noise | median condition | items | mean abs correlation |',
  '|---|---|---|---|---|---|---|---|',
];
for (const root of runs) {
  if (!existsSync(root)) throw new Error(`no run directory ${root}`);
  const summaries = summarizeRunBatchCovariance(new RunDir(root));
  if (summaries === null) {
    lines.push(`| ${path.basename(root)} | no batch-covariance.jsonl (train.recordCovarianceEvery was off) | | | | | | |`);
    continue;
  }
  for (const { sampler, batches, traceVariation, traceBatchNoise, medianCondition, medianBatchSize, meanAbsCorrelation } of summaries) {
    const condition = medianCondition === null ? 'singular' : Math.round(medianCondition).toLocaleString('en-US');
    lines.push(
      `| ${path.basename(root)} | ${sampler} | ${batches} | ${traceVariation.toFixed(2)} | ${traceBatchNoise.toFixed(3)} | ` +
        `${condition} | ${medianBatchSize ?? 'not recorded'} | ${meanAbsCorrelation.toFixed(3)} |`,
    );
  }
}
console.log(lines.join('\n'));
