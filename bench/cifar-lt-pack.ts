// CIFAR-LT small enough to travel: the GPU machine receives at most 64 MiB of working tree, and CIFAR-100's binary
// files are 184 MB. `pack` keeps the records a long-tailed split trains on (each class's first n_i records in record
// order, n_i as the long-tail construction computes them for --ratio: the same records, in the same order, that
// `data.imbalance` picks from the full file, so a config trains identically on the unpacked copy) and the whole test
// file, each split as one lossless WebP image of 32 x 32 tiles plus its label bytes; bench/cifar_lt_unpack.py (Pillow,
// which the GPU machine has) writes them back in the binary layout, byte for byte. A split packed for ratio R serves
// every ratio >= R (the first n_i nest).
// Usage: node dist/bench/cifar-lt-pack.js SOURCE_DIR PACK_DIR [--ratio 100]
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import sharp from 'sharp';

import { longTailCounts } from '../src/data/index.js';
import { labelBytesOf, readRecords, recordToInterleaved } from './cifar-records.js';

/** Tiles per row of a packed image (WebP allows 16,383 pixels a side: 60,000 tiles need 470 rows of 128; cifar_lt_unpack.py reads the same). */
const COLUMNS = 128;
const SPLITS = { train: 'train.bin', test: 'test.bin' } as const;

interface PackInfo {
  labelBytes: number;
  ratio: number;
  records: Record<keyof typeof SPLITS, number>;
}

/** The indices of the records `ratio`'s long-tailed split keeps, in record order. */
function longTailRecords(labels: number[], ratio: number): number[] {
  const numClasses = Math.max(...labels) + 1;
  const available = new Array<number>(numClasses).fill(0);
  for (const label of labels) available[label]!++;
  const keep = longTailCounts(Math.max(...available), numClasses, ratio);
  const taken = new Array<number>(numClasses).fill(0);
  const kept: number[] = [];
  labels.forEach((label, index) => {
    if (taken[label]! >= keep[label]!) return;
    taken[label]!++;
    kept.push(index);
  });
  return kept;
}

async function pack(source: string, dest: string, ratio: number): Promise<void> {
  const labelBytes = labelBytesOf(source);
  mkdirSync(dest, { recursive: true });
  const info: PackInfo = { labelBytes, ratio, records: { train: 0, test: 0 } };
  for (const [split, file] of Object.entries(SPLITS) as [keyof typeof SPLITS, string][]) {
    const { bytes, count, recordSize } = readRecords(path.join(source, file), labelBytes);
    const record = (i: number) => bytes.subarray(i * recordSize, (i + 1) * recordSize);
    // The fine label is the last label byte.
    const labels = Array.from({ length: count }, (_, i) => record(i)[labelBytes - 1]!);
    const kept = split === 'train' ? longTailRecords(labels, ratio) : labels.map((_, i) => i);
    const rows = Math.ceil(kept.length / COLUMNS);
    const width = 32 * COLUMNS;
    const canvas = Buffer.alloc(width * 32 * rows * 3);
    const labelOut = Buffer.alloc(kept.length * labelBytes);
    kept.forEach((index, k) => {
      const tile = recordToInterleaved(record(index), labelBytes);
      const [x0, y0] = [(k % COLUMNS) * 32, Math.floor(k / COLUMNS) * 32];
      for (let y = 0; y < 32; y++) tile.copy(canvas, ((y0 + y) * width + x0) * 3, y * 96, (y + 1) * 96);
      record(index).copy(labelOut, k * labelBytes, 0, labelBytes);
    });
    await sharp(canvas, { raw: { width, height: 32 * rows, channels: 3 } })
      .webp({ lossless: true, effort: 6 })
      .toFile(path.join(dest, `${split}.webp`));
    writeFileSync(path.join(dest, `${split}.labels`), labelOut);
    info.records[split] = kept.length;
  }
  for (const name of readdirSync(source)) if (name.endsWith('.txt')) copyFileSync(path.join(source, name), path.join(dest, name));
  writeFileSync(path.join(dest, 'pack.json'), `${JSON.stringify(info)}\n`);
}

const { values: flags, positionals } = parseArgs({ options: { ratio: { type: 'string', default: '100' } }, allowPositionals: true });
const [from, to] = positionals;
if (!from || !to) throw new Error('usage: cifar-lt-pack.js SOURCE_DIR PACK_DIR [--ratio 100]');
await pack(from, to, Number(flags.ratio));
