// What JPEG costs: writes a copy of a CIFAR binary data set (cifar-10-batches-bin or cifar-100-binary) whose every
// image went through a JPEG encode at the given quality (libjpeg via sharp, 4:2:0 chroma subsampling, as the
// shared CIFAR-10 was re-encoded) and back to pixels, labels and file layout unchanged. Training on the copy
// against the original measures what the re-encoding alone moves (docs/results.md).
// Usage: node dist/bench/jpeg-reencode.js SOURCE_DIR DEST_DIR [--quality 75]
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import sharp from 'sharp';

import { PIXELS, interleavedIntoRecord, labelBytesOf, readRecords, recordToInterleaved } from './cifar-records.js';

const { values: flags, positionals } = parseArgs({ options: { quality: { type: 'string', default: '75' } }, allowPositionals: true });
const [source, dest] = positionals;
if (source === undefined || dest === undefined) throw new Error('usage: jpeg-reencode.js SOURCE_DIR DEST_DIR [--quality 75]');
const quality = Number(flags.quality);
const labelBytes = labelBytesOf(source);

async function reencode(record: Buffer): Promise<Buffer> {
  const jpeg = await sharp(recordToInterleaved(record, labelBytes), { raw: { width: 32, height: 32, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
  const { data } = await sharp(jpeg).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const out = Buffer.from(record);
  interleavedIntoRecord(data, out, labelBytes);
  return out;
}

mkdirSync(dest, { recursive: true });
let images = 0;
let squaredError = 0;
for (const name of readdirSync(source).sort()) {
  const file = path.join(source, name);
  if (!name.endsWith('.bin')) {
    copyFileSync(file, path.join(dest, name));
    continue;
  }
  const { bytes, count, recordSize } = readRecords(file, labelBytes);
  const out = Buffer.alloc(bytes.length);
  for (let start = 0; start < count; start += 256) {
    const chunk = await Promise.all(
      Array.from({ length: Math.min(256, count - start) }, (_, k) =>
        reencode(bytes.subarray((start + k) * recordSize, (start + k + 1) * recordSize)),
      ),
    );
    chunk.forEach((record, k) => {
      record.copy(out, (start + k) * recordSize);
      for (let i = labelBytes; i < recordSize; i++) squaredError += (record[i]! - bytes[(start + k) * recordSize + i]!) ** 2;
    });
  }
  writeFileSync(path.join(dest, name), out);
  images += count;
}
console.log(JSON.stringify({ source, dest, quality, images, rmsError: Number(Math.sqrt(squaredError / (images * PIXELS)).toFixed(3)) }));
