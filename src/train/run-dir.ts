// The run directory contract (docs/architecture.md), its files and their record types: config.yaml, metrics.jsonl (one JSON object per
// evaluated epoch), summary.json, checkpoints/, environment.jsonl (one object per process that trained the
// run), and when asked batch-covariance.jsonl (one object per recorded training step). Every file is written
// atomically (temporary file, fsync, rename), so an interrupted run never leaves a torn file behind. While a
// process trains the run it holds train.lock, so that a second trainer (a repeated --resume, a restarted
// sweep) cannot interleave its checkpoints and metrics with the first one's.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';

import { appendFile, writeFileAtomic } from '../util/files.js';
import { processRuns } from '../util/processes.js';
import type { DecoupledMethod } from '../longtail/decoupled.js';
import { type Config, loadConfig } from './config.js';
import type { EnvironmentRecord } from './environment.js';

export interface LockHolder {
  pid: number;
  host: string;
  since: string;
  /** Linux's boot id when the lock was taken: after a restart its pid may name another process. */
  boot?: string | null;
}

/** This boot's id (Linux); null where the system has none. */
function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

/** summary.json: the run's final evaluation, its best epoch and timings. */
export interface Summary {
  top1: number;
  many: number | null;
  medium: number | null;
  few: number | null;
  perClass: number[];
  classCounts: number[];
  bestTop1: number;
  bestEpoch: number;
  epochs: number;
  worldSize: number;
  timings: { trainSeconds: number; evalSeconds: number; secondsPerEpoch: number };
  confusion: number[][];
  /** Decoupled runs only: the method, the stage-1 checkpoint, and tau-norm's chosen tau. */
  decoupled?: { method: DecoupledMethod; from: string; checkpoint: 'best' | 'last'; tau?: number };
}

export class RunDir {
  #holdsLock = false;

  constructor(readonly root: string) {}

  static create(root: string): RunDir {
    mkdirSync(path.join(root, 'checkpoints'), { recursive: true });
    return new RunDir(root);
  }

  /** An existing run, for --resume and eval; errors name what is missing. */
  static open(root: string): RunDir {
    if (!existsSync(root)) throw new Error(`run directory ${root} does not exist`);
    if (!existsSync(path.join(root, 'config.yaml'))) throw new Error(`${root} is not a run directory: it has no config.yaml`);
    return new RunDir(root);
  }

  get configFile(): string {
    return path.join(this.root, 'config.yaml');
  }

  get metricsFile(): string {
    return path.join(this.root, 'metrics.jsonl');
  }

  get batchCovarianceFile(): string {
    return path.join(this.root, 'batch-covariance.jsonl');
  }

  get environmentFile(): string {
    return path.join(this.root, 'environment.jsonl');
  }

  appendEnvironment(record: EnvironmentRecord): void {
    appendRecords(this.environmentFile, [record]);
  }

  get summaryFile(): string {
    return path.join(this.root, 'summary.json');
  }

  get lockFile(): string {
    return path.join(this.root, 'train.lock');
  }

  /**
   * Takes train.lock for this process, or fails naming the process that holds it. A lock whose process has
   * ended (killed, or the machine restarted) is taken over; one held from another machine cannot be
   * checked, so it stands until that run ends or the file is deleted.
   */
  lockForTraining(): void {
    const mine: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString(), boot: bootId() };
    for (;;) {
      try {
        writeFileSync(this.lockFile, `${JSON.stringify(mine)}\n`, { flag: 'wx' });
        this.#holdsLock = true;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = this.trainer();
      if (holder !== null) {
        throw new Error(
          `${this.root} is being trained by process ${holder.pid} on ${holder.host} since ${holder.since}: ` +
            `wait for it or stop it (if that process no longer runs, delete ${this.lockFile})`,
        );
      }
      rmSync(this.lockFile, { force: true });
    }
  }

  /** The live process that holds train.lock (one on another machine counts as live), or null. */
  trainer(): LockHolder | null {
    const holder = readLockHolder(this.lockFile);
    return holder !== null && isAlive(holder) ? holder : null;
  }

