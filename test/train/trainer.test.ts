// The trainer end to end on a small CIFAR-10-format data set the test writes: the run directory, exact
// resumption after a kill mid-epoch, the training lock, the NaN guard, and the CLI's one-line errors.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { B3RSBatchSampler, BatchEmbeddedSampler } from '../../src/data/index.js';
import { torch } from '../../src/index.js';
import { AdamW, SAM } from '../../src/optim/index.js';
import { loadConfig } from '../../src/train/config.js';
import { RunDir } from '../../src/train/run-dir.js';
import { Run } from '../../src/train/trainer.js';
import { loadRunData, trainLoader } from '../../src/train/setup.js';
import { writeCifar10 } from '../helpers/cifar.js';
import { repoRoot, temporaryDir } from '../helpers/python.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

function writeConfig(dir: string, dataRoot: string, extra = ''): string {
  const file = path.join(dir, 'tiny.yaml');
  writeFileSync(
    file,
    `seed: 3
data:
  dataset: cifar10
  root: ${dataRoot}
  imbalance: { profile: exponential, ratio: 4 }
  augment: cifar
  workers: 1
train: { epochs: 3, batchSize: 16, evalEvery: 1, threads: 1 }
schedule: { warmupEpochs: 1, milestones: [2], gamma: 0.1 }
optim: { lr: 0.05 }
${extra}`,
  );
  return file;
}

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function environmentRecords(run: string): Record<string, unknown>[] {
  return readFileSync(path.join(run, 'environment.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A checkpoint's tensors whose names start with one of `prefixes`. */
function checkpointTensors(file: string, ...prefixes: string[]): Record<string, torch.Tensor> {
  const { tensors } = torch.safetensors.loadFile(file);
  return Object.fromEntries(Object.entries(tensors).filter(([name]) => prefixes.some((prefix) => name.startsWith(prefix))));
}

const work = temporaryDir('trainer');
const dataRoot = path.join(work, 'cifar-10-batches-bin');
writeCifar10(dataRoot, { trainPerClass: 24, testPerClass: 6 });
const config = writeConfig(work, dataRoot);

test('a run writes config.yaml, metrics.jsonl, summary.json and checkpoints, and names the keys it does not use', () => {
  const out = path.join(work, 'run-a');
  const result = cli(['train', '--config', config, '--out', out, '--set', 'model.whitening.eps=0.5']);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /^scatter: note: model\.whitening\.eps is set but takes no effect \(model\.neck is identity\)$/m);
  for (const file of [
    'config.yaml',
    'metrics.jsonl',
    'summary.json',
    'environment.jsonl',
    'checkpoints/last.safetensors',
    'checkpoints/best.safetensors',
  ]) {
    assert.ok(existsSync(path.join(out, file)), `${file} is missing`);
  }
  const [environment, ...more] = environmentRecords(out);
  assert.equal(more.length, 0);
  assert.equal(environment!.firstEpoch, 1);
  assert.equal(environment!.libtorch, torch.version().libtorch);
  assert.equal(environment!.scatter, JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version);
  assert.equal(environment!.threads, 1);
  const metrics = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.deepEqual(
    metrics.map((m) => m.epoch),
    [1, 2, 3],
  );
  const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
  for (const key of ['top1', 'many', 'medium', 'few', 'perClass', 'classCounts', 'timings']) assert.ok(key in summary, key);
  assert.deepEqual(summary.classCounts, [24, 20, 17, 15, 12, 11, 9, 8, 6, 6]);
  assert.equal(summary.perClass.length, 10);
  assert.match(readFileSync(path.join(out, 'config.yaml'), 'utf8'), /batchSize: 16/);
  const evaluated = cli(['eval', '--run', out, '--checkpoint', 'last']);
  assert.equal(evaluated.status, 0, evaluated.stderr);
  assert.equal(JSON.parse(evaluated.stdout).top1, metrics[2].top1, 'eval of the last checkpoint repeats the last evaluation');
});

/**
 * Trains `config` (with `sets`) into `out`, kills it with SIGKILL once epoch 1's checkpoint is written and epoch 2 is
 * under way, resumes it to the end, and asserts that its last checkpoint's model and optimizer tensors equal
 * those of the uninterrupted run in `reference`.
 */
async function assertResumesExactly(out: string, reference: string, sets: string[] = []): Promise<void> {
  const child = spawn(process.execPath, [CLI, 'train', '--config', config, '--out', out, ...sets], { stdio: 'ignore' });
  const metricsFile = path.join(out, 'metrics.jsonl');
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (existsSync(metricsFile) && readFileSync(metricsFile, 'utf8').trim().split('\n').length === 1) {
        setTimeout(() => {
          child.kill('SIGKILL');
          clearInterval(timer);
          resolve();
        }, 300);
      }
    }, 20);
    child.on('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`the run ended (code ${code}) before it could be killed`));
    });
  }).catch((error: Error) => assert.fail(error.message));
  await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(readFileSync(metricsFile, 'utf8').trim().split('\n').length, 1, 'killed during epoch 2');
  assert.ok(existsSync(path.join(out, 'train.lock')), 'the killed run left its lock behind');
  const resumed = cli(['train', '--resume', out]);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.ok(!existsSync(path.join(out, 'train.lock')), "the resumed run took over the dead process's lock and gave it back");
  const uninterrupted = checkpointTensors(path.join(reference, 'checkpoints', 'last.safetensors'), 'model.', 'optimizer.');
  const afterResume = checkpointTensors(path.join(out, 'checkpoints', 'last.safetensors'), 'model.', 'optimizer.');
  assert.deepEqual(Object.keys(afterResume).sort(), Object.keys(uninterrupted).sort());
  for (const [name, tensor] of Object.entries(uninterrupted)) {
    assert.ok(tensor.equal(afterResume[name]!), `${name} differs after resuming`);
  }
  assert.equal(readFileSync(metricsFile, 'utf8').trim().split('\n').length, 3);
}

