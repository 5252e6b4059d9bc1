// Using a trained model: loadClassifier's predictions equal the trainer's evaluation on the same images (as
// files, as bytes, as tensors), embeddings, memory over many calls, a one-channel model on colour images, and the
// `scatter predict` command (inputs, formats, unreadable images).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import sharp from 'sharp';

import { loadClassifier, torch } from '../../src/index.js';
import { writeTestRecordsAsPng } from '../helpers/cifar.js';
import { trainTinyRun, writeTinyCifar } from '../helpers/runs.js';
import { repoRoot, temporaryDir } from '../helpers/python.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const work = temporaryDir('predict');
const root = writeTinyCifar(work);
const run = await trainTinyRun(path.join(work, 'run'), root, { model: { neck: 'whitening' }, loss: { name: 'ce', posthocTau: 1 } });
const summary = JSON.parse(readFileSync(path.join(run, 'summary.json'), 'utf8')) as { confusion: number[][] };

// The test records as PNG files (lossless: the same pixels the evaluation saw), and their labels.
const images = path.join(work, 'images');
const { files, labels } = await writeTestRecordsAsPng(root, images);

/** The confusion matrix of predicted labels against the true ones. */
function confusion(predicted: readonly number[]): number[][] {
  const matrix = Array.from({ length: 10 }, () => new Array<number>(10).fill(0));
  predicted.forEach((label, i) => {
    matrix[labels[i]!]![label]! += 1;
  });
  return matrix;
}

test('predictions on image files equal the evaluation of the same checkpoint (post-hoc adjustment included)', async () => {
  const classifier = await loadClassifier(run, { checkpoint: 'last' });
  assert.equal(classifier.checkpoint.epoch, 2);
  assert.deepEqual(classifier.classNames.slice(0, 2), ['airplane', 'automobile']);
  const predictions = await classifier.predict(files, { topK: 3 });
  assert.deepEqual(confusion(predictions.map((p) => p.top[0]!.label)), summary.confusion);
  for (const { top } of predictions) {
    assert.equal(top.length, 3);
    assert.ok(top[0]!.probability >= top[1]!.probability && top[1]!.probability >= top[2]!.probability);
    assert.equal(top[0]!.name, classifier.classNames[top[0]!.label]);
  }
  // The same image as bytes, and as the tensor prepare() makes: the same answer.
  const [fromBytes] = await classifier.predict([readFileSync(files[0]!)], { topK: 3 });
  const tensor = await classifier.prepare(files[0]!);
  const [fromTensor] = await classifier.predict([tensor], { topK: 3 });
  assert.deepEqual(fromBytes, predictions[0]);
  assert.deepEqual(fromTensor, predictions[0]);
  const [embedding] = await classifier.embed([tensor]);
  assert.equal(embedding!.length, 64);
  assert.deepEqual(await classifier.embed([files[0]!]), [embedding]);
  await assert.rejects(classifier.predict([path.join(images, 'none.png')]), /none\.png: cannot read image: ENOENT/);
  tensor.dispose();
  classifier.dispose();
});

test('10,000 calls in one process leave the live tensor count where it was', async () => {
  const classifier = await loadClassifier(run, { checkpoint: 'last' });
  const input = torch.randn([3, 8, 8]);
  await classifier.predict([input]);
  const before = torch.memory().liveTensors;
  for (let i = 0; i < 10_000; i++) await (i % 2 === 0 ? classifier.predict([input], { topK: 2 }) : classifier.embed([input]));
  assert.equal(torch.memory().liveTensors, before);
  input.dispose();
  classifier.dispose();
});

