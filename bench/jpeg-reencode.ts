// What JPEG costs: writes a copy of a CIFAR binary data set (cifar-10-batches-bin or cifar-100-binary) whose every
// image went through a JPEG encode at the given quality (libjpeg via sharp, 4:2:0 chroma subsampling, as the
// shared CIFAR-10 was re-encoded) and back to pixels, labels and file layout unchanged. Training on the copy
// against the original measures what the re-encoding alone moves (docs/results.md).
// Usage: node dist/bench/jpeg-reencode.js SOURCE_DIR DEST_DIR [--quality 75]
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import sharp from 'sharp';

const { values: flags, positionals } = parseArgs({ options: { quality: { type: 'string', default: '75' } }, allowPositionals: true });
const [source, dest] = positionals;
if (source === undefined || dest === undefined) throw new Error('usage: jpeg-reencode.js SOURCE_DIR DEST_DIR [--quality 75]');
const quality = Number(flags.quality);
const PIXELS = 3072;
// CIFAR-100 records carry a coarse and a fine label byte, CIFAR-10 records one.
const labelBytes = existsSync(path.join(source, 'fine_label_names.txt')) ? 2 : 1;
const recordSize = labelBytes + PIXELS;

async function reencode(record: Buffer): Promise<Buffer> {
  const interleaved = Buffer.alloc(PIXELS);
  for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) interleaved[p * 3 + c] = record[labelBytes + c * 1024 + p]!;
  const jpeg = await sharp(interleaved, { raw: { width: 32, height: 32, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
  const { data } = await sharp(jpeg).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const out = Buffer.from(record);
  for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) out[labelBytes + c * 1024 + p] = data[p * 3 + c]!;
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
  const bytes = readFileSync(file);
  if (bytes.length % recordSize !== 0)
    throw new Error(`${file}: ${bytes.length} bytes is not a whole number of ${recordSize}-byte records`);
  const out = Buffer.alloc(bytes.length);
  const count = bytes.length / recordSize;
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