test('a run killed mid-epoch and resumed ends bit-identical to an uninterrupted run', async () => {
  const out = path.join(work, 'run-b');
  await assertResumesExactly(out, path.join(work, 'run-a'));
  assert.deepEqual(
    environmentRecords(out).map((record) => record.firstEpoch),
    [1, 2],
    'one record per process that trained the run',
  );
});

// Mixup and cutmix on 80% of the batches, ASAM around AdamW, a 2-epoch warm-up and a milestone at epoch 2.
const MIXED_SAM = [
  'train.mix.mixupAlpha=1',
  'train.mix.cutmixAlpha=1',
  'train.mix.prob=0.8',
  'optim.name=sam',
  'optim.sam.base=adamw',
  'optim.sam.adaptive=true',
  'optim.sam.rho=0.5',
  'optim.lr=0.002',
  'schedule.warmupEpochs=2',
].flatMap((assignment) => ['--set', assignment]);

test('with mixing and SAM around AdamW: the batches are mixed, the schedule sets the lr, and a killed run resumes bit-identical', async () => {
  const reference = path.join(work, 'run-mixed-sam-a');
  const result = cli(['train', '--config', config, '--out', reference, ...MIXED_SAM]);
  assert.equal(result.status, 0, result.stderr);
  assert.doesNotMatch(result.stderr, /note:/, 'every key set takes effect');
  const lrs = new RunDir(reference).readMetrics().map((record) => record.lr as number);
  assert.deepEqual(lrs, [(0.002 * 1) / 2, 0.002, 0.002 * 0.1], 'warm-up, then the milestone');
  const setup = new Run(
    loadConfig(
      config,
      MIXED_SAM.filter((_, i) => i % 2 === 1),
    ),
    new RunDir(path.join(work, 'unused')),
    false,
    null,
    null,
  );
  try {
    assert.ok(setup.optimizer instanceof SAM && setup.optimizer.base instanceof AdamW && setup.optimizer.adaptive);
    const lams: (number | null)[] = [];
    for await (const batch of setup.trainBatches.epoch(0)) lams.push(torch.scope(() => setup.trainingInputs(batch).lam));
    assert.ok(lams.some((lam) => lam === null) && lams.filter((lam) => lam !== null).length >= lams.length / 2, JSON.stringify(lams));
  } finally {
    await setup.close();
  }
  await assertResumesExactly(path.join(work, 'run-mixed-sam-b'), reference, MIXED_SAM);
});

