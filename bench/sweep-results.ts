// The sweep's results file (bench/sweep.ts writes it, bench/sweep-table.ts reads it): one JSON record per line,
// per run collected or stopped; a run can have several records, the latest one counts.
import { readFileSync } from 'node:fs';

export interface SweepRecord {
  name: string;
  seed: number;
  unfinished?: boolean;
  top1?: number;
  many?: number | null;
  medium?: number | null;
  few?: number | null;
}

/** The records of a results file, in the order written; a line that is not JSON is an error naming it. */
export function readSweepResults(file: string): SweepRecord[] {
  return readFileSync(file, 'utf8').split('\n').flatMap((line, index) => {
    if (line.trim() === '') return [];
    try {
      return [JSON.parse(line) as SweepRecord];
    } catch (error) {
      throw new Error(`${file} line ${index + 1} is not a JSON record (${(error as Error).message}): mend or delete that line`);
    }
  });
}
