// Decoupled training end to end on a small CIFAR-10-format data set the test writes: a joint stage 1 with
// held-out images, then cRT, LWS and tau-norm on it, checked against stage 1's checkpoint tensor by tensor;
// tau-norm's choice recomputed here from the formula; the shipped configs; the CLI's one-line errors.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { type Dataset, batchTensors, classCounts } from '../../src/data/index.js';
import { torch } from '../../src/index.js';
import { loadConfig } from '../../src/train/config.js';
import { evaluate } from '../../src/train/evaluation.js';
import { buildModel, evalLoader, loadRunData, modelShape } from '../../src/train/setup.js';
import { evaluateRun, train } from '../../src/train/commands.js';
import type { Summary } from '../../src/train/run-dir.js';
import { writeCifar10 } from '../helpers/cifar.js';
import { repoRoot, temporaryDir } from '../helpers/python.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const HOLDOUT = 2;

function modelTensors(runDir: string): Map<string, torch.Tensor> {
  const { tensors } = torch.safetensors.loadFile(path.join(runDir, 'checkpoints', 'last.safetensors'));
  return new Map(
    Object.entries(tensors)
      .filter(([name]) => name.startsWith('model.'))
      .map(([name, tensor]) => [name.slice(6), tensor]),
  );
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

function metrics(runDir: string): Record<string, unknown>[] {
  return readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function storagePositions(dataset: Dataset): number[] {
  return Array.from({ length: dataset.length }, (_, i) => dataset.storageIndex(i));
}

const work = temporaryDir('decoupled');
const dataRoot = path.join(work, 'cifar-10-batches-bin');
writeCifar10(dataRoot, { trainPerClass: 24, testPerClass: 6 });
const stage1Config = path.join(work, 'stage1.yaml');
writeFileSync(
  stage1Config,
  `seed: 5
data:
  dataset: cifar10
  root: ${dataRoot}
  imbalance: { profile: exponential, ratio: 10 }
  holdoutPerClass: ${HOLDOUT}
  workers: 0
train: { epochs: 6, batchSize: 8, evalEvery: 1, threads: 1 }
schedule: { warmupEpochs: 0, milestones: [5], gamma: 0.1 }
optim: { lr: 0.02 }
`,
);
const stage1Dir = path.join(work, 'stage1');
const stage1Summary = await train(loadConfig(stage1Config), { out: stage1Dir, verbose: false });
const stage1 = modelTensors(stage1Dir);

function secondStage(method: string, name: string, overrides: string[] = []): Promise<Summary> {
  const config = loadConfig(stage1Config, [
    `decoupled.method=${method}`,
    `decoupled.from=${stage1Dir}`,
    'train.sampler=class-balanced',
    ...overrides,
  ]);
  return train(config, { out: path.join(work, name), verbose: false });
}

test('the held-out split: the last images of each class, one kept, disjoint from training, deterministic; stage 1 trains without them', () => {
  const config = loadConfig(stage1Config);
  const data = loadRunData(config);
  const whole = loadRunData(loadConfig(stage1Config, ['data.holdoutPerClass=null'])).train;
  const trainPositions = storagePositions(data.train);
  const holdoutPositions = storagePositions(data.holdout!);
  assert.equal(trainPositions.filter((position) => holdoutPositions.includes(position)).length, 0, 'disjoint');
  assert.deepEqual(
    [...trainPositions, ...holdoutPositions].sort((a, b) => a - b),
    storagePositions(whole),
    'together: the long-tailed split',
  );
  const wholeCounts = Array.from(classCounts(whole));
  assert.deepEqual(wholeCounts.slice(-2), [3, 2], 'the rarest classes have fewer than HOLDOUT + 1 images');
  const heldOut = wholeCounts.map((count) => Math.min(HOLDOUT, count - 1));
  for (let c = 0; c < 10; c++) {
    const ofClass = storagePositions(whole).filter((_, i) => whole.labels[i] === c);
    assert.deepEqual(
      holdoutPositions.filter((_, i) => data.holdout!.labels[i] === c),
      ofClass.slice(ofClass.length - heldOut[c]!),
      `class ${c}: its last images`,
    );
  }
  assert.deepEqual(storagePositions(loadRunData(config).holdout!), holdoutPositions, 'deterministic');
  assert.deepEqual(
    stage1Summary.classCounts,
    wholeCounts.map((count, c) => count - heldOut[c]!),
  );
});

test("cRT trains only a new classifier: every other tensor, batch-norm statistics included, is stage 1's bit for bit", async () => {
  const out = path.join(work, 'crt');
  const summary = await secondStage('crt', 'crt');
  const after = modelTensors(out);
  assert.deepEqual([...after.keys()].sort(), [...stage1.keys()].sort());
  assert.ok([...after.keys()].some((name) => name.endsWith('running_mean')));
  for (const [name, tensor] of after) {
    const same = tensor.equal(stage1.get(name)!);
    assert.equal(same, !name.startsWith('linear.'), `${name} ${same ? 'unchanged' : 'changed'}`);
  }
  assert.deepEqual(summary.decoupled, { method: 'crt', from: stage1Dir, checkpoint: 'last' });
  assert.deepEqual(
    metrics(out).map((record) => record.epoch),
    [1, 2, 3, 4, 5, 6],
  );
  for (const key of ['top1', 'many', 'medium', 'few']) assert.ok(key in readJson(path.join(out, 'summary.json')), key);
  assert.match(readFileSync(path.join(out, 'config.yaml'), 'utf8'), /method: crt/);
});

test("LWS learns only the per-class scales; stage 1's classifier is kept inside, unchanged", async () => {
  const out = path.join(work, 'lws');
  const summary = await secondStage('lws', 'lws');
  const after = modelTensors(out);
  const stage1Name = (name: string): string => name.replace(/^linear\.base\./, 'linear.');
  assert.deepEqual(
    [...after.keys()]
      .filter((name) => name !== 'linear.scales')
      .map(stage1Name)
      .sort(),
    [...stage1.keys()].sort(),
  );
  for (const [name, tensor] of after) {
    if (name !== 'linear.scales') assert.ok(tensor.equal(stage1.get(stage1Name(name))!), `${name} changed`);
  }
  assert.ok(!after.get('linear.scales')!.equal(torch.ones([10])), 'the scales moved');
  const evaluated = await evaluateRun(out, { checkpoint: 'last' });
  assert.equal(evaluated.top1, summary.top1, 'scatter eval rebuilds the LWS model');
});

test('tau-norm picks the tau of the grid with the best held-out mean per-class accuracy, recomputed here from the formula', async () => {
  const out = path.join(work, 'tau-norm');
  const summary = await secondStage('tau-norm', 'tau-norm');
  const [record, ...rest] = metrics(out);
  assert.equal(rest.length, 0, 'one record');
  const search = record!.tauSearch as { tau: number; accuracy: number }[];
  const config = loadConfig(stage1Config);
  const grid = config.decoupled.tauGrid;
  assert.deepEqual(
    search.map(({ tau }) => tau),
    grid,
  );

  // Stage 1's held-out features and classifier, then predictions by x . w_c / ||w_c||^tau (no bias).
  const data = loadRunData(config);
  torch.manualSeed(0);
  const model = buildModel(config, modelShape(data));
  model.loadStateDict(Object.fromEntries(stage1));
  model.eval();
  const loader = evalLoader(config, data, data.holdout!);
  const features: torch.Tensor[] = [];
  const labels: number[] = [];
  for await (const batch of loader.epoch(0)) {
    features.push(torch.noGrad(() => model.neck.call(model.features(batchTensors(batch).images))));
    labels.push(...batch.labels);
  }
  await loader.close();
  const all = torch.cat(features);
  const weight = stage1.get('linear.weight')!;
  const recomputed = grid.map((tau) => {
    const predictions = all
      .matmul(weight.div(weight.norm(2, { dim: 1, keepdim: true }).pow(tau)).transpose(0, 1))
      .argmax(1)
      .to('int32')
      .toTypedArray();
    const { perClass } = evaluate(predictions as Int32Array, labels, summary.classCounts, { many: 100, few: 20 });
    return perClass.reduce((sum, accuracy) => sum + accuracy, 0) / perClass.length;
  });
  assert.ok(new Set(recomputed).size > 1, 'this stage 1 should give different accuracies over the grid, or the test proves little');
  search.forEach(({ tau, accuracy }, i) =>
    assert.ok(Math.abs(accuracy - recomputed[i]!) < 1e-12, `tau ${tau}: ${accuracy} recorded, ${recomputed[i]} here`),
  );
  const best = Math.max(...recomputed);
  const expectedTau = grid[recomputed.indexOf(best)];
  assert.deepEqual([record!.tau, summary.decoupled?.tau], [expectedTau, expectedTau]);
  assert.ok(Math.abs((record!.holdoutAccuracy as number) - best) < 1e-12);

  // The checkpoint holds stage 1's model and the chosen tau; scatter eval rebuilds it.
  const saved = modelTensors(out);
  assert.equal(saved.get('linear.tau')!.item(), expectedTau);
  for (const [name, tensor] of stage1) assert.ok(tensor.equal(saved.get(name.replace(/^linear\./, 'linear.base.'))!), name);
  assert.equal((await evaluateRun(out, { checkpoint: 'last' })).top1, summary.top1);
});

test('tau-norm at tau = 0 with the bias kept predicts exactly as stage 1', async () => {
  const summary = await secondStage('tau-norm', 'tau-zero', ['decoupled.tauGrid=[0]', 'decoupled.keepBias=true']);
  assert.deepEqual(summary.perClass, stage1Summary.perClass);
  assert.deepEqual(summary.confusion, stage1Summary.confusion);
});

test("the shipped crt, lws and tau-norm configs extend their data set's ce.yaml, changing only the second stage", () => {
  const configs = path.join(repoRoot, 'configs');
  const folders = [
    'cifar10-lt-ir10',
    'cifar10-lt-ir50',
    'cifar10-lt-ir100',
    'cifar100-lt-ir10',
    'cifar100-lt-ir50',
    'cifar100-lt-ir100',
    'fashion-mnist-lt-ir100',
  ];
  for (const folder of folders) {
    const ce = loadConfig(path.join(configs, folder, 'ce.yaml'));
    for (const method of ['crt', 'lws', 'tau-norm'] as const) {
      const file = path.join(configs, folder, `${method}.yaml`);
      const config = loadConfig(file, [`decoupled.from=${stage1Dir}`]);
      assert.equal(config.decoupled.method, method, file);
      assert.deepEqual(config.model, ce.model, file);
      assert.deepEqual({ ...config.data, holdoutPerClass: null }, ce.data, file);
      assert.equal(config.data.holdoutPerClass === null, method !== 'tau-norm', file);
      if (method !== 'tau-norm') assert.equal(config.train.sampler, 'class-balanced', file);
    }
  }
});

test('a stage 1 whose config differs only in unused keys (a whitening eps without a whitening neck, as an older default wrote it) is accepted', async () => {
  const older = path.join(work, 'stage1-older-defaults');
  cpSync(stage1Dir, older, { recursive: true });
  const file = path.join(older, 'config.yaml');
  const text = readFileSync(file, 'utf8');
  assert.match(text, /^ {4}eps: 0\.1$/m);
  writeFileSync(file, text.replace(/^ {4}eps: 0\.1$/m, '    eps: 0.001'));
  const config = loadConfig(stage1Config, [
    'decoupled.method=crt',
    `decoupled.from=${older}`,
    'train.sampler=class-balanced',
    'train.epochs=1',
  ]);
  const summary = await train(config, { out: path.join(work, 'crt-on-older-defaults'), verbose: false });
  assert.equal(summary.classCounts.length, 10);
});

test('bad decoupled.from: one line on stderr, a non-zero exit, and no run directory', () => {
  const notARun = path.join(work, 'not-a-run');
  mkdirSync(notARun, { recursive: true });
  const unfinished = path.join(work, 'unfinished');
  cpSync(stage1Dir, unfinished, { recursive: true });
  writeFileSync(path.join(unfinished, 'metrics.jsonl'), `${readFileSync(path.join(stage1Dir, 'metrics.jsonl'), 'utf8').split('\n')[0]}\n`);
  const misfit = path.join(work, 'misfit'); // says it is stage 1, holds an LWS model
  cpSync(stage1Dir, misfit, { recursive: true });
  cpSync(path.join(work, 'lws', 'checkpoints', 'last.safetensors'), path.join(misfit, 'checkpoints', 'last.safetensors'));
  const cases: [string[], RegExp][] = [
    [
      ['decoupled.method=crt'],
      /^scatter: decoupled\.from: required with decoupled\.method crt: name the stage-1 run with --set decoupled\.from=RUN_DIR$/,
    ],
    [
      ['decoupled.method=crt', `decoupled.from=${path.join(work, 'nowhere')}`],
      /^scatter: decoupled\.from: run directory .*nowhere does not exist$/,
    ],
    [
      ['decoupled.method=lws', `decoupled.from=${notARun}`],
      /^scatter: decoupled\.from: .*not-a-run is not a run directory: it has no config\.yaml$/,
    ],
    [
      ['decoupled.method=crt', `decoupled.from=${stage1Dir}`, 'model.neck=batchnorm'],
      /^scatter: decoupled\.from: .*stage1 was trained with model\.neck = "identity", this config has "batchnorm"$/,
    ],
    [
      ['decoupled.method=crt', `decoupled.from=${stage1Dir}`, 'data.imbalance.ratio=4'],
      /^scatter: decoupled\.from: .*stage1 was trained with data\.imbalance\.ratio = 10, this config has 4$/,
    ],
    [
      ['decoupled.method=tau-norm', `decoupled.from=${stage1Dir}`, 'data.holdoutPerClass=3'],
      /^scatter: decoupled\.from: .*stage1 was trained with data\.holdoutPerClass = 2, this config has 3$/,
    ],
    [
      ['decoupled.method=crt', `decoupled.from=${path.join(work, 'crt')}`],
      /^scatter: decoupled\.from: .*crt is a crt run, not a joint-training run$/,
    ],
    [
      ['decoupled.method=crt', `decoupled.from=${unfinished}`],
      /^scatter: decoupled\.from: .*unfinished has not finished \(1 of 6 epochs\): resume it first$/,
    ],
    [
      ['decoupled.method=crt', `decoupled.from=${misfit}`],
      /^scatter: decoupled\.from: .*misfit does not fit this config's model: .*missing keys: linear\.weight, linear\.bias; unexpected keys: linear\.base\.bias, linear\.base\.weight, linear\.scales$/,
    ],
    [
      ['decoupled.method=tau-norm', `decoupled.from=${stage1Dir}`, 'data.holdoutPerClass=null'],
      /^scatter: .*stage1\.yaml: decoupled\.method tau-norm chooses tau on images stage 1 did not train on: set 'data\.holdoutPerClass'/,
    ],
  ];
  cases.forEach(([overrides, pattern], i) => {
    const out = path.join(work, `refused-${i}`);
    const args = [CLI, 'train', '--config', stage1Config, '--out', out, ...overrides.flatMap((assignment) => ['--set', assignment])];
    const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
    assert.equal(result.status, 1, `${overrides.join(' ')}: ${result.stderr}`);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr.trim(), pattern);
    assert.ok(!existsSync(out), `${out} was created`);
  });
});