test('a one-channel 28 x 28 model classifies colour images of another size (resized, center-cropped, made grey)', async () => {
  const out = path.join(work, 'fashion');
  const trained = spawnSync(
    process.execPath,
    [
      CLI,
      'train',
      '--config',
      path.join(repoRoot, 'configs', 'fashion-mnist-lt-ir100', 'ce.yaml'),
      '--out',
      out,
      '--set',
      'train.epochs=1',
      '--set',
      'train.stepsPerEpoch=1',
      '--set',
      'data.workers=0',
    ],
    { encoding: 'utf8', env: { ...process.env, SCATTER_NUM_THREADS: '1' } },
  );
  assert.equal(trained.status, 0, trained.stderr);
  const classifier = await loadClassifier(out);
  assert.deepEqual(classifier.card.inputTransforms.slice(0, 3), [
    { kind: 'resize', size: 28 },
    { kind: 'centerCrop', size: 28 },
    { kind: 'grayscale' },
  ]);
  const colour = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 40, b: 90 } } })
    .jpeg()
    .toBuffer();
  const prepared = await classifier.prepare(colour);
  assert.deepEqual(prepared.shape, [1, 28, 28]);
  const [prediction] = await classifier.predict([prepared], { topK: 10 });
  assert.equal(prediction!.top.length, 10);
  assert.ok(Math.abs(prediction!.top.reduce((sum, score) => sum + score.probability, 0) - 1) < 1e-5);
  prepared.dispose();
  classifier.dispose();
});

function predict(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, 'predict', '--run', run, '--checkpoint', 'last', ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('scatter predict: folders and list files, JSON lines and CSV, unreadable images skipped and counted or --strict', async () => {
  const jsonl = predict('--format', 'jsonl', '--top-k', '2', '--batch-size', '64', images);
  assert.equal(jsonl.status, 0, jsonl.stderr);
  const records = jsonl.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { input: string; top: { label: number }[] });
  assert.deepEqual(
    records.map((record) => record.input),
    files,
  );
  assert.deepEqual(confusion(records.map((record) => record.top[0]!.label)), summary.confusion);
  assert.match(jsonl.stderr, /^scatter: predicting 200 images with .*last\.safetensors \(epoch 2\), 10 classes$/m);
  assert.match(jsonl.stderr, /^predict 4\/4 /m);
  // A list file (paths relative to it, labels ignored) with a missing and a corrupt image among good ones.
  writeFileSync(path.join(work, 'broken.png'), 'not a png');
  writeFileSync(path.join(work, 'list.txt'), `images/000.png 3\nbroken.png 1\nimages/gone.png\nimages/001.png\n`);
  const csv = predict('--format', 'csv', '--top-k', '1', path.join(work, 'list.txt'));
  assert.equal(csv.status, 0, csv.stderr);
  const rows = csv.stdout.trim().split('\n');
  assert.equal(rows[0], 'input,rank,label,name,probability');
  assert.deepEqual(
    rows.slice(1).map((row) => row.split(',')[0]),
    [path.join(work, 'images/000.png'), path.join(work, 'images/001.png')],
  );
  assert.match(csv.stderr, /^scatter: skipped .*broken\.png: cannot decode image: /m);
  assert.match(csv.stderr, /^scatter: skipped .*gone\.png: cannot read image: ENOENT$/m);
  assert.match(csv.stderr, /^scatter: 2 of 4 images could not be read and were skipped$/m);
  const strict = predict('--strict', path.join(work, 'list.txt'));
  assert.equal(strict.status, 1);
  assert.match(
    strict.stderr.trim().split('\n').at(-1)!,
    /^scatter: .*broken\.png: cannot decode image: .*\(--strict stops at the first unreadable image\)$/,
  );
  const table = predict(files[0]!);
  assert.equal(table.status, 0, table.stderr);
  assert.deepEqual(table.stdout.trim().split('\n')[0]!.split('\t'), ['input', 'top 1', 'top 2', 'top 3', 'top 4', 'top 5']);
  assert.equal(predict('--format', 'xml', files[0]!).status, 2);
  assert.match(predict(path.join(work, 'nowhere')).stderr, /nowhere does not exist/);
});