  /** Gives train.lock back, if this RunDir took it. */
  releaseTrainingLock(): void {
    if (!this.#holdsLock) return;
    this.#holdsLock = false;
    rmSync(this.lockFile, { force: true });
  }

  checkpoint(name: 'last' | 'best'): string {
    return path.join(this.root, 'checkpoints', `${name}.safetensors`);
  }

  writeConfig(yaml: string): void {
    writeFileAtomic(this.configFile, yaml);
  }

  appendMetrics(record: Record<string, unknown>): void {
    appendRecords(this.metricsFile, [record]);
  }

  /** The metrics records, dropping those after `lastEpoch` (a resumed run rewrites what followed its checkpoint). */
  readMetrics(lastEpoch = Infinity): Record<string, unknown>[] {
    return readRecords(this.metricsFile, lastEpoch);
  }

  appendBatchCovariance(records: readonly Record<string, unknown>[]): void {
    appendRecords(this.batchCovarianceFile, records);
  }

  readBatchCovariance(): Record<string, unknown>[] {
    return readRecords(this.batchCovarianceFile, Infinity);
  }

  /** Drops what followed a checkpoint after `lastEpoch` from the epoch-keyed files, for a resumed run. */
  truncateAfter(lastEpoch: number): void {
    for (const file of [this.metricsFile, this.batchCovarianceFile]) {
      if (existsSync(file))
        writeFileAtomic(
          file,
          readRecords(file, lastEpoch)
            .map((record) => `${JSON.stringify(record)}\n`)
            .join(''),
        );
    }
  }

  /** The run's config.yaml, resolved. */
  config(): Config {
    return loadConfig(this.configFile);
  }

  writeSummary(summary: Summary): void {
    writeFileAtomic(this.summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
  }

  /**
   * Copies the run's compact record (RECORD_FILES that exist; no checkpoints) into `dest`, e.g. to commit a
   * finished run that a table quotes; JSON files without their indentation (the same values: a summary's confusion
   * matrix indented one number a line was two thirds whitespace, and records travel to the GPU machines within a
   * size limit). Returns the files copied.
   */
  copyRecord(dest: string): string[] {
    mkdirSync(dest, { recursive: true });
    const present = RECORD_FILES.filter((file) => existsSync(path.join(this.root, file)));
    for (const file of present) {
      const [from, to] = [path.join(this.root, file), path.join(dest, file)];
      if (file.endsWith('.json')) writeFileSync(to, `${JSON.stringify(JSON.parse(readFileSync(from, 'utf8')))}\n`);
      else copyFileSync(from, to);
    }
    return present;
  }
}

/** What a finished run is recorded by, without its checkpoints: enough to regenerate every table and the report. */
export const RECORD_FILES = [
  'config.yaml',
  'summary.json',
  'metrics.jsonl',
  'environment.jsonl',
  'analysis.json',
  'batch-covariance.jsonl',
] as const;

/** The lock's holder; null when the file is gone or unreadable (a lock torn by a crash holds nothing). */
function readLockHolder(file: string): LockHolder | null {
  try {
    const holder = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    return typeof holder.pid === 'number' && typeof holder.host === 'string' ? (holder as LockHolder) : null;
  } catch {
    return null;
  }
}

/** Whether the lock's process still runs; a holder on another machine is taken to. */
function isAlive(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return true;
  // A lock from before the machine restarted: its process is gone, whatever now has its pid.
  if (holder.boot !== undefined && holder.boot !== null && holder.boot !== bootId()) return false;
  return processRuns(holder.pid);
}

function appendRecords(file: string, records: readonly object[]): void {
  if (records.length > 0) appendFile(file, records.map((record) => `${JSON.stringify(record)}\n`).join(''));
}

/** The records of a JSON-lines file, null when it does not exist; a line that is not JSON is an error naming it. */
export function readJsonLines<T>(file: string): T[] | null {
  if (!existsSync(file)) return null;
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line, index) => {
      if (line.trim() === '') return [];
      try {
        return [JSON.parse(line) as T];
      } catch (error) {
        throw new Error(`${file} line ${index + 1} is not a JSON record (${(error as Error).message}): mend or delete that line`);
      }
    });
}

/** The JSON lines of `file` whose epoch is at most `lastEpoch`; none when it does not exist. */
function readRecords(file: string, lastEpoch: number): Record<string, unknown>[] {
  return (readJsonLines<Record<string, unknown>>(file) ?? []).filter((record) => (record.epoch as number) <= lastEpoch);
}
