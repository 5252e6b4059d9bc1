// Configs: defaults (the LDAM-DRW recipe), --set overrides, and one-line errors naming the bad key.
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { ConfigError } from '../../src/train/schema.js';
import { explicitKeys, loadConfig, resolveConfig } from '../../src/train/config.js';
import { trainingRecipe, unusedSettings } from '../../src/train/recipe.js';
import { repoRoot, temporaryDir } from '../helpers/python.js';

test('an empty config resolves to the LDAM-DRW CIFAR recipe', () => {
  const config = resolveConfig({});
  assert.equal(config.train.epochs, 200);
  assert.equal(config.train.batchSize, 128);
  assert.deepEqual([config.optim.lr, config.optim.momentum, config.optim.weightDecay], [0.1, 0.9, 2e-4]);
  assert.deepEqual([config.schedule.warmupEpochs, config.schedule.milestones], [5, [160, 180]]);
  assert.equal(config.model.name, 'resnet32');
  assert.match(config.data.root!, /cifar-10-batches-bin$/);
});

test('--set overrides any key, parsed as YAML', () => {
  const config = resolveConfig({ train: { epochs: 10 } }, [
    'train.epochs=1',
    'optim.nesterov=true',
    'schedule.milestones=[3, 4]',
    'data.root=/tmp/x',
    'train.stepsPerEpoch=null',
  ]);
  assert.equal(config.train.epochs, 1);
  assert.equal(config.optim.nesterov, true);
  assert.deepEqual(config.schedule.milestones, [3, 4]);
  assert.equal(config.data.root, '/tmp/x');
  assert.equal(config.train.stepsPerEpoch, null);
});

