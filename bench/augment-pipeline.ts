// Benchmark: the 8-bit augmentations on CIFAR-shaped images as the loader prepares them (one thread, in-memory
// records, batches of 128: crop, flip, the policy, normalisation), against torchvision 0.14's same transforms on
// uint8 tensors in Python (bench/augment_pipeline.py, one thread), in one run. Prints images per second for each
// and their ratio. The images are smooth random scenes with noise (bench-written, not CIFAR's).
// Usage: node dist/bench/augment-pipeline.js [--images 2048] [--rounds 3]
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { ChunkedBatchSampler, InMemoryDataset, Loader, SequentialSampler, parseTransforms } from '../src/data/index.js';
import { median } from './stats.js';

const { values: flags } = parseArgs({
  options: {
    images: { type: 'string', default: '2048' },
    rounds: { type: 'string', default: '3' },
    python: { type: 'string', default: process.env.SCATTER_PYTHON ?? '/usr/bin/python3' },
  },
});
const count = Number(flags.images);
const rounds = Number(flags.rounds);

const crop = [{ RandomCrop: { size: 32, padding: 4 } }, 'RandomHorizontalFlip'];
const normalize = { Normalize: { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] } };
const variants: Record<string, unknown[]> = {
  'crop + flip': [...crop, normalize],
  '+ AutoAugment cifar10': [...crop, { AutoAugment: { policy: 'cifar10' } }, normalize],
  '+ RandAugment 2, 9': [...crop, { RandAugment: { num_ops: 2, magnitude: 9 } }, normalize],
  '+ TrivialAugmentWide': [...crop, 'TrivialAugmentWide', normalize],
  '+ RandomErasing 0.25': [...crop, normalize, { RandomErasing: { p: 0.25 } }],
};

/** count 3x32x32 records: a 4x4 colour field upscaled by blocks plus noise. */
function scenes(): Uint8Array {
  const data = new Uint8Array(count * 3072);
  let state = 12345;
  const random = (): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  for (let i = 0; i < count; i++) {
    const field = Array.from({ length: 48 }, () => random() * 255);
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 1024; p++) {
        const [y, x] = [p >> 5, p & 31];
        const value = field[c * 16 + (y >> 3) * 4 + (x >> 3)]! + (random() - 0.5) * 30;
        data[i * 3072 + c * 1024 + p] = Math.max(0, Math.min(255, Math.round(value)));
      }
    }
  }
  return data;
}

const data = scenes();
const dataset = new InMemoryDataset(data, [3, 32, 32], new Int32Array(count), ['scene']);

async function rate(transforms: unknown[]): Promise<number> {
  const loader = new Loader(dataset, {
    batchSampler: new ChunkedBatchSampler(new SequentialSampler(count), 128),
    transforms: parseTransforms(transforms, 'bench', 'uint8'),
    workers: 0,
  });
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    for await (const _ of loader.epoch(round)) {
      // prepared in this thread
    }
    times.push((performance.now() - started) / 1000);
  }
  await loader.close();
  return count / median(times);
}

const here = path.dirname(fileURLToPath(import.meta.url));
const python = spawnSync(
  flags.python!,
  [path.join(here, '..', '..', 'bench', 'augment_pipeline.py'), JSON.stringify({ variants, count, rounds })],
  { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } },
);
if (python.status !== 0) throw new Error(`augment_pipeline.py failed: ${python.stderr}`);
const theirs = JSON.parse(python.stdout) as Record<string, number>;
for (const [name, transforms] of Object.entries(variants)) {
  const ours = await rate(transforms);
  console.log(
    JSON.stringify({
      bench: 'augment-pipeline',
      variant: name,
      scatterImagesPerSecond: Math.round(ours),
      torchvisionImagesPerSecond: Math.round(theirs[name]!),
      ratio: Number((ours / theirs[name]!).toFixed(2)),
    }),
  );
}
