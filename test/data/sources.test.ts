// Sources read the official formats, written here by the tests: CIFAR-10/100 binary and python layouts,
// IDX (gzipped or not), image folders and list files; and every bad input gives a one-line error that
// names the file and the problem.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import {
  type Dataset,
  ImageFolderDataset,
  InMemoryDataset,
  ListFileDataset,
  classCounts,
  loadCifar,
  loadIdx,
  loadMnist,
  readImage,
} from '../../src/data/index.js';
import { temporaryDir } from '../helpers/python.js';
import {
  SHARED_DATASETS,
  cifarBinary,
  cifarPickle,
  encodedImage,
  idx,
  metaPickle,
  pixel,
  sharedMissing,
  writeImageTree,
} from './fixtures.js';

const CIFAR10_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** Labels of batch b (0-based) of n records: a fixed, uneven pattern. */
function batchLabels(b: number, n: number, classes: number): number[] {
  return Array.from({ length: n }, (_, r) => (r * 7 + b * 3 + (r % 4)) % classes);
}

async function assertRejectsOneLine(action: () => unknown, pattern: RegExp): Promise<void> {
  await assert.rejects(
    async () => action(),
    (error: Error) => {
      assert.match(error.message, pattern);
      assert.ok(!error.message.includes('\n'), `one line: ${JSON.stringify(error.message)}`);
      return true;
    },
  );
}

/** Every record's label and pixels equal what the fixtures wrote for records first.. in order. */
async function assertRecords(dataset: Dataset, labels: number[]): Promise<void> {
  assert.equal(dataset.length, labels.length);
  assert.deepEqual([...dataset.labels], labels);
  for (const r of [0, 1, labels.length - 1]) {
    const image = await readImage(dataset, r);
    assert.deepEqual([image.channels, image.height, image.width], [3, 32, 32]);
    assert.deepEqual([image.data[0], image.data[1024], image.data[3071]], [pixel(r, 0), pixel(r, 1024), pixel(r, 3071)], `record ${r}`);
  }
}

function writeCifar10(dir: string, format: 'binary' | 'python', perBatch: number): number[] {
  mkdirSync(dir, { recursive: true });
  const all: number[] = [];
  for (let b = 0; b < 6; b++) {
    const labels = batchLabels(b, perBatch, 10);
    const name = b < 5 ? `data_batch_${b + 1}` : 'test_batch';
    const first = b < 5 ? b * perBatch : 0;
    if (format === 'binary') writeFileSync(path.join(dir, `${name}.bin`), cifarBinary(labels, 'cifar10', first));
    else writeFileSync(path.join(dir, name), cifarPickle(labels, 'cifar10', first));
    if (b < 5) all.push(...labels);
  }
  if (format === 'binary') writeFileSync(path.join(dir, 'batches.meta.txt'), `${CIFAR10_NAMES.join('\n')}\n\n`);
  else writeFileSync(path.join(dir, 'batches.meta'), metaPickle('label_names', CIFAR10_NAMES));
  return all;
}

test('CIFAR-10 binary and python layouts read to the same records, in order, in shared memory', async () => {
  const root = temporaryDir('cifar10');
  const labels = writeCifar10(path.join(root, 'bin'), 'binary', 40);
  writeCifar10(path.join(root, 'py'), 'python', 40);
  const binary = loadCifar(path.join(root, 'bin'), { variant: 'cifar10', split: 'train' });
  const python = loadCifar(path.join(root, 'py'), { variant: 'cifar10', split: 'train' });
  for (const dataset of [binary, python]) {
    await assertRecords(dataset, labels);
    assert.deepEqual(dataset.classNames, CIFAR10_NAMES);
    assert.equal(dataset.numClasses, 10);
    assert.ok(dataset.storage.kind === 'uint8' && dataset.storage.data.buffer instanceof SharedArrayBuffer);
  }
  assert.deepEqual((binary.storage as { data: Uint8Array }).data, (python.storage as { data: Uint8Array }).data);
  const test = loadCifar(path.join(root, 'py'), { variant: 'cifar10', split: 'test' });
  await assertRecords(test, batchLabels(5, 40, 10));
});

