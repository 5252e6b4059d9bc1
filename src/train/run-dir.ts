// The run directory contract (docs/architecture.md): config.yaml, metrics.jsonl (one JSON object per
// evaluated epoch), summary.json, checkpoints/, and when asked batch-covariance.jsonl (one object per
// recorded training step). Every file is written atomically (temporary file, fsync,
// rename), so an interrupted run never leaves a torn file behind.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { writeFileAtomic } from '../util/files.js';

export class RunDir {
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

  get summaryFile(): string {
    return path.join(this.root, 'summary.json');
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
      if (existsSync(file)) writeFileAtomic(file, readRecords(file, lastEpoch).map((record) => `${JSON.stringify(record)}\n`).join(''));
    }
  }

  writeSummary(summary: Record<string, unknown>): void {
    writeFileAtomic(this.summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
  }
}

function appendRecords(file: string, records: readonly Record<string, unknown>[]): void {
  if (records.length > 0) appendFileSync(file, records.map((record) => `${JSON.stringify(record)}\n`).join(''));
}

/** The JSON lines of `file` whose epoch is at most `lastEpoch`; none when it does not exist. */
function readRecords(file: string, lastEpoch: number): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((record) => (record.epoch as number) <= lastEpoch);
}
