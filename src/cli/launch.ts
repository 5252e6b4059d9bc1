// `scatter launch`: one machine's share of a data-parallel run, as torchrun starts it. It starts one
// process per rank with RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT
// set, and when any of them fails it stops the others, so that a dead rank never leaves the rest waiting
// out the collective timeout. The ranks die with the launcher too, however it ends (kill -9 included): each
// asks the kernel for a signal when its parent ends (followLauncher).
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { constants as osConstants } from 'node:os';
import { fileURLToPath } from 'node:url';

import * as torch from '../torch/index.js';

/** The variable that tells a rank which launcher started it. */
const LAUNCHER_PID = 'SCATTER_LAUNCHER_PID';

export interface LaunchOptions {
  /** Processes on this machine. */
  nproc: number;
  /** Machines in the run (default 1) and this one's index (default 0). */
  nnodes?: number;
  nodeRank?: number;
  /** Where rank 0 hosts the rendezvous store (default 127.0.0.1; name rank 0's machine when nnodes > 1). */
  masterAddr?: string;
  /** Default: a free port when the run has one machine, else 29500 (torchrun's). */
  masterPort?: number;
}

/** How long a rank that was asked to stop may take before it is killed. */
const STOP_GRACE_MS = 10_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`launch: ${name} must be an integer >= ${min}, got ${value}`);
}

/** Runs `scatter <args>` as this machine's ranks; resolves to the exit code (the first failure's, else 0). */
export async function launch(options: LaunchOptions, args: readonly string[]): Promise<number> {
  const nnodes = options.nnodes ?? 1;
  const nodeRank = options.nodeRank ?? 0;
  checkCount('--nproc', options.nproc, 1);
  checkCount('--nnodes', nnodes, 1);
  checkCount('--node-rank', nodeRank, 0);
  if (nodeRank >= nnodes) throw new RangeError(`launch: --node-rank ${nodeRank} is not below --nnodes ${nnodes}`);
  if (args.length === 0) throw new RangeError('launch: name the command the ranks run, e.g. -- train --config FILE --out DIR');
  const masterPort = options.masterPort ?? (nnodes === 1 ? await freePort() : 29500);
  const worldSize = options.nproc * nnodes;
  const main = fileURLToPath(new URL('./main.js', import.meta.url));

  const ranks: ChildProcess[] = [];
  let failure: number | null = null;
  /** The signal the launcher itself was sent (SIGINT, SIGTERM): forwarded to the ranks, reported as what it is. */
  let stoppedBy: NodeJS.Signals | null = null;
  const stopAll = (): void => {
    for (const child of ranks) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS).unref();
    }
  };
  const exits = Array.from({ length: options.nproc }, (_, localRank) => {
    const rank = nodeRank * options.nproc + localRank;
    const child = spawn(process.execPath, [main, ...args], {
      stdio: 'inherit',
      env: {
        ...process.env,
        RANK: String(rank),
        LOCAL_RANK: String(localRank),
        WORLD_SIZE: String(worldSize),
        LOCAL_WORLD_SIZE: String(options.nproc),
        MASTER_ADDR: options.masterAddr ?? '127.0.0.1',
        MASTER_PORT: String(masterPort),
        [LAUNCHER_PID]: String(process.pid),
      },
    });
    ranks.push(child);
    return new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        if ((code !== 0 || signal !== null) && failure === null) {
          failure = code !== null && code !== 0 ? code : 1;
          if (stoppedBy === null) {
            process.stderr.write(
              `scatter launch: rank ${rank} ${signal === null ? `exited with ${code}` : `was killed by ${signal}`}; stopping the other ranks\n`,
            );
            stopAll();
          }
        }
        resolve();
      });
    });
  });
  const forward = (signal: NodeJS.Signals): void => {
    if (stoppedBy === null) process.stderr.write(`scatter launch: stopped by ${signal}; passing it to the ranks\n`);
    stoppedBy = signal;
    for (const child of ranks) child.kill(signal);
  };
  process.on('SIGINT', forward).on('SIGTERM', forward);
  try {
    await Promise.all(exits);
  } finally {
    process.off('SIGINT', forward).off('SIGTERM', forward);
  }
  // Stopped by a signal: the shell's convention, 128 + its number.
  if (stoppedBy !== null) return 128 + (osConstants.signals[stoppedBy] ?? 15);
  return failure ?? 0;
}

/**
 * In a rank that `scatter launch` started: dies (SIGKILL) when the launcher ends, so that no rank trains on as an
 * orphan; a launcher already gone ends this rank at once. Elsewhere (torchrun, a plain run) does nothing.
 */
export function followLauncher(): void {
  const launcher = process.env[LAUNCHER_PID];
  if (launcher === undefined) return;
  torch.setParentDeathSignal('SIGKILL');
  // The launcher may have died before the request: the parent is then another process.
  if (process.ppid !== Number(launcher)) {
    process.stderr.write(`scatter: the launcher (process ${launcher}) has ended; this rank stops\n`);
    process.exit(1);
  }
}