test('CIFAR-100 binary and python layouts use the fine labels; names default to the official list', async () => {
  const root = temporaryDir('cifar100');
  const labels = batchLabels(0, 300, 100);
  mkdirSync(path.join(root, 'bin'));
  mkdirSync(path.join(root, 'py'));
  writeFileSync(path.join(root, 'bin', 'train.bin'), cifarBinary(labels, 'cifar100'));
  writeFileSync(path.join(root, 'py', 'train'), cifarPickle(labels, 'cifar100'));
  const fineNames = Array.from({ length: 100 }, (_, c) => `fine${c}`);
  writeFileSync(path.join(root, 'py', 'meta'), metaPickle('fine_label_names', fineNames));
  const binary = loadCifar(path.join(root, 'bin'), { variant: 'cifar100', split: 'train' });
  const python = loadCifar(path.join(root, 'py'), { variant: 'cifar100', split: 'train' });
  await assertRecords(binary, labels);
  await assertRecords(python, labels);
  assert.equal(binary.classNames.length, 100);
  assert.deepEqual([binary.classNames[0], binary.classNames[99]], ['apple', 'worm']);
  assert.deepEqual(python.classNames, fineNames);
});

test('a CIFAR python batch pickled by Python 3 and numpy (protocol 2) reads too', {
  skip: !existsSync('/usr/bin/python3') && 'no /usr/bin/python3',
}, async (t) => {
  const dir = temporaryDir('cifar-py3');
  const script = `
import pickle, sys, numpy as np
labels = [(r * 7 + r % 4) % 10 for r in range(50)]
data = np.array([[(r * 31 + p * 7) % 256 for p in range(3072)] for r in range(50)], dtype=np.uint8)
with open(sys.argv[1] + '/test_batch', 'wb') as f:
    pickle.dump({'batch_label': b'testing batch 1 of 1', 'labels': labels, 'data': data, 'filenames': [b'a.png'] * 50}, f, protocol=2)
with open(sys.argv[1] + '/data_batch_1', 'wb') as f:
    pickle.dump({'data': data}, f, protocol=2)
`;
  const result = spawnSync('/usr/bin/python3', ['-c', script, dir], { encoding: 'utf8' });
  if (result.status !== 0) return t.skip(`python3 with numpy unavailable: ${result.stderr.trim().split('\n').pop()}`);
  const dataset = loadCifar(dir, { variant: 'cifar10', split: 'test' });
  await assertRecords(
    dataset,
    Array.from({ length: 50 }, (_, r) => (r * 7 + (r % 4)) % 10),
  );
  await assertRejectsOneLine(
    () => loadCifar(dir, { variant: 'cifar10', split: 'train' }),
    /data_batch_1: not a CIFAR-10 python batch: 'labels' is not a list of 50 integers/,
  );
});

test('IDX files, gzipped or not, read as one-channel images', async () => {
  const dir = temporaryDir('idx');
  const count = 12;
  const pixels = Uint8Array.from({ length: count * 5 * 4 }, (_, i) => (i * 13) % 256);
  const labels = Uint8Array.from({ length: count }, (_, i) => (i * 3) % 10);
  writeFileSync(path.join(dir, 'train-images-idx3-ubyte.gz'), idx([count, 5, 4], pixels, true));
  writeFileSync(path.join(dir, 'train-labels-idx1-ubyte.gz'), idx([count], labels, true));
  writeFileSync(path.join(dir, 't10k-images-idx3-ubyte'), idx([count, 5, 4], pixels, false));
  writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte'), idx([count], labels, false));
  for (const split of ['train', 'test'] as const) {
    const dataset = loadMnist(dir, { variant: 'fashion-mnist', split });
    assert.deepEqual([...dataset.labels], [...labels]);
    assert.equal(dataset.classNames[9], 'Ankle boot');
    const image = await readImage(dataset, 3);
    assert.deepEqual([image.channels, image.height, image.width], [1, 5, 4]);
    assert.deepEqual([...image.data], [...pixels.subarray(3 * 20, 4 * 20)]);
  }
});

