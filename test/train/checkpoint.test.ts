// The epoch commit's recovery (src/train/checkpoint.ts), window by window: each state that a kill between two
// steps of a commit leaves is made by hand, then reconciled or evaluated. The kills themselves, at random
// moments of real runs, are test/train/faults.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { torch } from '../../src/index.js';
import {
  type CheckpointMeta,
  chooseCheckpoint,
  commitEpoch,
  nonFiniteTensors,
  readCheckpointMeta,
  reconcileRun,
} from '../../src/train/checkpoint.js';
import { RunDir } from '../../src/train/run-dir.js';
import { temporaryDir } from '../helpers/python.js';

const work = temporaryDir('checkpoint');
/** The pid of a process that has ended. */
const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;

const metricsOf = (epoch: number): Record<string, unknown> => ({ epoch, trainLoss: 1 / epoch, top1: epoch / 10 });
const covarianceOf = (epoch: number): Record<string, unknown>[] => [{ epoch, step: epoch * 10, trace: epoch }];

/** A run directory after `epochs` committed epochs whose top-1 peaks at `bestEpoch`: what commitEpoch leaves. */
function committedRun(name: string, epochs: number, bestEpoch: number): RunDir {
  const dir = RunDir.create(path.join(work, name));
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const best = Math.min(epoch, bestEpoch);
    const meta = {
      epoch,
      bestTop1: best / 10,
      bestEpoch: best,
      optimizerGroups: [],
      trainSeconds: epoch,
      committed: { metrics: metricsOf(epoch), batchCovariance: covarianceOf(epoch) },
    };
    commitEpoch(dir, { 'model.w': torch.full([2], epoch) }, meta, epoch === best);
  }
  return dir;
}

const metricsEpochs = (dir: RunDir): unknown[] => dir.readMetrics().map((record) => record.epoch);
const lines = (file: string): string[] => readFileSync(file, 'utf8').trim().split('\n');

test("commitEpoch writes last, best as its copy when improved, then the records kept in last's metadata", () => {
  const dir = committedRun('plain', 3, 2);
  assert.deepEqual(metricsEpochs(dir), [1, 2, 3]);
  assert.deepEqual(
    dir.readBatchCovariance().map((record) => record.epoch),
    [1, 2, 3],
  );
  const last = readCheckpointMeta(dir.checkpoint('last'));
  assert.equal(last.epoch, 3);
  assert.deepEqual(last.committed?.metrics, metricsOf(3));
  assert.equal(readCheckpointMeta(dir.checkpoint('best')).epoch, 2);
  assert.deepEqual(chooseCheckpoint(dir, 'best'), { file: dir.checkpoint('best'), epoch: 2, note: 'best.safetensors (epoch 2)' });
  assert.equal(chooseCheckpoint(dir, 'last').epoch, 3);
});

test('killed after last.safetensors: the missing records come back from it, and records past it are dropped', () => {
  const dir = committedRun('no-records', 3, 3);
  writeFileSync(
    dir.metricsFile,
    lines(dir.metricsFile)
      .slice(0, 2)
      .map((line) => `${line}\n`)
      .join(''),
  );
  writeFileSync(
    dir.batchCovarianceFile,
    lines(dir.batchCovarianceFile)
      .slice(0, 2)
      .map((line) => `${line}\n`)
      .join(''),
  );
  reconcileRun(dir);
  assert.deepEqual(dir.readMetrics(), [1, 2, 3].map(metricsOf));
  assert.deepEqual(dir.readBatchCovariance(), [1, 2, 3].flatMap(covarianceOf));
  // A metrics line without its covariance records (killed between the two appends): only the covariance returns.
  writeFileSync(
    dir.batchCovarianceFile,
    lines(dir.batchCovarianceFile)
      .slice(0, 2)
      .map((line) => `${line}\n`)
      .join(''),
  );
  reconcileRun(dir);
  assert.deepEqual(dir.readMetrics(), [1, 2, 3].map(metricsOf));
  assert.deepEqual(dir.readBatchCovariance(), [1, 2, 3].flatMap(covarianceOf));
  // Lines of an epoch the checkpoint does not hold (written by a trainer killed before its commit) go.
  dir.appendMetrics(metricsOf(4));
  reconcileRun(dir);
  assert.deepEqual(metricsEpochs(dir), [1, 2, 3]);
});

