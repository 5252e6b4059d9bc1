// The run directory's training lock: who holds it, when a lock is stale, and giving it back.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { RunDir } from '../../src/train/run-dir.js';
import { temporaryDir } from '../helpers/python.js';

const work = temporaryDir('run-dir');
const bootId = existsSync('/proc/sys/kernel/random/boot_id') ? readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() : null;
/** The pid of a process that has ended. */
const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;

function lockedBy(name: string, holder: Record<string, unknown>): RunDir {
  const dir = RunDir.create(path.join(work, name));
  writeFileSync(dir.lockFile, JSON.stringify({ host: hostname(), since: '2026-01-01T00:00:00.000Z', ...holder }));
  return dir;
}

test('a live holder refuses the lock, naming itself; giving the lock back frees it', () => {
  const dir = RunDir.create(path.join(work, 'live'));
  dir.lockForTraining();
  const holder = JSON.parse(readFileSync(dir.lockFile, 'utf8'));
  assert.equal(holder.pid, process.pid);
  assert.equal(holder.boot, bootId);
  const second = new RunDir(dir.root);
  assert.deepEqual(second.trainer()?.pid, process.pid);
  assert.throws(
    () => second.lockForTraining(),
    new RegExp(
      `live is being trained by process ${process.pid} on ${hostname()} since .*: wait for it or stop it \\(if that process no longer runs, delete .*train\\.lock\\)`,
    ),
  );
  second.releaseTrainingLock();
  assert.ok(existsSync(dir.lockFile), 'only the holder gives the lock back');
  dir.releaseTrainingLock();
  assert.ok(!existsSync(dir.lockFile));
  assert.equal(second.trainer(), null);
});

test('stale locks are taken over: a dead process, a lock from before a restart, a torn file', () => {
  const stale = [
    lockedBy('dead', { pid: deadPid, boot: bootId }),
    ...(bootId === null ? [] : [lockedBy('restarted', { pid: process.pid, boot: 'another-boot' })]),
  ];
  const torn = RunDir.create(path.join(work, 'torn'));
  writeFileSync(torn.lockFile, '{"pid": 1');
  for (const dir of [...stale, torn]) {
    assert.equal(dir.trainer(), null, dir.root);
    dir.lockForTraining();
    assert.equal(JSON.parse(readFileSync(dir.lockFile, 'utf8')).pid, process.pid, dir.root);
    dir.releaseTrainingLock();
  }
});

test('a lock held from another machine stands: it cannot be checked from here', () => {
  const dir = lockedBy('elsewhere', { pid: deadPid, host: `${hostname()}-other`, boot: 'another-boot' });
  assert.equal(dir.trainer()?.host, `${hostname()}-other`);
  assert.throws(() => dir.lockForTraining(), /is being trained by process \d+ on .*-other/);
});
