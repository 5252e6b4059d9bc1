// The feature diagnostics of many runs as one markdown table, read from each run's analysis.json (written by
// `scatter analyze --run DIR`): of the classifier's input (the neck's output, or the pooled features where
// there is no neck), or with --before-neck of the pooled features. Columns: the checkpoint analysed, test
// top-1, mean |correlation|, effective rank, Gaussian entropy, covariance condition, the linear classifier's
// Hessian condition and its class gradients' coupling (those two always of the classifier's own input).
// Usage: node dist/bench/diagnostics-table.js [--before-neck] RUN_DIR...
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { ANALYSIS_FILE, parseAnalysisJson } from '../src/analysis/analyze.js';

const { values: flags, positionals: runs } = parseArgs({
  options: { 'before-neck': { type: 'boolean', default: false } },
  allowPositionals: true,
});
if (runs.length === 0) throw new Error('usage: diagnostics-table.js [--before-neck] RUN_DIR...');

const format = (value: number | null, digits: number): string => {
  if (value === null) return '-';
  if (!Number.isFinite(value)) return value > 0 ? 'infinite' : '-infinite';
  return Math.abs(value) >= 1000 ? Math.round(value).toLocaleString('en-US') : value.toFixed(digits);
};

const lines = [
  '| run | checkpoint | top-1 | features | mean abs correlation | effective rank | Gaussian entropy | covariance condition | Hessian condition | gradient coupling |',
  '|---|---|---|---|---|---|---|---|---|---|',
];
for (const root of runs) {
  const file = path.join(root, ANALYSIS_FILE);
  if (!existsSync(file)) throw new Error(`${root} has no ${ANALYSIS_FILE}: run scatter analyze --run ${root} first`);
  const analysis = parseAnalysisJson(readFileSync(file, 'utf8'));
  const { beforeNeck, afterNeck } = analysis.features;
  const [which, features] = flags['before-neck'] || afterNeck === null ? ['pooled', beforeNeck] : ['after the neck', afterNeck];
  const { hessianCondition, gradientCoupling } = analysis.classifier;
  lines.push(
    `| ${path.basename(root)} | ${path.basename(analysis.checkpoint, '.safetensors')} | ${(analysis.top1 * 100).toFixed(2)} | ${which} | ` +
      `${format(features.meanAbsCorrelation, 3)} | ${format(features.effectiveRank, 1)} | ${format(features.gaussianEntropy, 1)} | ` +
      `${format(features.covarianceCondition, 1)} | ${format(hessianCondition, 0)} | ${format(gradientCoupling, 2)} |`,
  );
}
console.log(lines.join('\n'));
