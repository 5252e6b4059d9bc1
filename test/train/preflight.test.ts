// The pre-flight data check (src/train/preflight.ts) through `scatter train` and `scatter data`: a problem in the
// data stops the run with one line before its run directory exists, instead of after an epoch, or never.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { writeImageTree } from '../data/fixtures.js';
import { writeCifar10 } from '../helpers/cifar.js';
import { repoRoot, temporaryDir } from '../helpers/python.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, SCATTER_NUM_THREADS: '1' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const work = temporaryDir('preflight');
const classes = Array.from({ length: 4 }, (_, label) => `c${label}`);
const images = await writeImageTree(work, classes, [6, 4, 3, 2], [24, 20]);
const lines = (entries: { file: string; label: number }[]): string => entries.map(({ file, label }) => `${file} ${label}\n`).join('');
writeFileSync(path.join(work, 'test.txt'), lines(images));
const config = path.join(work, 'lists.yaml');
writeFileSync(
  config,
  `data: { dataset: list-file, root: ${work}, trainList: train.txt, testList: test.txt, imbalance: { profile: none }, augment: none, workers: 1 }
train: { epochs: 1, batchSize: 4, stepsPerEpoch: 1 }
schedule: { warmupEpochs: 0 }
`,
);

/** `scatter train` on the lists as they are now; the run directory it was given, and the result. */
function train(name: string, ...sets: string[]): { out: string; status: number | null; stderr: string } {
  const out = path.join(work, name);
  const result = cli(['train', '--config', config, '--out', out, ...sets.flatMap((set) => ['--set', set])]);
  return { out, status: result.status, stderr: result.stderr };
}

test("a training label outside the test list's classes stops the run before it starts, unless data.numClasses says so", () => {
  // A mistyped label: 12 among 0..3.
  writeFileSync(path.join(work, 'train.txt'), lines([...images, { file: images[0]!.file, label: 12 }]));
  const refused = train('typo');
  assert.equal(refused.status, 1);
  assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
  assert.match(
    refused.stderr,
    /^scatter: data: the training and test lists disagree on the 13 classes .*: label 12 only in data\.trainList \(1 images\); labels 4, 5, 6, 7, 8, 9, 10, 11 in neither list\. A mistyped label\?/,
  );
  assert.ok(!existsSync(refused.out), 'no run directory for a refused run');
  const declared = train('declared', 'data.numClasses=13');
  assert.equal(declared.status, 0, declared.stderr);
  assert.equal(JSON.parse(readFileSync(path.join(declared.out, 'summary.json'), 'utf8')).classCounts.length, 13);
  const tooFew = train('too-few', 'data.numClasses=10');
  assert.equal(tooFew.status, 1);
  assert.match(tooFew.stderr, /train\.txt:16: label 12 outside 0\.\.9/);
});

test('a missing or corrupt image is named before training (data.verify), and data.verify: off skips the check', () => {
  writeFileSync(path.join(work, 'train.txt'), lines(images));
  writeFileSync(path.join(work, 'broken.jpg'), 'not an image at all');
  writeFileSync(path.join(work, 'test.txt'), lines([...images, { file: 'gone.jpg', label: 1 }, { file: 'broken.jpg', label: 2 }]));
  try {
    const refused = train('bad-images');
    assert.equal(refused.status, 1);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    assert.match(
      refused.stderr,
      /^scatter: data: 2 of 17 image files cannot be opened \(data\.verify: headers\): .*gone\.jpg \(missing\), .*broken\.jpg \(.+\); fix or drop them/,
    );
    assert.ok(!existsSync(refused.out));
    const unchecked = cli(['data', '--config', config, '--set', 'data.verify=off']);
    assert.equal(unchecked.status, 0, unchecked.stderr);
    // A JPEG cut short has a whole header: only a full decode finds it.
    const whole = readFileSync(path.join(work, images[0]!.file));
    writeFileSync(path.join(work, 'broken.jpg'), whole.subarray(0, whole.length - 40));
    writeFileSync(path.join(work, 'test.txt'), lines([...images, { file: 'broken.jpg', label: 2 }]));
    const headers = cli(['data', '--config', config]);
    assert.equal(headers.status, 0, `headers alone pass a truncated JPEG: ${headers.stderr}`);
    const decoded = train('decode', 'data.verify=decode');
    assert.equal(decoded.status, 1);
    assert.match(decoded.stderr, /1 of 16 image files cannot be decoded \(data\.verify: decode\): .*broken\.jpg/);
    assert.ok(!existsSync(decoded.out));
  } finally {
    writeFileSync(path.join(work, 'test.txt'), lines(images));
  }
});

test('image folders whose train/ and test/ name different classes are refused', async () => {
  const root = path.join(work, 'folders');
  await writeImageTree(path.join(root, 'train'), ['cat', 'dog', 'eel'], [3, 2, 2], [24, 20]);
  await writeImageTree(path.join(root, 'test'), ['cat', 'eel'], [1, 1], [24, 20]);
  const result = cli(['data', '--config', config, '--set', 'data.dataset=image-folder', '--set', `data.root=${root}`]);
  assert.equal(result.status, 1);
  assert.match(
    result.stderr,
    /^scatter: data: the train\/ and test\/ folders name different classes \(only in train\/: dog; only in test\/: none\)/,
  );
});

test('a CIFAR file short of records is accepted with a warning naming the expected and found sizes', () => {
  const root = path.join(work, 'cifar');
  writeCifar10(root, { trainPerClass: 24, testPerClass: 6 });
  const result = cli([
    'data',
    '--config',
    config,
    '--set',
    'data.dataset=cifar10',
    '--set',
    `data.root=${root}`,
    '--set',
    'data.imbalance.profile=exponential',
  ]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(
    result.stderr,
    /^scatter: warning: cifar10 at .*: the train split has 240 images, the official one 50,000 \(a truncated or partial file\?\)$/m,
  );
  assert.match(result.stderr, /^scatter: warning: cifar10 at .*: the test split has 60 images, the official one 10,000/m);
  rmSync(root, { recursive: true });
});
