// Throughput of `scatter predict`'s path (loadClassifier: decode, transforms, one batched forward pass): images
// per second for a trained run on N generated PNG images of the run's input size, at a few batch sizes, and the
// CLI end to end (process start and model load included).
// Usage: node dist/bench/predict-throughput.js --run DIR [--images 512] [--size 32] [--checkpoint last]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import sharp from 'sharp';

import { loadClassifier, torch } from '../src/index.js';

const { values: flags } = parseArgs({
  options: {
    run: { type: 'string' },
    images: { type: 'string', default: '512' },
    size: { type: 'string', default: '32' },
    checkpoint: { type: 'string', default: 'last' },
  },
});
if (flags.run === undefined)
  throw new Error('usage: predict-throughput.js --run DIR [--images N] [--size PIXELS] [--checkpoint best|last]');
const count = Number(flags.images);
const size = Number(flags.size);
const folder = mkdtempSync(path.join(tmpdir(), 'scatter-predict-bench-'));
mkdirSync(folder, { recursive: true });
const files: string[] = [];
for (let i = 0; i < count; i++) {
  const pixels = Buffer.alloc(size * size * 3);
  for (let p = 0; p < pixels.length; p++) pixels[p] = (p * 31 + i * 17) % 256;
  const file = path.join(folder, `${String(i).padStart(5, '0')}.png`);
  await sharp(pixels, { raw: { width: size, height: size, channels: 3 } })
    .png()
    .toFile(file);
  files.push(file);
}
const classifier = await loadClassifier(flags.run, { checkpoint: flags.checkpoint as 'best' | 'last' });
const rows: Record<string, unknown>[] = [];
for (const batchSize of [1, 16, 64]) {
  await classifier.predict(files.slice(0, batchSize));
  const started = performance.now();
  for (let b = 0; b < count; b += batchSize) await classifier.predict(files.slice(b, b + batchSize), { topK: 5 });
  const seconds = (performance.now() - started) / 1000;
  rows.push({
    path: 'loadClassifier().predict(files)',
    batchSize,
    images: count,
    seconds: Number(seconds.toFixed(2)),
    imagesPerSecond: Math.round(count / seconds),
  });
}
classifier.dispose();
const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const started = performance.now();
const result = spawnSync(
  process.execPath,
  [cli, 'predict', '--run', flags.run, '--checkpoint', flags.checkpoint!, '--format', 'jsonl', folder],
  { encoding: 'utf8', maxBuffer: 1 << 28 },
);
if (result.status !== 0) throw new Error(result.stderr);
const seconds = (performance.now() - started) / 1000;
rows.push({
  path: 'scatter predict FOLDER (process, model load, output)',
  batchSize: 64,
  images: count,
  seconds: Number(seconds.toFixed(2)),
  imagesPerSecond: Math.round(count / seconds),
});
rmSync(folder, { recursive: true, force: true });
console.log(JSON.stringify({ threads: torch.getNumThreads(), run: flags.run }));
for (const row of rows) console.log(JSON.stringify(row));
