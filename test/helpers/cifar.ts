// A small data set in CIFAR-10's official binary layout (records of 1 label byte + 3072 pixel bytes),
// images tinted by class so that a network can learn something from them in a few steps.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

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