test('the real Fashion-MNIST (Debian dataset-fashion-mnist) reads: 60,000 + 10,000 images, balanced', {
  skip: !existsSync('/usr/share/datasets/fashion-mnist') && 'dataset-fashion-mnist is not installed',
}, () => {
  const train = loadMnist('/usr/share/datasets/fashion-mnist', { variant: 'fashion-mnist', split: 'train' });
  const test = loadMnist('/usr/share/datasets/fashion-mnist', { variant: 'fashion-mnist', split: 'test' });
  assert.deepEqual([train.length, test.length], [60000, 10000]);
  assert.deepEqual([...classCounts(train)], new Array(10).fill(6000));
  assert.deepEqual([...classCounts(test)], new Array(10).fill(1000));
  assert.deepEqual(train.shape, [1, 28, 28]);
  // The first training image is an ankle boot (label 9), as Zalando's README shows.
  assert.equal(train.labels[0], 9);
});

test('an image folder: sorted class folders, sorted files, decoded to 3-channel CHW', async () => {
  const root = temporaryDir('folder');
  const entries = await writeImageTree(root, ['cat', 'ant', 'bee'], [3, 2, 4]);
  mkdirSync(path.join(root, 'bee', 'nested'));
  writeFileSync(path.join(root, 'bee', 'nested', 'x.PNG'), await encodedImage(40, 30, 77, 'png'));
  writeFileSync(path.join(root, 'bee', 'notes.txt'), 'not an image');
  const dataset = new ImageFolderDataset(root);
  assert.deepEqual(dataset.classNames, ['ant', 'bee', 'cat']);
  assert.deepEqual([...classCounts(dataset)], [2, 5, 3]);
  assert.deepEqual([...dataset.labels], [0, 0, 1, 1, 1, 1, 1, 2, 2, 2]);
  assert.equal(path.relative(root, dataset.paths[6]!), path.join('bee', 'nested', 'x.PNG'));
  const image = await readImage(dataset, 2); // bee/000.jpg: tone (1 * 50 + 0) in red, gradients in green and blue
  assert.deepEqual([image.channels, image.height, image.width], [3, 30, 40]);
  assert.ok(Math.abs(image.data[0]! - 100) <= 3, `red ${image.data[0]}`); // 'bee' was class 2 when written
  assert.ok(image.data[1200 + 39]! > 245 && image.data[1200]! < 10, 'green runs left to right');
  assert.ok(entries.length === 9);
});

test('grey and RGBA images decode to 3 channels', async () => {
  const root = temporaryDir('grey');
  mkdirSync(path.join(root, 'only'));
  const sharp = (await import('sharp')).default;
  await sharp(Buffer.alloc(6 * 4, 200), { raw: { width: 6, height: 4, channels: 1 } })
    .jpeg()
    .toFile(path.join(root, 'only', 'grey.jpg'));
  await sharp(Buffer.alloc(6 * 4 * 4, 90), { raw: { width: 6, height: 4, channels: 4 } })
    .png()
    .toFile(path.join(root, 'only', 'rgba.png'));
  const dataset = new ImageFolderDataset(root);
  for (const [i, value] of [
    [0, 200],
    [1, 90],
  ] as const) {
    const image = await readImage(dataset, i);
    assert.deepEqual([image.channels, image.height, image.width], [3, 4, 6]);
    assert.ok(
      image.data.every((v) => Math.abs(v - value) <= 1),
      `${dataset.paths[i]}: every channel ${value}`,
    );
  }
});