test('bad keys and values give one-line errors naming the key and what it allows', () => {
  const fails = (document: unknown, pattern: RegExp, overrides: string[] = []) =>
    assert.throws(
      () => resolveConfig(document, overrides),
      (error: Error) => error instanceof ConfigError && pattern.test(error.message) && !error.message.includes('\n'),
    );
  fails({ train: { epoch: 3 } }, /unknown config key 'train.epoch' \(allowed here: epochs, batchSize/);
  fails({ train: { epochs: 'many' } }, /config key 'train.epochs': expected an integer >= 1, got 'many'/);
  fails({ train: { epochs: 2.5 } }, /expected an integer/);
  fails({ model: { name: 'vgg' } }, /config key 'model.name': expected one of resnet32, resnet10, resnet50, resnext50_32x4d, got 'vgg'/);
  fails({ optim: { momentum: 2 } }, /'optim.momentum': expected a number >= 0 and <= 1, got 2/);
  fails({ schedule: { milestones: [1, 'x'] } }, /'schedule.milestones': expected a list of numbers/);
  fails({ data: 3 }, /config key 'data': expected a mapping/);
  fails({}, /unknown config key 'train.epoc'/, ['train.epoc=3']);
  fails({}, /--set expects key=value, got 'train.epochs'/, ['train.epochs']);
  fails({}, /'schedule.milestones': expected increasing epoch numbers >= 0, got \[5, 3\]/, ['schedule.milestones=[5, 3]']);
  fails([1, 2], /must be a YAML mapping/);
  fails(
    { train: { mix: { mixupAlpa: 1 } } },
    /unknown config key 'train.mix.mixupAlpa' \(allowed here: mixupAlpha, cutmixAlpha, prob, switchProb\)/,
  );
  fails({ train: { mix: { prob: 1.5 } } }, /config key 'train.mix.prob': expected a number >= 0 and <= 1, got 1.5/);
  fails({}, /config key 'train.mix.cutmixAlpha': expected a number >= 0, got -1/, ['train.mix.cutmixAlpha=-1']);
  fails({ train: { mix: 0.2 } }, /config key 'train.mix': expected a mapping with keys mixupAlpha, cutmixAlpha, prob, switchProb, got 0.2/);
  fails(
    { train: { mix: { mixupAlpha: 1 } }, decoupled: { method: 'crt' } },
    /config key 'train.mix': a decoupled second stage \(crt\) re-balances the classifier on unmixed images/,
  );
  fails({ optim: { name: 'adam' } }, /config key 'optim.name': expected one of sgd, adamw, sam, got 'adam'/);
  fails({ optim: { betas: [0.9] } }, /config key 'optim.betas': expected two numbers in \[0, 1\), got \[0.9\]/);
  fails({ optim: { betas: [0.9, 1] } }, /config key 'optim.betas': expected two numbers in \[0, 1\), got \[0.9, 1\]/);
  fails({ optim: { sam: { rho: 0 } } }, /config key 'optim.sam.rho': expected a number > 0, got 0/);
  fails({ optim: { sam: { base: 'sam' } } }, /config key 'optim.sam.base': expected one of sgd, adamw, got 'sam'/);
  fails({ optim: { sam: { adaptive: 'yes' } } }, /config key 'optim.sam.adaptive': expected true or false, got 'yes'/);
});

test("adamw takes PyTorch's lr 1e-3 and weight decay 1e-2 unless the config gives them; sgd keeps 0.1 and 2e-4", () => {
  const optim = (document: unknown, overrides: string[] = []) => {
    const { lr, weightDecay } = resolveConfig(document, overrides).optim;
    return { lr, weightDecay };
  };
  assert.deepEqual(optim({}), { lr: 0.1, weightDecay: 2e-4 });
  assert.deepEqual(optim({ optim: { name: 'adamw' } }), { lr: 1e-3, weightDecay: 1e-2 });
  assert.deepEqual(optim({}, ['optim.name=sam', 'optim.sam.base=adamw']), { lr: 1e-3, weightDecay: 1e-2 });
  assert.deepEqual(optim({ optim: { name: 'adamw', lr: 0.1 } }), { lr: 0.1, weightDecay: 1e-2 });
  assert.deepEqual(optim({ optim: { name: 'adamw' } }, ['optim.weightDecay=0.05']), { lr: 1e-3, weightDecay: 0.05 });
  // A resolved config (config.yaml) resolves to itself.
  const resolved = resolveConfig({ optim: { name: 'adamw', lr: 3e-4 } });
  assert.deepEqual(resolveConfig(JSON.parse(JSON.stringify(resolved))).optim, resolved.optim);
});

test('config files: a missing file and invalid YAML are named', () => {
  const dir = temporaryDir('config');
  assert.throws(() => loadConfig(path.join(dir, 'nope.yaml')), /nope\.yaml does not exist/);
  const broken = path.join(dir, 'broken.yaml');
  writeFileSync(broken, 'train:\n  epochs: [1,\n');
  assert.throws(() => loadConfig(broken), /broken\.yaml: not valid YAML/);
  const wrong = path.join(dir, 'wrong.yaml');
  writeFileSync(wrong, 'train:\n  batchsize: 64\n');
  assert.throws(() => loadConfig(wrong), /wrong\.yaml: unknown config key 'train.batchsize'/);
});

test('every shipped config under configs/ is valid', () => {
  const configsDir = path.join(repoRoot, 'configs');
  const files = readdirSync(configsDir, { recursive: true })
    .map(String)
    .filter((name) => name.endsWith('.yaml'));
  assert.ok(files.length >= 7, `found only ${files.length} configs`);
  for (const file of files) assert.doesNotThrow(() => loadConfig(path.join(configsDir, file)), file);
});

test('extends: a config states only how it differs from its base; loops and missing bases are named', () => {
  const dir = temporaryDir('config-extends');
  writeFileSync(path.join(dir, 'base.yaml'), 'train: { epochs: 7, batchSize: 32 }\nloss: { name: ce }\n');
  writeFileSync(path.join(dir, 'method.yaml'), 'extends: base.yaml\ntrain: { epochs: 9 }\nloss: { name: la, laTau: 2 }\n');
  const config = loadConfig(path.join(dir, 'method.yaml'), ['train.batchSize=16']);
  assert.deepEqual([config.train.epochs, config.train.batchSize, config.loss.name, config.loss.laTau], [9, 16, 'la', 2]);
  writeFileSync(path.join(dir, 'a.yaml'), 'extends: b.yaml\n');
  writeFileSync(path.join(dir, 'b.yaml'), 'extends: a.yaml\n');
  assert.throws(() => loadConfig(path.join(dir, 'a.yaml')), /'extends' loops back to itself/);
  writeFileSync(path.join(dir, 'orphan.yaml'), 'extends: gone.yaml\n');
  assert.throws(() => loadConfig(path.join(dir, 'orphan.yaml')), /orphan\.yaml: extends .*gone\.yaml, which does not exist/);
});

test('the training recipe keeps the settings that take effect and drops the unused and the executional ones', () => {
  const recipe = (overrides: string[]) => trainingRecipe(resolveConfig({}, overrides));
  assert.deepEqual(
    recipe([
      'model.whitening.eps=0.5',
      'train.bet.mode=interleave',
      'train.b3rs.q=1',
      'loss.focalGamma=3',
      'loss.drwBeta=0.9',
      'schedule.minLr=0.01',
      'decoupled.keepBias=true',
      'train.threads=1',
      'data.workers=0',
      'train.evalEvery=1',
      'train.recordCovarianceEvery=5',
      'train.channelsLast=true',
      'data.root=/elsewhere',
    ]),
    recipe([]),
  );
  assert.deepEqual(
    recipe(['model.neck=batchnorm', 'model.whitening.eps=0.5']),
    recipe(['model.neck=batchnorm']),
    'batch norm keeps its own eps',
  );
  assert.deepEqual(
    recipe(['model.neck=whitening', 'model.whitening.iterations=9']),
    recipe(['model.neck=whitening']),
    'zca has no iterations',
  );
  assert.deepEqual(
    recipe(['model.neck=whitening', 'model.whitening.implementation=typescript']),
    recipe(['model.neck=whitening']),
    'the whitening implementation is how the layer runs, not what it computes',
  );
  assert.deepEqual(
    recipe(['train.sampler=bet', 'train.bet.mode=interleave', 'train.bet.subBatchSize=8']),
    recipe(['train.sampler=bet', 'train.bet.mode=interleave']),
    'interleave has no sub-batch',
  );
  assert.deepEqual(
    recipe(['optim.betas=[0.5, 0.6]', 'optim.eps=0.1', 'optim.sam.rho=0.2', 'train.mix.prob=0.5', 'train.mix.switchProb=0.1']),
    recipe([]),
    'sgd has no betas, eps or sam; no alpha, no mixing',
  );
  assert.deepEqual(
    recipe(['optim.name=adamw', 'optim.momentum=0.5', 'optim.nesterov=true']),
    recipe(['optim.name=adamw']),
    'adamw has no momentum',
  );
  assert.deepEqual(
    recipe(['train.mix.mixupAlpha=1', 'train.mix.switchProb=0.1']),
    recipe(['train.mix.mixupAlpha=1']),
    'switchProb chooses between two kinds only',
  );
  const used: [string[], string][] = [
    [[], 'optim.name=adamw'],
    [['optim.name=adamw'], 'optim.betas=[0.8, 0.9]'],
    [['optim.name=sam', 'optim.sam.base=adamw'], 'optim.eps=0.1'],
    [['optim.name=sam'], 'optim.sam.rho=0.1'],
    [['optim.name=sam'], 'optim.momentum=0.5'],
    [[], 'train.mix.cutmixAlpha=1'],
    [['train.mix.cutmixAlpha=1'], 'train.mix.prob=0.5'],
    [['train.mix.cutmixAlpha=1', 'train.mix.mixupAlpha=0.2'], 'train.mix.switchProb=0.1'],
    [['model.neck=whitening'], 'model.whitening.eps=0.5'],
    [['model.neck=whitening', 'model.whitening.method=newton-schulz'], 'model.whitening.iterations=9'],
    [['model.neck=batchnorm'], 'model.whitening.momentum=0.5'],
    [['train.sampler=b3rs'], 'train.b3rs.q=1'],
    [['train.sampler=bet'], 'train.bet.subBatchSize=8'],
    [['loss.name=focal'], 'loss.focalGamma=3'],
    [['loss.name=cb-ce'], 'loss.cbBeta=0.99'],
    [['loss.drwStartEpoch=10'], 'loss.drwBeta=0.9'],
    [['schedule.type=cosine'], 'schedule.minLr=0.01'],
    [[], 'seed=3'],
    [[], 'train.precision=bfloat16'],
  ];
  for (const [base, change] of used) assert.notDeepEqual(recipe([...base, change]), recipe(base), `${change} after ${base.join(' ')}`);
});

test('keys set for a feature that is off are named with the setting that turns it off; no shipped config has one', () => {
  const file = path.join(repoRoot, 'configs', 'cifar10-lt-ir100', 'la.yaml');
  const overrides = [
    'model.whitening.eps=0.5',
    'train.bet.mode=interleave',
    'train.b3rs.q=1',
    'loss.focalGamma=2',
    'loss.drwBeta=0.9',
    'train.threads=1',
    'schedule.minLr=0.1',
  ];
  assert.deepEqual(unusedSettings(loadConfig(file, overrides), explicitKeys(file, overrides)), [
    { key: 'model.whitening.eps', why: 'model.neck is identity' },
    { key: 'train.bet.mode', why: 'train.sampler is instance' },
    { key: 'train.b3rs.q', why: 'train.sampler is instance' },
    { key: 'loss.focalGamma', why: 'loss.name is la' },
    { key: 'loss.drwBeta', why: 'loss.drwStartEpoch is null' },
  ]);
  const optimizer = ['optim.name=adamw', 'optim.momentum=0.5', 'optim.sam.rho=0.1', 'train.mix.prob=0.5'];
  assert.deepEqual(unusedSettings(loadConfig(file, optimizer), explicitKeys(file, optimizer)), [
    { key: 'train.mix.prob', why: 'train.mix.mixupAlpha and train.mix.cutmixAlpha are 0' },
    { key: 'optim.momentum', why: 'the optimizer that steps is adamw' },
    { key: 'optim.sam.rho', why: 'optim.name is adamw' },
  ]);
  const batchnorm = ['model.neck=batchnorm', 'model.whitening.eps=0.5', 'model.whitening.momentum=0.2'];
  assert.deepEqual(unusedSettings(loadConfig(file, batchnorm), explicitKeys(file, batchnorm)), [
    { key: 'model.whitening.eps', why: 'model.neck is batchnorm' },
  ]);
  for (const dataset of readdirSync(path.join(repoRoot, 'configs'))) {
    for (const name of readdirSync(path.join(repoRoot, 'configs', dataset))) {
      const shipped = path.join(repoRoot, 'configs', dataset, name);
      assert.deepEqual(unusedSettings(loadConfig(shipped), explicitKeys(shipped)), [], shipped);
    }
  }
});

test('data.valList: for list-file data sets, and tau-norm takes it or held-out images, not both', () => {
  assert.throws(
    () => resolveConfig({ data: { valList: 'val.txt' } }),
    /config key 'data\.valList' is for list-file data sets, not 'cifar10'/,
  );
  const listFile = { dataset: 'list-file', trainList: 'train.txt', testList: 'test.txt' };
  assert.equal(resolveConfig({ data: { ...listFile, valList: 'val.txt' }, decoupled: { method: 'tau-norm' } }).data.valList, 'val.txt');
  assert.throws(
    () => resolveConfig({ data: { ...listFile, valList: 'val.txt', holdoutPerClass: 2 }, decoupled: { method: 'tau-norm' } }),
    /tau-norm chooses tau on 'data\.holdoutPerClass' held-out images or on 'data\.valList', not both/,
  );
  assert.throws(
    () => resolveConfig({ data: listFile, decoupled: { method: 'tau-norm' } }),
    /set 'data\.holdoutPerClass' .* or 'data\.valList'/,
  );
});
