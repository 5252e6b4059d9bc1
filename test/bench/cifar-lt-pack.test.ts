// cifar-lt-pack on CIFAR-100 binary files the test writes: cifar_lt_unpack.py(pack(x)) gives the whole test file byte for byte
// and a training file on which the long-tailed construction picks the same records (pixels, coarse and fine labels)
// in the same order as on x, for the packed ratio and a larger one.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { loadCifar, makeLongTailed } from '../../src/data/index.js';
import { cifarBinary } from '../data/fixtures.js';
import { repoRoot, temporaryDir } from '../helpers/python.js';

const PACK = path.join(repoRoot, 'dist', 'bench', 'cifar-lt-pack.js');
const UNPACK = path.join(repoRoot, 'bench', 'cifar_lt_unpack.py');
const PYTHON = process.env.SCATTER_PYTHON ?? '/usr/bin/python3';
const noPillow =
  spawnSync(PYTHON, ['-c', 'import numpy, PIL.features as f; assert f.check("webp")'], { stdio: 'ignore' }).status === 0
    ? false
    : `${PYTHON} lacks Pillow with WebP or NumPy (apt-get install python3-pil python3-numpy): skipped`;

function run(command: string, ...args: string[]): void {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
}

test('unpack(pack(CIFAR-100)) trains on the same long-tailed records and tests on the same file', { skip: noPillow }, () => {
  const source = temporaryDir('pack-source');
  // 100 classes x 12 records, interleaved as the real files are; 2 test records per class.
  const trainLabels = Array.from({ length: 1200 }, (_, i) => (i * 7) % 100);
  const testLabels = Array.from({ length: 200 }, (_, i) => i % 100);
  writeFileSync(path.join(source, 'train.bin'), cifarBinary(trainLabels, 'cifar100'));
  writeFileSync(path.join(source, 'test.bin'), cifarBinary(testLabels, 'cifar100', 1200));
  writeFileSync(path.join(source, 'fine_label_names.txt'), `${Array.from({ length: 100 }, (_, c) => `class${c}`).join('\n')}\n`);
  const packed = temporaryDir('pack');
  const dest = temporaryDir('unpacked');
  run(process.execPath, PACK, source, packed, '--ratio', '10');
  run(PYTHON, UNPACK, packed, dest);

  assert.deepEqual(readFileSync(path.join(dest, 'test.bin')), readFileSync(path.join(source, 'test.bin')));
  const trainBytes = readFileSync(path.join(dest, 'train.bin'));
  assert.ok(trainBytes.length < readFileSync(path.join(source, 'train.bin')).length, 'only the long-tailed records travel');
  for (const ratio of [10, 30]) {
    const lt = (root: string) => makeLongTailed(loadCifar(root, { variant: 'cifar100', split: 'train' }), { imbalanceRatio: ratio });
    const [ours, theirs] = [lt(dest), lt(source)];
    assert.deepEqual(ours.labels, theirs.labels, `ratio ${ratio}: labels`);
    const original = readFileSync(path.join(source, 'train.bin'));
    ours.indices.forEach((index, i) => {
      const from = theirs.indices[i]! * 3074;
      assert.deepEqual(
        trainBytes.subarray(index * 3074, (index + 1) * 3074),
        original.subarray(from, from + 3074),
        `ratio ${ratio}, item ${i}`,
      );
    });
  }
});