test('a list file: PATH LABEL lines under a root, paths with spaces, class names optional', async () => {
  const root = temporaryDir('list');
  mkdirSync(path.join(root, 'train', 'a b'), { recursive: true });
  writeFileSync(path.join(root, 'train', 'a b', 'one.jpg'), await encodedImage(8, 6, 10));
  writeFileSync(path.join(root, 'train', 'two.jpg'), await encodedImage(8, 6, 20));
  const list = path.join(root, 'train.txt');
  writeFileSync(list, 'train/a b/one.jpg 2\r\n\ntrain/two.jpg\t0\n');
  const plain = new ListFileDataset(list, root);
  assert.deepEqual([...plain.labels], [2, 0]);
  assert.deepEqual(plain.classNames, ['0', '1', '2']);
  assert.equal(plain.paths[0], path.join(root, 'train', 'a b', 'one.jpg'));
  const named = new ListFileDataset(list, root, { classNames: ['x', 'y', 'z', 'w'] });
  assert.equal(named.numClasses, 4);
  const image = await readImage(named, 0);
  assert.deepEqual([image.channels, image.height, image.width], [3, 6, 8]);
});

test('the real Places-LT and ImageNet-LT lists parse with their published counts', { skip: sharedMissing('lt-lists') }, () => {
  const lists = path.join(SHARED_DATASETS, 'lt-lists');
  const root = temporaryDir('lt-root');
  const places = new ListFileDataset(path.join(lists, 'Places_LT_train.txt'), root);
  const counts = [...classCounts(places)];
  assert.deepEqual([places.numClasses, Math.max(...counts), Math.min(...counts)], [365, 4980, 5]);
  assert.equal(places.length, 62500);
  const classNames = readFileSync(path.join(lists, 'ImageNet_LT_classnames.txt'), 'utf8').trim().split('\n');
  const imagenetTest = new ListFileDataset(path.join(lists, 'ImageNet_LT_test.txt'), root, { classNames });
  assert.deepEqual([...new Set(classCounts(imagenetTest))], [50]);
  assert.equal(imagenetTest.length, 50000);
});

