// Tiny trained runs for the tests of what reads run directories (analyze, report): ResNet-32 for 2 epochs
// on the small CIFAR-10-format data set of cifar.ts, a second or two each on one thread.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { resolveConfig } from '../../src/train/config.js';
import { train } from '../../src/train/commands.js';
import { writeCifar10 } from './cifar.js';
import { repoRoot } from './python.js';

/** Writes the data set under `work` and returns its folder. */
export function writeTinyCifar(work: string): string {
  const root = path.join(work, 'cifar-10-batches-bin');
  writeCifar10(root, { trainPerClass: 24, testPerClass: 20 });
  return root;
}

/** Trains a run into `out` with the given model and loss sections (and train and optim keys); returns `out`. */
export async function trainTinyRun(
  out: string,
  dataRoot: string,
  method: { model?: object; loss?: object; train?: object; optim?: object } = {},
): Promise<string> {
  const config = resolveConfig({
    seed: 1,
    data: { dataset: 'cifar10', root: dataRoot, imbalance: { ratio: 4 }, workers: 0 },
    model: { whitening: { groupSize: 16 }, ...method.model },
    loss: method.loss ?? {},
    train: { epochs: 2, batchSize: 32, evalEvery: 1, threads: 1, ...method.train },
    schedule: { warmupEpochs: 0, milestones: [] },
    optim: method.optim ?? {},
  });
  await train(config, { out, verbose: false });
  return out;
}

/**
 * batch-covariance.jsonl as the trainer records it (one line per step: the batch's sampler, the trace and
 * condition number of its feature covariance), with made-up values: BET's alternation of instance and
 * B3RS batches, and one infinite condition number, which JSON writes as null.
 */
export function writeBatchCovariance(runDirectory: string, steps = 12): void {
  const lines = Array.from({ length: steps }, (_, step) =>
    JSON.stringify({
      epoch: Math.floor(step / 6),
      step,
      sampler: step % 4 === 3 ? 'b3rs' : 'instance',
      trace: 10 + step,
      condition: step === 5 ? null : 100 * (step + 1),
      meanAbsCorrelation: 0.5,
    }),
  );
  writeFileSync(path.join(runDirectory, 'batch-covariance.jsonl'), `${lines.join('\n')}\n`);
}

/** `scatter export --run RUN --checkpoint last --format FORMAT --out OUT` as a process; its exit status and stderr. */
export function exportRun(run: string, format: 'onnx' | 'state-dict', out: string): { status: number | null; stderr: string } {
  const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
  const result = spawnSync(process.execPath, [cli, 'export', '--run', run, '--checkpoint', 'last', '--format', format, '--out', out], {
    encoding: 'utf8',
  });
  return { status: result.status, stderr: result.stderr };
}
