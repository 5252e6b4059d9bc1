// Post-hoc logit adjustment of trained runs (Menon et al.): each run's test logits are computed once from its
// best checkpoint, then ranked as logits - tau x log(class prior) for several tau; top-1 and many / medium / few
// for each tau, and where the predictions go (the share of test images predicted as a many / medium / few class;
// the balanced test split holds each group's share of classes). tau 0 is the run as evaluated (a run whose loss
// adjusts at evaluation already, post-hoc CE, is read raw here too). LDAM's logits are cosines that its loss
// scales by s (30) before the softmax: they are adjusted in the softmax's units, s x cosine. With --records DIR, writes
// DIR/<run name>/posthoc-adjustment.json (a run's compact record keeps it); --table reads those back.
// Usage: node dist/bench/posthoc-adjustment.js [--taus 0,0.25,0.5,0.75,1] [--records DIR] [--summary] RUN_DIR...
//        node dist/bench/posthoc-adjustment.js --table [--summary] RECORD_DIR...
// (--summary: a line a run: as evaluated, the best tau of the grid, tau 1. The best tau is chosen on the test split
// itself, so its top-1 is an upper bound of what post-hoc adjustment gives, not a result.)
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { collectOverBatches, evaluateOnRun, loadTrainedRun } from '../src/analysis/trained-run.js';
import { logPrior } from '../src/longtail/losses.js';
import * as torch from '../src/torch/index.js';
import { lossConfig } from '../src/train/config.js';
import { testLoader } from '../src/train/setup.js';
import { writeFileAtomic } from '../src/util/files.js';

const FILE = 'posthoc-adjustment.json';

interface TauRow {
  tau: number;
  top1: number;
  many: number | null;
  medium: number | null;
  few: number | null;
  /** Share of the test images predicted as a class of each group. */
  predictedShare: { many: number; medium: number; few: number };
}

interface Adjusted {
  run: string;
  checkpoint: string;
  /** What the logits were multiplied by before the adjustment (LDAM's s; else 1). */
  logitScale: number;
  classesPerGroup: { many: number; medium: number; few: number };
  rows: TauRow[];
}

const { values: flags, positionals: runs } = parseArgs({
  options: {
    taus: { type: 'string', default: '0,0.25,0.5,0.75,1' },
    records: { type: 'string' },
    table: { type: 'boolean', default: false },
    summary: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
if (runs.length === 0) throw new Error('usage: posthoc-adjustment.js [--taus LIST] [--records DIR] RUN_DIR... | --table RECORD_DIR...');

async function adjust(runDirectory: string, taus: number[]): Promise<Adjusted> {
  const run = loadTrainedRun(runDirectory, 'best');
  const { manyThreshold, fewThreshold } = run.config.data;
  const groupOf = run.data.classCounts.map((count) => (count > manyThreshold ? 'many' : count < fewThreshold ? 'few' : 'medium'));
  const [logits, labels] = await collectOverBatches(testLoader(run.config, run.data), (images, batchLabels) => [
    run.inference.logits(run.inference.embedding(run.inference.features(run.inference.input(images)))),
    batchLabels,
  ]);
  const loss = lossConfig(run.config);
  const scale = loss.name === 'ldam' ? (loss.ldamScale ?? 30) : 1;
  const prior = torch.tensor(logPrior(run.data.classCounts), { dtype: 'float32' });
  const labelList = labels.toArray();
  const rows = taus.map((tau) => {
    const predictions = torch.noGrad(() => logits.mul(scale).sub(prior.mul(tau)).argmax(1)).toArray();
    const evaluation = evaluateOnRun(run, predictions, labelList);
    const predictedShare = { many: 0, medium: 0, few: 0 };
    for (const predicted of predictions) predictedShare[groupOf[predicted]! as keyof typeof predictedShare] += 1 / predictions.length;
    return { tau, top1: evaluation.top1, many: evaluation.many, medium: evaluation.medium, few: evaluation.few, predictedShare };
  });
  const classesPerGroup = { many: 0, medium: 0, few: 0 };
  for (const group of groupOf) classesPerGroup[group as keyof typeof classesPerGroup]++;
  return {
    run: path.basename(runDirectory),
    checkpoint: path.relative(runDirectory, run.checkpoint),
    logitScale: scale,
    classesPerGroup,
    rows,
  };
}

const percent = (value: number | null): string => (value === null ? '-' : (100 * value).toFixed(2));

function shares(row: TauRow): string {
  const { many, medium, few } = row.predictedShare;
  return `${(100 * many).toFixed(1)} / ${(100 * medium).toFixed(1)} / ${(100 * few).toFixed(1)}`;
}

/** Every tau of every run, or (summary) a line a run: as evaluated, the grid's best tau, and tau 1. */
function table(results: Adjusted[], summary: boolean): string {
  if (!summary) {
    const lines = ['| run | tau | top-1 | many | medium | few | predicted as many / medium / few (%) |', '|---|---|---|---|---|---|---|'];
    for (const { run, rows } of results) {
      for (const row of rows) {
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
  for (const { run, rows } of results) {
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

if (flags.table) {
  const results = runs.map((dir) => {
    const file = path.join(dir, FILE);
    if (!existsSync(file)) throw new Error(`${file} is missing: run posthoc-adjustment.js --records on the run first`);
    return JSON.parse(readFileSync(file, 'utf8')) as Adjusted;
  });
  console.log(table(results, flags.summary));
} else {
  const taus = flags.taus.split(',').map(Number);
  if (taus.some((tau) => !Number.isFinite(tau))) throw new Error(`--taus must be numbers, got ${flags.taus}`);
  const results: Adjusted[] = [];
  for (const dir of runs) {
    const result = await adjust(dir, taus);
    results.push(result);
    if (flags.records) writeFileAtomic(path.join(flags.records, result.run, FILE), `${JSON.stringify(result, null, 1)}\n`);
  }
  console.log(table(results, flags.summary));
}
