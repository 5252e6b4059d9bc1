// `scatter demo [--quick]` (npm run demo): Fashion-MNIST-LT (IR 100, Debian's dataset-fashion-mnist) trained
// with cross-entropy, with the logit-adjusted loss alone and with the full method (whitening + logit
// adjustment + B3RS + BET) on a schedule of a few minutes on 2 cores (--quick: about 2 minutes), then the
// comparison table, each run's feature diagnostics (analysis.json) and the HTML report of the three. The
// loss-alone run is there so that the full method's gain over cross-entropy is not read as whitening's.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { analyzeRun } from '../analysis/analyze.js';
import { writeReport } from '../report/report.js';
import { loadConfig } from '../train/config.js';
import { train } from '../train/commands.js';
import type { Summary } from '../train/run-dir.js';

const CONFIGS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'configs', 'fashion-mnist-lt-ir100');

const METHODS = [
  { name: 'cross-entropy', config: 'ce.yaml' },
  { name: 'logit adjustment alone', config: 'la.yaml' },
  { name: 'whitening + LA + B3RS + BET', config: 'whiten-la-b3rs-bet.yaml' },
] as const;

/** The demo's schedule: short, with the recipe's shape (warm-up, then two decays near the end). */
function schedule(quick: boolean): string[] {
  const epochs = quick ? 2 : 4;
  return [
    `train.epochs=${epochs}`,
    `train.evalEvery=${epochs}`,
    'schedule.warmupEpochs=1',
    `schedule.milestones=[${epochs - 1}]`,
    'schedule.gamma=0.1',
    ...(quick ? ['train.stepsPerEpoch=25'] : []),
  ];
}

function percent(value: number | null): string {
  return value === null ? '-' : (value * 100).toFixed(2);
}

export async function demo(options: { quick: boolean; out: string }): Promise<void> {
  const rows: [string, Summary][] = [];
  const runs: string[] = [];
  for (const method of METHODS) {
    const out = path.join(options.out, path.basename(method.config, '.yaml'));
    process.stderr.write(`scatter demo: training ${method.name}\n`);
    const config = loadConfig(path.join(CONFIGS, method.config), schedule(options.quick));
    rows.push([method.name, await train(config, { out })]);
    process.stderr.write(`scatter demo: feature diagnostics of ${method.name}\n`);
    await analyzeRun(out);
    runs.push(out);
  }
  const report = await writeReport(runs, path.join(options.out, 'report.html'));
  const lines = [
    `Fashion-MNIST-LT (imbalance ratio 100), ResNet-32, ${options.quick ? 'quick' : 'short'} schedule; runs in ${options.out}`,
    '| method | top-1 | many | medium | few |',
    '|---|---|---|---|---|',
    ...rows.map(([name, s]) => `| ${name} | ${percent(s.top1)} | ${percent(s.many)} | ${percent(s.medium)} | ${percent(s.few)} |`),
    `report: ${report}`,
  ];
  console.log(lines.join('\n'));
}
