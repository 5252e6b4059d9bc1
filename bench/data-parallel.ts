// Benchmark: data-parallel training on one machine, 1 process against `scatter launch --nproc 2`, on
// CIFAR-10-LT (IR 100) with ResNet-32 and the same global batch, alternating in one run. One process uses
// every core for libtorch's threads; each of the two ranks gets one thread per core it is given.
// Training images per second come from the runs' summaries (training time, evaluation excluded).
// Usage: node dist/bench/data-parallel.js [--data DIR] [--steps 30] [--rounds 2] [--config FILE]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { dataDirectory } from '../src/train/config.js';
import { median } from './stats.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values: flags } = parseArgs({
  options: {
    data: { type: 'string', default: path.join(dataDirectory(), 'cifar-10-batches-bin') },
    steps: { type: 'string', default: '30' },
    rounds: { type: 'string', default: '2' },
    config: { type: 'string', default: path.join(repo, 'configs', 'cifar10-lt-ir100', 'ce.yaml') },
  },
});
const steps = Number(flags.steps);
const cores = availableParallelism();
const cli = path.join(repo, 'dist', 'src', 'cli', 'main.js');

/** Training images per second of one short run, with `processes` ranks sharing the cores. */
function imagesPerSecond(processes: number, out: string): number {
  const train = [
    'train',
    '--config',
    flags.config!,
    '--out',
    out,
    '--set',
    `data.root=${flags.data}`,
    '--set',
    'data.workers=1',
    '--set',
    'train.epochs=1',
    '--set',
    `train.stepsPerEpoch=${steps}`,
  ];
  const args = processes === 1 ? train : ['launch', '--nproc', String(processes), '--', ...train];
  const threads = String(Math.max(1, Math.floor(cores / processes)));
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, SCATTER_NUM_THREADS: threads } });
  if (result.status !== 0) throw new Error(`${processes} process(es) failed:\n${result.stderr}`);
  const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as { timings: { trainSeconds: number } };
  const batchSize = Number(/batchSize: (\d+)/.exec(readFileSync(path.join(out, 'config.yaml'), 'utf8'))![1]);
  return (steps * batchSize) / summary.timings.trainSeconds;
}

const work = mkdtempSync(path.join(tmpdir(), 'scatter-ddp-bench-'));
try {
  const rates: Record<1 | 2, number[]> = { 1: [], 2: [] };
  for (let round = 0; round < Number(flags.rounds); round++) {
    for (const processes of [1, 2] as const) rates[processes].push(imagesPerSecond(processes, path.join(work, `r${round}-p${processes}`)));
  }
  const [one, two] = [median(rates[1]), median(rates[2])];
  console.log(
    JSON.stringify({
      bench: 'data-parallel',
      cores,
      steps,
      rounds: Number(flags.rounds),
      oneProcessImagesPerSecond: Math.round(one),
      twoProcessesImagesPerSecond: Math.round(two),
      speedup: Number((two / one).toFixed(3)),
      perRound: { one: rates[1].map(Math.round), two: rates[2].map(Math.round) },
    }),
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
