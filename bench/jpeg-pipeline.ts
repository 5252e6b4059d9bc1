// Benchmark: the ImageNet-style input pipeline on JPEG files, as `scatter train` runs it for
// data.augment imagenet: decoding with random-resized-crop 224 + flip (+ colour jitter when asked)
// + normalisation in the loader's worker threads, a list file naming the images. It writes the JPEGs
// itself: `--images` files of 500 x 375 (about ImageNet's mean size), smooth random scenes with noise.
// Prints images per second and per worker core, with 1 worker and with one per core, for three ways batches leave
// the workers (fresh float32 buffers, recycled float32 buffers, recycled 8-bit buffers; 3 alternating rounds,
// medians); and, on this thread,
// the time to decode + crop + resize one image with scatter's decoder (the crop's region alone, Pillow's
// resampling) against sharp's (the whole image, libvips' resampling), the same crops, alternating rounds.
// Usage: node dist/bench/jpeg-pipeline.js [--images 384] [--batch 64] [--epochs 2] [--jitter 0]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import sharp from 'sharp';

import { decodeImageFile } from '../src/data/decode.js';
import { Rng } from '../src/data/random.js';
import { randomResizedCropRect } from '../src/data/transforms.js';
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

  // How the batches leave the workers: normalised float32 in fresh buffers (before recycling), float32 written into
  // recycled buffers (CPU training), 8-bit pixels into recycled buffers (training on an accelerator).
  type Variant = 'float32-fresh' | 'float32-recycled' | 'uint8-recycled';
  const rate = async (workers: number, variant: Variant): Promise<number> => {
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
      train: { batchSize, device: variant === 'uint8-recycled' ? 'cuda' : 'cpu' },
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
          if (variant !== 'float32-fresh') loader.recycle(item);
          batch++;
        }
      }
    } finally {
      await loader.close();
    }
    return images / ((performance.now() - started) / 1000);
  };

  // One image at a time on this thread: scatter's decode path against sharp's, the same files and crops.
  const files = lines.slice(0, 64).map((line) => path.join(root, line.split(' ')[0]!));
  const bytes = await Promise.all(files.map((file) => readFile(file)));
  sharp.concurrency(1);
  sharp.cache(false);
  const rng = Rng.fromKeys(1);
  const crops = Array.from({ length: 256 }, () => randomResizedCropRect(500, 375, rng));
  const decoders = {
    scatter: async (i: number) => decodeImageFile(bytes[i % bytes.length]!, () => ({ crop: crops[i]!, width: 224, height: 224 })),
    sharp: async (i: number) =>
      sharp(bytes[i % bytes.length]!)
        .extract(crops[i]!)
        .resize(224, 224, { fit: 'fill', kernel: 'linear' })
        .raw()
        .toBuffer(),
  };
  const perImage: Record<keyof typeof decoders, number[]> = { scatter: [], sharp: [] };
  for (let round = 0; round < 5; round++) {
    for (const name of ['scatter', 'sharp'] as const) {
      const started = performance.now();
      for (let i = 0; i < crops.length; i++) await decoders[name](i);
      perImage[name].push((performance.now() - started) / crops.length);
    }
  }
  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

  const variants: Variant[] = ['float32-fresh', 'float32-recycled', 'uint8-recycled'];
  const rates = Object.fromEntries(variants.map((variant) => [variant, { one: [] as number[], all: [] as number[] }]));
  for (let round = 0; round < 3; round++) {
    for (const variant of variants) {
      rates[variant]!.one.push(await rate(1, variant));
      rates[variant]!.all.push(await rate(cores, variant));
    }
  }
  const loaderRates = Object.fromEntries(
    variants.map((variant) => {
      const { one, all } = rates[variant]!;
      return [variant, { oneWorker: Math.round(median(one)), allCores: Math.round(median(all)), perCore: Math.round(median(all) / cores) }];
    }),
  );
  console.log(
    JSON.stringify({
      bench: 'jpeg-pipeline',
      size: '500x375 -> 224',
      images: count,
      batch: batchSize,
      colorJitter: Number(flags.jitter),
      cores,
      imagesPerSecond: loaderRates,
      decodeCropResizeMs: { scatter: Number(median(perImage.scatter).toFixed(3)), sharp: Number(median(perImage.sharp).toFixed(3)) },
      sharpOverScatter: Number((median(perImage.sharp) / median(perImage.scatter)).toFixed(2)),
    }),
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
