// The run directory contract (docs/architecture.md): config.yaml, metrics.jsonl (one JSON object per
// evaluated epoch), summary.json, checkpoints/. Every file is written atomically (temporary file, fsync,
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
    appendFileSync(this.metricsFile, `${JSON.stringify(record)}\n`);
  }

  /** The metrics records, dropping those after `lastEpoch` (a resumed run rewrites what followed its checkpoint). */
  readMetrics(lastEpoch = Infinity): Record<string, unknown>[] {
    if (!existsSync(this.metricsFile)) return [];
    return readFileSync(this.metricsFile, 'utf8').split('\n').filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((record) => (record.epoch as number) <= lastEpoch);
  }

  rewriteMetrics(records: Record<string, unknown>[]): void {
    writeFileAtomic(this.metricsFile, records.map((record) => `${JSON.stringify(record)}\n`).join(''));
  }

  writeSummary(summary: Record<string, unknown>): void {
    writeFileAtomic(this.summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
  }
}