test('every bad input gives a one-line error naming the file and the problem', async () => {
  const root = temporaryDir('bad');
  await assertRejectsOneLine(
    () => loadCifar(path.join(root, 'nowhere'), { variant: 'cifar10', split: 'train' }),
    /nowhere: data directory missing: no such file or directory/,
  );
  await assertRejectsOneLine(
    () => loadCifar(root, { variant: 'cifar100', split: 'train' }),
    /no CIFAR-100 train files \(expected train\.bin or train\)/,
  );

  const cifar = path.join(root, 'cifar');
  writeCifar10(cifar, 'binary', 10);
  const third = path.join(cifar, 'data_batch_3.bin');
  const complete = readFileSync(third);
  writeFileSync(third, complete.subarray(0, complete.length - 100));
  await assertRejectsOneLine(
    () => loadCifar(cifar, { variant: 'cifar10', split: 'train' }),
    /data_batch_3\.bin: truncated or not CIFAR-10 binary: 30630 bytes is not a whole number of 3073-byte records/,
  );
  const badLabel = Buffer.from(complete);
  badLabel[4 * 3073] = 10;
  writeFileSync(third, badLabel);
  await assertRejectsOneLine(
    () => loadCifar(cifar, { variant: 'cifar10', split: 'train' }),
    /data_batch_3\.bin: record 4 has label 10, outside 0\.\.9/,
  );
  writeFileSync(third, complete);
  writeFileSync(path.join(cifar, 'batches.meta.txt'), 'one\ntwo\n');
  await assertRejectsOneLine(
    () => loadCifar(cifar, { variant: 'cifar10', split: 'train' }),
    /batches\.meta\.txt: expected 10 class names, found 2/,
  );

  const py = path.join(root, 'py');
  mkdirSync(py);
  const pickle = cifarPickle([1, 2, 3], 'cifar10');
  writeFileSync(path.join(py, 'test_batch'), pickle.subarray(0, 5000));
  await assertRejectsOneLine(() => loadCifar(py, { variant: 'cifar10', split: 'test' }), /test_batch: unreadable pickle: truncated/);
  writeFileSync(path.join(py, 'test_batch'), Buffer.concat([Buffer.from('\x80\x02cos\nsystem\n', 'latin1'), pickle.subarray(2)]));
  await assertRejectsOneLine(
    () => loadCifar(py, { variant: 'cifar10', split: 'test' }),
    /test_batch: unreadable pickle: refers to os\.system/,
  );
  writeFileSync(path.join(py, 'test_batch'), cifarPickle([1, 12, 3], 'cifar10'));
  await assertRejectsOneLine(
    () => loadCifar(py, { variant: 'cifar10', split: 'test' }),
    /test_batch: record 1 has label 12, outside 0\.\.9/,
  );

  const images = path.join(root, 'images.idx');
  const labels = path.join(root, 'labels.idx');
  writeFileSync(images, idx([3, 2, 2], new Uint8Array(12), true).subarray(0, 20));
  await assertRejectsOneLine(() => loadIdx(images, labels, ['a']), /images\.idx: corrupt gzip data/);
  writeFileSync(images, idx([3, 2, 2], new Uint8Array(12), false).subarray(0, 25));
  await assertRejectsOneLine(
    () => loadIdx(images, labels, ['a']),
    /images\.idx: truncated IDX data: 9 bytes where dimensions 3x2x2 need 12/,
  );
  writeFileSync(images, idx([3, 2, 2], new Uint8Array(12), false));
  writeFileSync(labels, idx([3], Uint8Array.from([0, 1, 0]), false));
  await assertRejectsOneLine(() => loadIdx(images, labels, ['a']), /labels\.idx: item 1 has label 1, outside 0\.\.0/);
  writeFileSync(labels, idx([2], Uint8Array.from([0, 0]), false));
  await assertRejectsOneLine(() => loadIdx(images, labels, ['a']), /labels\.idx: 2 labels for the 3 images/);

  const tree = path.join(root, 'tree');
  await writeImageTree(tree, ['a'], [2]);
  const jpeg = readFileSync(path.join(tree, 'a', '000.jpg'));
  writeFileSync(path.join(tree, 'a', '000.jpg'), jpeg.subarray(0, jpeg.length / 2));
  writeFileSync(path.join(tree, 'a', '001.jpg'), 'this is not a JPEG');
  const folder = new ImageFolderDataset(tree);
  await assertRejectsOneLine(() => readImage(folder, 0), /000\.jpg: cannot decode image: .*(premature|truncated|end)/i);
  await assertRejectsOneLine(() => readImage(folder, 1), /001\.jpg: cannot decode image: /);
  await assertRejectsOneLine(() => new ImageFolderDataset(path.join(tree, 'a')), /no class sub-folders/);

  const list = path.join(root, 'list.txt');
  writeFileSync(list, 'a/000.jpg 0\na/001.jpg 1\na/002.jpg\n');
  await assertRejectsOneLine(() => new ListFileDataset(list, tree), /list\.txt:3: malformed line \(expected 'PATH LABEL'\): "a\/002\.jpg"/);
  writeFileSync(list, 'a/000.jpg 0\na/001.jpg 3\n');
  await assertRejectsOneLine(() => new ListFileDataset(list, tree, { classNames: ['a', 'b'] }), /list\.txt:2: label 3 outside 0\.\.1/);
  await assertRejectsOneLine(
    () => new ListFileDataset(path.join(root, 'missing.txt'), tree),
    /missing\.txt: cannot read: no such file or directory/,
  );
  writeFileSync(list, 'a/404.jpg 0\n');
  await assertRejectsOneLine(() => readImage(new ListFileDataset(list, tree), 0), /404\.jpg: cannot read image: ENOENT/);

  await assertRejectsOneLine(
    () => new InMemoryDataset(new Uint8Array(8), [1, 2, 2], Int32Array.from([0, 5]), ['a', 'b']),
    /item 1 has label 5, outside 0\.\.1/,
  );
});
