// Where runs' predictions go, and post-hoc logit adjustment over a grid of tau, as one markdown table, read from each
// run's analysis.json (`scatter analyze --run DIR` computes it: src/analysis/posthoc.ts). --summary: a line a run
// (as evaluated, the grid's best tau, tau 1). The best tau is chosen on the test split itself, so its top-1 is an
// upper bound of what post-hoc adjustment could add, not a result.
// Usage: node dist/bench/posthoc-adjustment.js [--summary] RUN_DIR...
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { ANALYSIS_FILE, parseAnalysisJson } from '../src/analysis/analyze.js';
import type { PosthocAdjustment, PosthocRow } from '../src/analysis/posthoc.js';

const { values: flags, positionals: runs } = parseArgs({
  options: { summary: { type: 'boolean', default: false } },
  allowPositionals: true,
});
if (runs.length === 0) throw new Error('usage: posthoc-adjustment.js [--summary] RUN_DIR...');

const percent = (value: number | null): string => (value === null ? '-' : (100 * value).toFixed(2));

function shares(row: PosthocRow): string {
  const { many, medium, few } = row.predictedShare;
  return `${(100 * many).toFixed(1)} / ${(100 * medium).toFixed(1)} / ${(100 * few).toFixed(1)}`;
}

/** Every tau of every run, or (summary) a line a run: as evaluated, the grid's best tau, and tau 1. */
function table(results: { run: string; posthoc: PosthocAdjustment }[], summary: boolean): string {
  if (!summary) {
    const lines = ['| run | tau | top-1 | many | medium | few | predicted as many / medium / few (%) |', '|---|---|---|---|---|---|---|'];
    for (const { run, posthoc } of results) {
      for (const row of posthoc.rows) {
        lines.push(
          `| ${run} | ${row.tau} | ${percent(row.top1)} | ${percent(row.many)} | ${percent(row.medium)} | ${percent(row.few)} | ${shares(row)} |`,
        );
      }
    }
    return lines.join('\n');
  }
  const lines = [
    '| run | top-1 as evaluated (tau 0) | its few | predicted as many / medium / few (%) | best tau on the grid | its top-1 | its few | top-1 at tau 1 |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const { run, posthoc } of results) {
    const { rows } = posthoc;
    const asIs = rows.find((row) => row.tau === 0);
    const best = rows.reduce((a, b) => (b.top1 > a.top1 ? b : a));
    const one = rows.find((row) => row.tau === 1);
    lines.push(
      `| ${run} | ${asIs ? percent(asIs.top1) : '-'} | ${asIs ? percent(asIs.few) : '-'} | ${asIs ? shares(asIs) : '-'} | ${best.tau} | ` +
        `${percent(best.top1)} | ${percent(best.few)} | ${one ? percent(one.top1) : '-'} |`,
    );
  }
  return lines.join('\n');
}

const results = runs.map((dir) => {
  const file = path.join(dir, ANALYSIS_FILE);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`scatter analyze --run ${dir}\` first`);
  const { posthoc } = parseAnalysisJson(readFileSync(file, 'utf8'));
  if (posthoc === undefined) throw new Error(`${file} has no post-hoc entry (written before it existed): analyse the run again`);
  return { run: path.basename(dir), posthoc };
});
console.log(table(results, flags.summary));
