// Benchmark: the ImageNet-style input pipeline on JPEG files, as `scatter train` runs it for
// data.augment imagenet: sharp decoding with random-resized-crop 224 + flip (+ colour jitter when asked)
// + normalisation in the loader's worker threads, a list file naming the images. It writes the JPEGs
// itself: `--images` files of 500 x 375 (about ImageNet's mean size), smooth random scenes with noise.
// Prints images per second and per worker core, with 1 worker and with one per core.
// Usage: node dist/bench/jpeg-pipeline.js [--images 384] [--batch 64] [--epochs 2] [--jitter 0]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import sharp from 'sharp';

import { resolveConfig } from '../src/train/config.js';
import { loadRunData, trainLoader } from '../src/train/setup.js';

const { values: flags } = parseArgs({
  options: {
    images: { type: 'string', default: '384' },
    batch: { type: 'string', default: '64' },
    epochs: { type: 'string', default: '2' },
    jitter: { type: 'string', default: '0' },
  },
});
const count = Number(flags.images);
const batchSize = Number(flags.batch);
const cores = availableParallelism();

/** A 500 x 375 JPEG: a random 20 x 15 colour field upscaled (smooth regions and edges) plus pixel noise. */
async function scene(seed: number): Promise<Buffer> {
  let state = seed * 2654435761 + 1;
  const random = (): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const coarse = Buffer.from(Array.from({ length: 20 * 15 * 3 }, () => Math.floor(random() * 256)));
  const smooth = await sharp(coarse, { raw: { width: 20, height: 15, channels: 3 } })
    .resize(500, 375, { kernel: 'cubic' })
    .raw()
    .toBuffer();
  for (let i = 0; i < smooth.length; i++) smooth[i] = Math.min(255, Math.max(0, smooth[i]! + Math.floor(random() * 24) - 12));
  return sharp(smooth, { raw: { width: 500, height: 375, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

const root = mkdtempSync(path.join(tmpdir(), 'scatter-jpeg-bench-'));
try {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const file = `images/${i % 10}/${i}.jpg`;
    mkdirSync(path.join(root, 'images', String(i % 10)), { recursive: true });
    writeFileSync(path.join(root, file), await scene(i));
    lines.push(`${file} ${i % 10}`);
  }
  writeFileSync(path.join(root, 'train.txt'), `${lines.join('\n')}\n`);

  const rate = async (workers: number): Promise<number> => {
    const config = resolveConfig({
      data: {
        dataset: 'list-file',
        root,
        trainList: 'train.txt',
        testList: 'train.txt',
        imbalance: { profile: 'none' },
        augment: 'imagenet',
        colorJitter: Number(flags.jitter),
        workers,
      },
      train: { batchSize },
    });
    const loader = trainLoader(config, loadRunData(config));
    let images = 0;
    let started = 0;
    try {
      for (let epoch = 0; epoch < Number(flags.epochs); epoch++) {
        let batch = 0;
        for await (const item of loader.epoch(epoch)) {
          // The first batches start the workers and sharp: timed from the third batch on.
          if (epoch === 0 && batch === 2) started = performance.now();
          if (epoch > 0 || batch >= 2) images += item.labels.length;
          batch++;
        }
      }
    } finally {
      await loader.close();
    }
    return images / ((performance.now() - started) / 1000);
  };

  const single = await rate(1);
  const all = await rate(cores);
  console.log(
    JSON.stringify({
      bench: 'jpeg-pipeline',
      size: '500x375 -> 224',
      images: count,
      batch: batchSize,
      colorJitter: Number(flags.jitter),
      cores,
      oneWorkerImagesPerSecond: Math.round(single),
      allCoresImagesPerSecond: Math.round(all),
      perCore: Math.round(all / cores),
    }),
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