test('killed between last and best: eval takes last (it is the best epoch) and says so, and reconciling restores best', () => {
  const dir = committedRun('no-best', 3, 3);
  // best.safetensors still the epoch-2 file, or gone: either way not epoch 3's.
  const stale = committedRun('stale-best-source', 2, 2);
  writeFileSync(dir.checkpoint('best'), readFileSync(stale.checkpoint('best')));
  const chosen = chooseCheckpoint(dir, 'best');
  assert.equal(chosen.file, dir.checkpoint('last'));
  assert.match(chosen.note, /the best epoch 3, which is last\.safetensors/);
  reconcileRun(dir);
  assert.equal(readCheckpointMeta(dir.checkpoint('best')).epoch, 3);
  assert.deepEqual(readFileSync(dir.checkpoint('best')), readFileSync(dir.checkpoint('last')));
});

test('a best checkpoint that is missing for an earlier best epoch is an error, never another checkpoint in its place', () => {
  const dir = committedRun('lost-best', 3, 1);
  rmSync(dir.checkpoint('best'));
  assert.throws(() => chooseCheckpoint(dir, 'best'), /the best epoch is 1 but best\.safetensors is missing \(use --checkpoint last\)/);
  const unevaluated = RunDir.create(path.join(work, 'unevaluated'));
  const meta: CheckpointMeta & { committed: { metrics: Record<string, unknown>; batchCovariance: [] } } = {
    epoch: 1,
    bestTop1: -1,
    bestEpoch: -1,
    optimizerGroups: [],
    trainSeconds: 1,
    committed: { metrics: { epoch: 1 }, batchCovariance: [] },
  };
  commitEpoch(unevaluated, { 'model.w': torch.ones([1]) }, meta, false);
  assert.throws(() => chooseCheckpoint(unevaluated, 'best'), /no best checkpoint: no evaluation yet after 1 epochs/);
  assert.throws(() => chooseCheckpoint(RunDir.create(path.join(work, 'empty')), 'last'), /has no checkpoint yet/);
});

test("temporary files of dead writers are removed; a live process's stay", () => {
  const dir = committedRun('temporaries', 1, 1);
  const dead = `${dir.checkpoint('last')}.tmp-${deadPid}`;
  const deadSummary = path.join(dir.root, `summary.json.tmp-${deadPid}`);
  const live = `${dir.checkpoint('best')}.tmp-${process.pid}`;
  for (const file of [dead, deadSummary, live]) writeFileSync(file, 'partial');
  reconcileRun(dir);
  assert.ok(!existsSync(dead) && !existsSync(deadSummary), readdirSync(path.dirname(dead)).join(' '));
  assert.ok(existsSync(live));
});

test('a state that is not finite is never written: the error names the tensors and the last good checkpoint', () => {
  const dir = committedRun('non-finite', 1, 1);
  const before = readFileSync(dir.checkpoint('last'));
  const tensors = {
    'model.a': torch.ones([3]),
    'model.b': torch.tensor([1, Number.NaN]),
    'optimizer.c': torch.tensor([Number.POSITIVE_INFINITY]),
    'rng.torch': torch.zeros([4], { dtype: 'uint8' }),
  };
  assert.deepEqual(nonFiniteTensors(tensors), ['model.b', 'optimizer.c']);
  const meta = {
    epoch: 2,
    bestTop1: 0.1,
    bestEpoch: 1,
    optimizerGroups: [],
    trainSeconds: 2,
    committed: { metrics: metricsOf(2), batchCovariance: [] },
  };
  assert.throws(
    () => commitEpoch(dir, tensors, meta, false),
    /^NonFiniteStateError: after epoch 2 the training state is not finite \(2 tensors, first model\.b\): it was not saved; the last good checkpoint is .*last\.safetensors \(epoch 1\)$/,
  );
  assert.deepEqual(readFileSync(dir.checkpoint('last')), before);
  assert.deepEqual(metricsEpochs(dir), [1]);
});