test('a run that a live process is training refuses a second trainer, and the first run ends unharmed', async () => {
  const out = path.join(work, 'run-locked');
  const first = spawn(process.execPath, [CLI, 'train', '--config', config, '--out', out, '--set', 'train.epochs=4'], { stdio: 'ignore' });
  const firstExit = new Promise<number | null>((resolve) => first.on('exit', resolve));
  const checkpoint = path.join(out, 'checkpoints', 'last.safetensors');
  while (!existsSync(checkpoint)) await new Promise((resolve) => setTimeout(resolve, 20));
  // Paused (still alive, still holding the lock) while the second trainer tries: no race with its end.
  first.kill('SIGSTOP');
  const second = cli(['train', '--resume', out]);
  first.kill('SIGCONT');
  assert.equal(second.status, 1);
  assert.match(
    second.stderr.trim().split('\n').at(-1)!,
    new RegExp(`^scatter: .*run-locked is being trained by process ${first.pid} on .* since .*: wait for it or stop it`),
  );
  assert.equal(await firstExit, 0);
  const metrics = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.deepEqual(
    metrics.map((m) => m.epoch),
    [1, 2, 3, 4],
  );
  assert.ok(!existsSync(path.join(out, 'train.lock')), 'the finished run gave its lock back');
});

test('data.imbalance.maxPerClass caps the largest class: with ratio 1, a balanced split of a chosen size', () => {
  const balanced = loadRunData(loadConfig(config, ['data.imbalance.ratio=1', 'data.imbalance.maxPerClass=10']));
  assert.deepEqual(balanced.classCounts, Array(10).fill(10));
  assert.deepEqual(loadRunData(loadConfig(config, ['data.imbalance.maxPerClass=12'])).classCounts, [12, 10, 8, 7, 6, 5, 4, 4, 3, 3]);
  assert.throws(
    () => loadRunData(loadConfig(config, ['data.imbalance.ratio=1', 'data.imbalance.maxPerClass=30'])),
    /long-tail construction: class 0 \(.*\) has 24 images, the profile asks for 30/,
  );
});

test('a loss that becomes NaN stops the run, naming the step and the last good checkpoint', () => {
  const out = path.join(work, 'run-nan');
  const result = cli(['train', '--config', config, '--out', out, '--set', 'optim.lr=1e30', '--set', 'schedule.warmupEpochs=0']);
  assert.notEqual(result.status, 0);
  const lastLine = result.stderr.trim().split('\n').at(-1)!;
  assert.match(
    lastLine,
    /^scatter: loss became (NaN|Infinity|-Infinity) at epoch \d+, step \d+; (the last good checkpoint is .*last\.safetensors|no checkpoint was written yet)$/,
  );
});

