// A small data set in CIFAR-10's official binary layout (records of 1 label byte + 3072 pixel bytes),
// images tinted by class so that a network can learn something from them in a few steps.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';

import { lcg } from './random.js';

export function writeCifar10(dir: string, options: { trainPerClass: number; testPerClass: number }): void {
  mkdirSync(dir, { recursive: true });
  const random = lcg(12345);
  const records = (perClass: number): Buffer => {
    const out = Buffer.alloc(perClass * 10 * 3073);
    for (let i = 0; i < perClass * 10; i++) {
      const label = i % 10;
      out[i * 3073] = label;
      for (let p = 0; p < 3072; p++) out[i * 3073 + 1 + p] = Math.floor(label * 20 + random() * 60);
    }
    return out;
  };
  const train = records(options.trainPerClass);
  const batch = train.length / 5;
  for (let b = 0; b < 5; b++) writeFileSync(path.join(dir, `data_batch_${b + 1}.bin`), train.subarray(b * batch, (b + 1) * batch));
  writeFileSync(path.join(dir, 'test_batch.bin'), records(options.testPerClass));
  writeFileSync(path.join(dir, 'batches.meta.txt'), 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n');
}

/**
 * The test split's records of a CIFAR-10 binary folder as PNG files (lossless: the pixels evaluation reads) in
 * `dir`, NNN.png in record order; `count` limits how many. Returns the files and their labels.
 */
export async function writeTestRecordsAsPng(
  dataRoot: string,
  dir: string,
  count = Infinity,
): Promise<{ files: string[]; labels: number[] }> {
  const records = readFileSync(path.join(dataRoot, 'test_batch.bin'));
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const labels: number[] = [];
  for (let r = 0; r * 3073 < records.length && r < count; r++) {
    const record = records.subarray(r * 3073, (r + 1) * 3073);
    const interleaved = Buffer.alloc(3072);
    for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) interleaved[p * 3 + c] = record[1 + c * 1024 + p]!;
    const file = path.join(dir, `${String(r).padStart(3, '0')}.png`);
    await sharp(interleaved, { raw: { width: 32, height: 32, channels: 3 } })
      .png()
      .toFile(file);
    files.push(file);
    labels.push(record[0]!);
  }
  return { files, labels };
}
