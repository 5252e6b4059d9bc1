// The ImageNet-LT configs end to end on list files in the benchmark's format over a small JPEG tree:
// list-file data, the ImageNet augmentation (random-resized-crop 224, flip, colour jitter; resize 256 +
// center-crop 224 for evaluation) and the ResNet-50 / ResNeXt-50 models with their whitening neck; tau-norm
// choosing tau on the validation list.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { writeImageTree } from '../data/fixtures.js';
import { repoRoot, temporaryDir } from '../helpers/python.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

// The folders differ only in the model: the second is checked with the full method alone (ResNet-50 steps at
// 224 px take seconds on two cores). BET's concat sub-batch shrinks with the batch (the configs' 64 would
// make each step 68 images).
for (const [folder, methods] of [
  ['imagenet-lt-resnet50', ['ce', 'whiten-la-b3rs-bet']],
  ['imagenet-lt-resnext50', ['whiten-la-b3rs-bet']],
] as const) {
  test(`configs/${folder}: ${methods.join(' and ')} train a step on ImageNet-LT-format list files`, async () => {
    const root = temporaryDir('imagenet-lt');
    const images = await writeImageTree(root, ['n01', 'n02', 'n03', 'n04', 'n05'], [6, 4, 3, 2, 2], [80, 60]);
    const lines = (entries: typeof images): string => entries.map(({ file, label }) => `${file} ${label}\n`).join('');
    writeFileSync(path.join(root, 'ImageNet_LT_train.txt'), lines(images));
    // Every class is in the test list too (the pre-flight check refuses lists that disagree on the classes).
    writeFileSync(
      path.join(root, 'ImageNet_LT_test.txt'),
      lines(images.filter(({ label }, i) => i % 3 === 0 || images.findIndex((other) => other.label === label) === i)),
    );
    for (const method of methods) {
      const out = path.join(root, `run-${method}`);
      const result = spawnSync(
        process.execPath,
        [
          CLI,
          'train',
          '--config',
          path.join(repoRoot, 'configs', folder, `${method}.yaml`),
          '--out',
          out,
          '--set',
          `data.root=${root}`,
          '--set',
          'data.workers=1',
          '--set',
          'data.colorJitter=0.4',
          '--set',
          'train.epochs=1',
          '--set',
          'train.batchSize=4',
          '--set',
          'train.bet.subBatchSize=4',
          '--set',
          'train.stepsPerEpoch=1',
        ],
        { encoding: 'utf8', env: { ...process.env, SCATTER_NUM_THREADS: '1' } },
      );
      assert.equal(result.status, 0, result.stderr);
      const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as { classCounts: number[]; perClass: number[] };
      assert.deepEqual(summary.classCounts, [6, 4, 3, 2, 2]);
      assert.equal(summary.perClass.length, 5);
    }
    if (!(methods as readonly string[]).includes('ce')) return;
    // tau-norm on the ce run chooses tau on the validation list (data.valList), images stage 1 never saw.
    const val = await writeImageTree(path.join(root, 'val'), ['n01', 'n02', 'n03', 'n04', 'n05'], [2, 2, 2, 2, 2], [80, 60]);
    writeFileSync(path.join(root, 'ImageNet_LT_val.txt'), lines(val.map(({ file, label }) => ({ file: path.join('val', file), label }))));
    const out = path.join(root, 'run-tau-norm');
    const result = spawnSync(
      process.execPath,
      [
        CLI,
        'train',
        '--config',
        path.join(repoRoot, 'configs', folder, 'tau-norm.yaml'),
        '--out',
        out,
        '--set',
        `data.root=${root}`,
        '--set',
        'data.workers=1',
        '--set',
        `decoupled.from=${path.join(root, 'run-ce')}`,
      ],
      { encoding: 'utf8', env: { ...process.env, SCATTER_NUM_THREADS: '1' } },
    );
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /tau-norm: tau [\d.]+ \(held-out mean per-class accuracy [\d.]+%, 10 images\)/);
  });
}
