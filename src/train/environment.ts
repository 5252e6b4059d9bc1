// Where and with what a run was trained, for environment.jsonl (one line per process that trained it: a
// resumed run may move between machines): scatter's version and commit, Node, libtorch, the device and
// threads, the CPU. Numbers in a results table are only as trustworthy as what says how they were made.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { PretrainedSource } from '../models/index.js';
import * as torch from '../torch/index.js';

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** scatter's git commit and whether tracked files differ from it; nulls outside a git checkout. */
function gitState(): { commit: string | null; modified: boolean | null } {
  if (!existsSync(path.join(PACKAGE_ROOT, '.git'))) return { commit: null, modified: null };
  const git = (...args: string[]) => spawnSync('git', ['-C', PACKAGE_ROOT, ...args], { encoding: 'utf8' });
  const head = git('rev-parse', 'HEAD');
  if (head.status !== 0) return { commit: null, modified: null };
  const status = git('status', '--porcelain', '--untracked-files=no');
  return { commit: head.stdout.trim(), modified: status.status === 0 ? status.stdout.trim() !== '' : null };
}

export interface Environment {
  scatter: string;
  commit: string | null;
  /** Tracked files differ from the commit (the code that ran is not exactly the commit's). */
  modified: boolean | null;
  node: string;
  libtorch: string;
  /** libtorch's intra-op parallel backend (OpenMP, native). */
  parallel: string;
  device: string;
  threads: number;
  worldSize: number;
  cpu: string;
  cores: number;
  platform: string;
}

/** One line of environment.jsonl: when a process started training the run, from which epoch, and where. */
export interface EnvironmentRecord extends Environment {
  startedAt: string;
  firstEpoch: number;
  /** The pretrained file (model.pretrained) and its sha256, on the line of the process that started from it. */
  pretrained?: PretrainedSource;
}

export function describeEnvironment(device: string, worldSize: number): Environment {
  const { version } = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
  const { libtorch, parallel: parallelInfo } = torch.version();
  // libtorch's parallel report is a page; its backend line is what tells builds apart.
  const parallel = /ATen parallel backend: (.*)/.exec(parallelInfo)?.[1]?.trim() ?? 'unknown';
  const cpus = os.cpus();
  return {
    scatter: version,
    ...gitState(),
    node: process.version,
    libtorch,
    parallel,
    device,
    threads: torch.getNumThreads(),
    worldSize,
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  };
}
