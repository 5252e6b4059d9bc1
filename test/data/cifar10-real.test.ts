// The real CIFAR-10 (../shared/datasets/cifar10): its official binary layout built by prepare.sh, the
// known histogram, CIFAR-10-LT from it, and its JPEG tree (unpacked by our tar reader) through image
// folders, list files and the loader, against the binary records. About 15 s; skipped without ../shared.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import {
  ChunkedBatchSampler,
  ImageFolderDataset,
  ListFileDataset,
  Loader,
  SequentialSampler,
  classCounts,
  loadCifar,
  makeLongTailed,
  readImage,
} from '../../src/data/index.js';
import { extractTarGz } from '../../src/data/tar.js';
import { temporaryDir } from '../helpers/python.js';
import { SHARED_DATASETS, sharedMissing } from './fixtures.js';

test('real CIFAR-10: binary layout, histogram, CIFAR-10-LT, and its JPEGs through folders, lists and the loader', {
  skip: sharedMissing('cifar10'),
}, async (t) => {
  const source = path.join(SHARED_DATASETS, 'cifar10');
  const dir = temporaryDir('cifar10-real');
  t.after(() => rmSync(dir, { recursive: true, force: true })); // 180 MB and 60,000 JPEGs
  const prepared = spawnSync('bash', [path.join(source, 'prepare.sh'), path.join(dir, 'cifar-10-batches-bin')], { encoding: 'utf8' });
  assert.equal(prepared.status, 0, prepared.stderr);
  const root = prepared.stdout.trim();

  const train = loadCifar(root, { variant: 'cifar10', split: 'train' });
  const testSet = loadCifar(root, { variant: 'cifar10', split: 'test' });
  assert.deepEqual([train.length, testSet.length], [50000, 10000]);
  assert.deepEqual(train.classNames, ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
  const firstBatch = classCounts({ labels: train.labels.subarray(0, 10000), numClasses: 10 });
  assert.deepEqual([...firstBatch], [1005, 974, 1032, 1016, 999, 937, 1030, 1001, 1025, 981]);
  assert.deepEqual([...classCounts(train)], new Array(10).fill(5000));
  assert.deepEqual([...classCounts(testSet)], new Array(10).fill(1000));
  const lt = makeLongTailed(train, { imbalanceRatio: 100 });
  assert.deepEqual([...classCounts(lt)], [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]);

  // train/<class>/NNNN.jpg is the NNNN-th image of that class in record order.
  const jpegs = path.join(dir, 'jpeg');
  assert.equal(extractTarGz(path.join(source, 'cifar10-jpeg.tar.gz'), jpegs).length, 60000);
  const folder = new ImageFolderDataset(path.join(jpegs, 'train'));
  assert.deepEqual([...classCounts(folder)], new Array(10).fill(5000));
  const catRecords = [...train.labels.keys()].filter((record) => train.labels[record] === 3);
  for (const k of [0, 1234, 4999]) {
    const record = await readImage(train, catRecords[k]!);
    const decoded = await readImage(folder, 3 * 5000 + k);
    assert.equal(path.basename(folder.paths[3 * 5000 + k]!), `${String(k).padStart(4, '0')}.jpg`);
    const meanError = decoded.data.reduce((sum, value, i) => sum + Math.abs(value - record.data[i]!), 0) / decoded.data.length;
    assert.ok(meanError < 1.5, `cat ${k}: sharp's decode is ${meanError} grey levels from the binary record (PIL's decode)`);
  }

  // CIFAR-10-LT as a list file over the JPEG tree: the long-tailed subset's records, as paths.
  const seen = new Array<number>(10).fill(0);
  const place = new Int32Array(train.length); // record -> its rank within its class
  train.labels.forEach((label, record) => {
    place[record] = seen[label]!++;
  });
  const lines = [...lt.indices].map(
    (record) => `train/${train.classNames[train.labels[record]!]}/${String(place[record]).padStart(4, '0')}.jpg ${train.labels[record]}`,
  );
  const listFile = path.join(dir, 'cifar10_lt_train.txt');
  writeFileSync(listFile, `${lines.join('\n')}\n`);
  const list = new ListFileDataset(listFile, jpegs, { classNames: train.classNames });
  assert.deepEqual([...classCounts(list)], [...classCounts(lt)]);

  const loader = new Loader(list, {
    batchSampler: new ChunkedBatchSampler(new SequentialSampler(list.length), 64),
    transforms: [{ kind: 'randomResizedCrop', size: 32, scale: [1, 1], ratio: [1, 1] }],
    workers: 2,
  });
  try {
    for await (const batch of loader.epoch(0)) {
      assert.deepEqual(batch.shape, [64, 3, 32, 32]);
      // A full-size crop resized to its own size is the decoded image: compare it with the binary record.
      const record = await readImage(lt, batch.batch * 64 + 7);
      const errors = Array.from(record.data, (value, i) => Math.abs(value / 255 - batch.images[7 * 3072 + i]!) * 255);
      assert.ok(errors.reduce((a, b) => a + b, 0) / errors.length < 1.5, 'batch pixels match the record');
      assert.deepEqual([...batch.labels], [...lt.labels.subarray(batch.batch * 64, batch.batch * 64 + 64)]);
      if (batch.batch === 2) break;
    }
  } finally {
    await loader.close();
  }
});
