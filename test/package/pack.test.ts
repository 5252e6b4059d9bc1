// The package as a user gets it: `npm pack` of this tree installed into an empty project, whose `scatter` command
// shows its help and trains a step on generated data, and whose import of 'scatter-lt' loads a trained run for
// inference. The tarball must hold what a user needs and nothing of the repository's own (tests, benches, runs).
// The package's install script builds the addon (scripts/setup.mjs --native-only, as `npm test` does here); to
// keep this test short the project gets the addons this tree built instead of compiling them again.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { writeCifar10 } from '../helpers/cifar.js';
import { repoRoot, temporaryDir } from '../helpers/python.js';

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, SCATTER_NUM_THREADS: '1' } });
  assert.equal(result.status, 0, `${command} ${args.join(' ')} failed:\n${result.stderr}`);
  return result.stdout;
}

test('the packed tarball installs into an empty project: its CLI trains, its API predicts', { timeout: 600_000 }, () => {
  const work = temporaryDir('pack');
  const packed = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], repoRoot)) as {
    filename: string;
    files: { path: string }[];
  }[];
  const files = packed[0]!.files.map((file) => file.path);
  for (const needed of [
    'dist/src/index.js',
    'dist/src/cli/main.js',
    'native/binding.gyp',
    'native/src/ops.cc',
    'native/src/image.cc',
    'native/libjpeg.cjs',
    'scripts/setup.mjs',
    'configs/cifar10-lt-ir100/whiten-la-b3rs-bet.yaml',
    'README.md',
    'package.json',
  ]) {
    assert.ok(files.includes(needed), `${needed} is not in the package`);
  }
  for (const prefix of ['test/', 'dist/test/', 'bench/', 'dist/bench/', 'docs/measured-runs/', 'native/build/', 'src/']) {
    assert.deepEqual(
      files.filter((file) => file.startsWith(prefix)),
      [],
      `${prefix} does not belong in the package`,
    );
  }

  const project = path.join(work, 'project');
  mkdirSync(project);
  writeFileSync(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'user-project', version: '1.0.0', type: 'module', private: true }),
  );
  run('npm', ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', path.join(work, packed[0]!.filename)], project);
  const installed = path.join(project, 'node_modules', 'scatter-lt');
  for (const addon of ['scatter.node', 'scatter_image.node']) {
    cpSync(path.join(repoRoot, 'native', 'build', 'Release', addon), path.join(installed, 'native', 'build', 'Release', addon));
  }

  const scatter = path.join(project, 'node_modules', '.bin', 'scatter');
  assert.match(run(scatter, ['--help'], project), /usage: scatter <command>/);
  const data = path.join(work, 'cifar-10-batches-bin');
  writeCifar10(data, { trainPerClass: 24, testPerClass: 6 });
  run(
    scatter,
    [
      'train',
      '--config',
      path.join(installed, 'configs', 'cifar10-lt-ir100', 'whiten-la.yaml'),
      '--out',
      path.join(project, 'run'),
      '--set',
      `data.root=${data}`,
      '--set',
      'data.imbalance.ratio=4',
      '--set',
      'train.epochs=1',
      '--set',
      'train.stepsPerEpoch=1',
      '--set',
      'train.batchSize=16',
      '--set',
      'data.workers=0',
    ],
    project,
  );
  assert.equal(JSON.parse(readFileSync(path.join(project, 'run', 'summary.json'), 'utf8')).classCounts.length, 10);
  writeFileSync(
    path.join(project, 'use.js'),
    `import { loadClassifier, torch } from 'scatter-lt';
const model = await loadClassifier('run', { checkpoint: 'last' });
const [prediction] = await model.predict([torch.zeros([3, 32, 32])], { topK: 2 });
console.log(JSON.stringify(prediction));
`,
  );
  const prediction = JSON.parse(run(process.execPath, ['use.js'], project)) as { top: { name: string }[] };
  assert.equal(prediction.top.length, 2);
  assert.equal(typeof prediction.top[0]!.name, 'string');
});
