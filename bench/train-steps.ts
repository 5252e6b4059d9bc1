// Benchmark: ResNet-32 training on CIFAR-10-LT (IR 100) end to end, data included: scatter's loader,
// model and SGD (as `scatter train` runs them) against Python PyTorch with a typical input pipeline
// (bench/train_steps.py), alternating in one run; and scatter's loader alone, to compare the rate it
// prepares images at with the rate the training step consumes them.
// Usage: node dist/bench/train-steps.js [--data DIR] [--batch 128] [--steps 8] [--rounds 3] [--workers 2]
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { batchTensors } from '../src/data/index.js';
import { torch } from '../src/index.js';
import { dataDirectory, resolveConfig } from '../src/train/config.js';
import { buildModel, buildOptimizer, loadRunData, modelShape, trainLoader } from '../src/train/setup.js';
import { median } from './stats.js';

const { values: flags } = parseArgs({
  options: {
    data: { type: 'string', default: path.join(dataDirectory(), 'cifar-10-batches-bin') },
    batch: { type: 'string', default: '128' },
    steps: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    workers: { type: 'string', default: '2' },
    python: { type: 'string', default: process.env.SCATTER_PYTHON ?? '/usr/bin/python3' },
  },
});
const batch = Number(flags.batch);
const steps = Number(flags.steps);
const warmup = Number(flags.warmup);
const workers = Number(flags.workers);
const threads = torch.getNumThreads();

const config = resolveConfig({
  data: { dataset: 'cifar10', root: flags.data, workers },
  train: { batchSize: batch },
});
const data = loadRunData(config);

/** Seconds per training step, waiting for data included, as the trainer runs it. */
async function scatterRound(round: number): Promise<number[]> {
  torch.manualSeed(0);
  const model = buildModel(config, modelShape(data));
  const optimizer = buildOptimizer(config, model);
  const loader = trainLoader(config, data);
  const times: number[] = [];
  let last = performance.now();
  let step = 0;
  for await (const item of loader.epoch(round)) {
    torch.scope(() => {
      const { images, labels } = batchTensors(item);
      const loss = torch.nn.functional.crossEntropy(model.call(images), labels);
      loss.backward();
      optimizer.step();
      optimizer.zeroGrad();
      loss.item();
    });
    const now = performance.now();
    if (step >= warmup) times.push((now - last) / 1000);
    last = now;
    if (++step === warmup + steps) break;
  }
  await loader.close();
  return times;
}

/** Images per second that the loader alone prepares (an epoch's first batches, nothing consuming them). */
async function loaderImagesPerSecond(): Promise<number> {
  const loader = trainLoader(config, data);
  let images = 0;
  let started = 0;
  let count = 0;
  for await (const item of loader.epoch(0)) {
    if (count === 2) started = performance.now();
    if (count >= 2) images += item.labels.length;
    if (++count === 2 + 4 * steps) break;
  }
  const seconds = (performance.now() - started) / 1000;
  await loader.close();
  return images / seconds;
}

function pythonRound(): number[] {
  const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'train_steps.py');
  const result = spawnSync(
    flags.python!,
    [script, flags.data!, String(batch), String(steps), String(warmup), String(threads), String(workers)],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`Python PyTorch run failed:\n${result.stderr}`);
  return (JSON.parse(result.stdout) as { stepSeconds: number[] }).stepSeconds;
}

const scatterTimes: number[] = [];
const pythonTimes: number[] = [];
for (let round = 0; round < Number(flags.rounds); round++) {
  scatterTimes.push(...(await scatterRound(round)));
  pythonTimes.push(...pythonRound());
}
const loaderRate = await loaderImagesPerSecond();
const scatterStep = median(scatterTimes);
const pythonStep = median(pythonTimes);
console.log(
  JSON.stringify({
    bench: 'train-steps',
    dataset: 'cifar10-lt-ir100',
    batch,
    threads,
    workers,
    steps: scatterTimes.length,
    scatterImagesPerSecond: Math.round(batch / scatterStep),
    pytorchImagesPerSecond: Math.round(batch / pythonStep),
    ratio: Number((pythonStep / scatterStep).toFixed(3)),
    loaderImagesPerSecond: Math.round(loaderRate),
    loaderOverConsumption: Number((loaderRate / (batch / scatterStep)).toFixed(2)),
  }),
);