test('bad input: one line on stderr and a non-zero exit', () => {
  const oneLine = (args: string[], pattern: RegExp, status = 1) => {
    const result = cli(args);
    assert.equal(result.status, status, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, pattern);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  };
  oneLine(['train', '--config', config, '--set', 'train.epoch=1'], /^scatter: .*unknown config key 'train.epoch'/);
  oneLine(['train', '--config', config, '--set', 'train.epochs=two'], /config key 'train.epochs': expected an integer >= 1, got 'two'/);
  oneLine(['train', '--config', config, '--set', 'optim.lr=.nan'], /config key 'optim.lr': expected a number >= 0, got NaN\n$/);
  oneLine(
    ['train', '--config', config, '--out', '/proc/scatter-run'],
    /^scatter: --out \/proc\/scatter-run is on the proc pseudo file system \(\/proc\), which holds no files/,
  );
  oneLine(['train', '--config', config, '--set', `data.root=${path.join(work, 'nowhere')}`, '--out', path.join(work, 'x')], /nowhere/);
  oneLine(['train', '--config', path.join(work, 'missing.yaml')], /missing\.yaml does not exist/);
  oneLine(['train'], /--config is required/, 2);
  oneLine(['frobnicate'], /unknown command 'frobnicate'/, 2);
  oneLine(['eval', '--run', path.join(work, 'nowhere')], /run directory .*nowhere does not exist/);
  const truncated = path.join(work, 'truncated');
  writeCifar10(truncated, { trainPerClass: 24, testPerClass: 6 });
  writeFileSync(path.join(truncated, 'test_batch.bin'), readFileSync(path.join(truncated, 'test_batch.bin')).subarray(0, 5000));
  oneLine(['train', '--config', config, '--set', `data.root=${truncated}`, '--out', path.join(work, 'y')], /test_batch\.bin/);
  const help = cli(['train', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /usage: scatter train/);
});

test('samplers b3rs and bet come from the config, with full batches and the configured options', async () => {
  const bet = loadConfig(config, ['train.sampler=bet', 'train.bet.mode=interleave', 'train.bet.period=2', 'train.b3rs.numBlocks=3']);
  const data = loadRunData(bet);
  const loader = trainLoader(bet, data);
  const sampler = loader.options.batchSampler;
  assert.ok(sampler instanceof BatchEmbeddedSampler);
  assert.equal(sampler.period, 2);
  assert.deepEqual(Array.from(sampler.embeddedBatches(0)), [1, 3, 5, 7]);
  assert.equal(loader.numBatches(0), Math.floor(data.train.length / 16));
  // The default reading is concat: every batch of 16 gains the B3RS sub-batch.
  const concat = trainLoader(loadConfig(config, ['train.sampler=bet', 'train.bet.subBatchSize=4']), data).options.batchSampler;
  assert.ok(concat instanceof BatchEmbeddedSampler);
  assert.equal(concat.period, 1);
  assert.deepEqual(
    concat.epochBatches(0).map((batch) => batch.length),
    Array(loader.numBatches(0)).fill(20),
  );
  const b3rs = trainLoader(loadConfig(config, ['train.sampler=b3rs', 'train.b3rs.q=0']), data).options.batchSampler;
  assert.ok(b3rs instanceof B3RSBatchSampler);
  assert.deepEqual(Array.from(b3rs.blockCounts), [4, 4, 4, 4]);
  await loader.close();
});

test('bfloat16 autocast with channels-last weights trains, and the whitening head stays float32', () => {
  const out = path.join(work, 'run-bf16');
  const result = cli([
    'train',
    '--config',
    config,
    '--out',
    out,
    '--set',
    'train.precision=bfloat16',
    '--set',
    'train.channelsLast=true',
    '--set',
    'model.neck=whitening',
    '--set',
    'train.epochs=2',
  ]);
  assert.equal(result.status, 0, result.stderr);
  const metrics = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.ok(
    metrics.every((m) => Number.isFinite(m.trainLoss)),
    JSON.stringify(metrics),
  );
  // Checkpoints stay float32 (autocast casts copies, not the weights).
  const tensors = checkpointTensors(path.join(out, 'checkpoints', 'last.safetensors'), 'model.');
  assert.equal(tensors['model.conv1.weight']!.dtype, 'float32');
  assert.equal(tensors['model.neck.running_whitening']!.dtype, 'float32');
});

test('train.recordCovarianceEvery writes the batch covariance of every Nth step to batch-covariance.jsonl', () => {
  const out = path.join(work, 'run-covariance');
  const result = cli(['train', '--config', config, '--out', out, '--set', 'train.recordCovarianceEvery=2', '--set', 'train.sampler=b3rs']);
  assert.equal(result.status, 0, result.stderr);
  const records = readFileSync(path.join(out, 'batch-covariance.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  const stepsPerEpoch = 128 / 16; // the tiny split's 128 images in batches of 16
  assert.deepEqual(
    records.map((r) => r.step),
    Array.from({ length: Math.ceil((3 * stepsPerEpoch) / 2) }, (_, i) => 2 * i),
  );
  for (const record of records) {
    assert.equal(record.sampler, 'b3rs');
    assert.equal(record.epoch, Math.floor(record.step / stepsPerEpoch) + 1);
    assert.ok(record.trace > 0, JSON.stringify(record));
    assert.ok(record.meanAbsCorrelation >= 0 && record.meanAbsCorrelation <= 1, JSON.stringify(record));
    // 64 channels from at most 16 images: the covariance is singular.
    assert.equal(record.condition, null);
  }
});

test("under interleaved BET the covariance records name each batch's sampler: every period-th batch is B3RS", () => {
  const out = path.join(work, 'run-covariance-bet');
  const result = cli([
    'train',
    '--config',
    config,
    '--out',
    out,
    '--set',
    'train.recordCovarianceEvery=1',
    '--set',
    'train.sampler=bet',
    '--set',
    'train.bet.mode=interleave',
    '--set',
    'train.bet.period=4',
    '--set',
    'train.epochs=1',
  ]);
  assert.equal(result.status, 0, result.stderr);
  const records = readFileSync(path.join(out, 'batch-covariance.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.deepEqual(
    records.map((r) => r.sampler),
    Array.from({ length: 8 }, (_, k) => ((k + 1) % 4 === 0 ? 'bet: b3rs batch' : 'bet: instance batch')),
  );
});
