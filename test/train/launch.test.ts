// Data-parallel training through `scatter launch` with two ranks on a small CIFAR-10-format data set:
// rank 0 alone writes the run, the sharded evaluation equals a one-process evaluation of the checkpoint,
// a stopped run resumes under launch, and a failing rank ends the launch with its error.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { writeCifar10 } from '../helpers/cifar.js';
import { startNode } from '../helpers/processes.js';
import { repoRoot, temporaryDir } from '../helpers/python.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const ENV = { SCATTER_NUM_THREADS: '1' };

function cli(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...ENV, ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const work = temporaryDir('launch');
const dataRoot = path.join(work, 'cifar-10-batches-bin');
writeCifar10(dataRoot, { trainPerClass: 24, testPerClass: 6 });
const config = path.join(work, 'tiny.yaml');
writeFileSync(
  config,
  `seed: 5
data: { dataset: cifar10, root: ${dataRoot}, imbalance: { profile: exponential, ratio: 4 }, workers: 1 }
model: { neck: whitening }
train: { epochs: 3, batchSize: 17, evalEvery: 1, sampler: bet }
schedule: { warmupEpochs: 1, milestones: [2] }
optim: { lr: 0.05 }
loss: { name: la }
distributed: { syncWhitening: true }
`,
);

const readJson = (file: string): Record<string, unknown> => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
const epochsOf = (run: string): number[] =>
  readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { epoch: number }).epoch);

test('launch --nproc 2 trains one run: rank 0 writes it, worldSize 2, evaluation equal to one process', () => {
  const out = path.join(work, 'two-ranks');
  const result = cli(['launch', '--nproc', '2', '--', 'train', '--config', config, '--out', out]);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout.trim().split('\n').length, 1, `only rank 0 prints the result:\n${result.stdout}`);
  assert.deepEqual(epochsOf(out), [1, 2, 3]);
  const summary = readJson(path.join(out, 'summary.json'));
  assert.equal(summary.worldSize, 2);
  // The ranks evaluated their shares of the test set with rank 0's model: one process on the checkpoint agrees.
  const single = cli(['eval', '--run', out, '--checkpoint', 'last']);
  assert.equal(single.status, 0, single.stderr);
  const again = readJson(path.join(out, 'summary.json'));
  assert.deepEqual(again.perClass, summary.perClass);
  assert.deepEqual(again.confusion, summary.confusion);
});

test('a launched run that is stopped resumes under launch from its last checkpoint', async () => {
  const out = path.join(work, 'stopped');
  const launcher = startNode(CLI, ['launch', '--nproc', '2', '--', 'train', '--config', config, '--out', out], ENV, 120_000);
  await launcher.output('epoch 2/3');
  launcher.child.kill('SIGTERM');
  const stopped = await launcher.done;
  // Reported as what it was: the launcher was stopped, not a rank that failed (exit 128 + SIGTERM's 15).
  assert.equal(stopped.code, 143, stopped.stderr);
  assert.match(stopped.stderr, /^scatter launch: stopped by SIGTERM; passing it to the ranks$/m);
  assert.doesNotMatch(stopped.stderr, /scatter launch: rank \d/);
  const resumed = cli(['launch', '--nproc', '2', '--', 'train', '--resume', out]);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming .* at epoch 2/);
  assert.deepEqual(epochsOf(out), [1, 2, 3]);
  assert.equal(readJson(path.join(out, 'summary.json')).worldSize, 2);
});

test('the ranks die with the launcher, even when it is killed with SIGKILL', async () => {
  const out = path.join(work, 'orphans');
  const launcher = startNode(
    CLI,
    ['launch', '--nproc', '2', '--', 'train', '--config', config, '--out', out, '--set', 'train.epochs=50'],
    ENV,
    120_000,
  );
  await launcher.output('epoch 1/50');
  const ranks = spawnSync('ps', ['-o', 'pid=', '--ppid', String(launcher.child.pid)], { encoding: 'utf8' })
    .stdout.trim()
    .split(/\s+/)
    .map(Number);
  assert.equal(ranks.length, 2, `the launcher's children: ${ranks.join(' ')}`);
  launcher.child.kill('SIGKILL');
  await launcher.done;
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + 10_000;
  while (ranks.some(alive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(ranks.filter(alive), [], 'ranks still running after the launcher was killed');
});

test("launch ends with the failing rank's exit code and says which rank failed", () => {
  const result = cli([
    'launch',
    '--nproc',
    '2',
    '--',
    'train',
    '--config',
    path.join(work, 'missing.yaml'),
    '--out',
    path.join(work, 'never'),
  ]);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /missing\.yaml/);
  assert.match(result.stderr, /scatter launch: rank [01] exited with 1; stopping the other ranks/);
});

test('usage errors: launch without a command, and data-parallel training without --out', () => {
  const noCommand = cli(['launch', '--nproc', '2']);
  assert.equal(noCommand.status, 2);
  assert.match(noCommand.stderr, /put the command after --/);
  const noOut = cli(['train', '--config', config], { WORLD_SIZE: '2', RANK: '0', MASTER_ADDR: '127.0.0.1', MASTER_PORT: '1' });
  assert.equal(noOut.status, 2);
  assert.match(noOut.stderr, /needs --out DIR/);
});
