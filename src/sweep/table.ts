// A sweep's markdown table: per job name, the mean and spread (sample standard deviation; "-" with one seed) over
// its finished seeds of top-1 / many / medium / few, in %, and each seed's top-1; with a reference row, each row's
// top-1 difference from it and Welch's t-test of that difference (t, degrees of freedom, two-sided p) where both
// have at least 2 seeds. The source is a sweep's results file or a folder of kept run records
// (<name>-seed<seed>/summary.json: runSweep's `keep`), so that a committed table is regenerated from the runs
// themselves. Given the sweep's jobs, the jobs without a finished run are named below the table.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

import { formatMeanSpread, mean, welchTest } from '../analysis/seed-statistics.js';
import { readJsonLines } from '../train/run-dir.js';
import type { SweepRow } from './file.js';
import type { SweepRecord } from './runner.js';

export interface TableOptions {
  /** A results file (JSON lines) or a folder of run records. */
  source: string;
  /** The sweep's jobs: those without a finished run are listed as not finished. */
  jobs?: readonly { name: string; seed: number }[];
  /** The rows, in order, described; default: every finished name in order of appearance. */
  rows?: readonly SweepRow[] | null;
  /** The reference row for the differences and Welch's tests. */
  against?: string | null;
}

/** The finished runs of a folder of kept records, from each <name>-seed<seed>/summary.json. */
function readRecordsDir(dir: string): SweepRecord[] {
  return readdirSync(dir)
    .sort()
    .flatMap((entry) => {
      const match = /^(.+)-seed(\d+)$/.exec(entry);
      const summaryFile = path.join(dir, entry, 'summary.json');
      if (match === null || !existsSync(summaryFile)) return [];
      const { top1, many, medium, few } = JSON.parse(readFileSync(summaryFile, 'utf8')) as SweepRecord;
      return [{ name: match[1]!, seed: Number(match[2]), top1, many, medium, few }];
    });
}

/** The values present, in %. */
const percents = (values: readonly (number | null | undefined)[]): number[] =>
  values.filter((value): value is number => typeof value === 'number').map((value) => value * 100);

function cell(values: readonly (number | null | undefined)[]): string {
  const present = percents(values);
  return present.length === 0 ? 'n/a' : formatMeanSpread(present);
}

/** The table's lines, then (after a blank line) a "Not finished: ..." line where jobs lack a finished run. */
export function sweepTable(options: TableOptions): string {
  const { source } = options;
  const results = existsSync(source) && statSync(source).isDirectory() ? readRecordsDir(source) : readJsonLines<SweepRecord>(source);
  if (results === null) throw new Error(`${source}: no such results file or records folder`);
  // The latest record of each (name, seed): a resumed sweep appends again.
  const key = (job: { name: string; seed: number }): string => `${job.name}\u0000${job.seed}`;
  const latest = new Map<string, SweepRecord>();
  for (const result of results) latest.set(key(result), result);
  const byName = new Map<string, SweepRecord[]>();
  for (const result of latest.values()) {
    if (!result.unfinished) byName.set(result.name, [...(byName.get(result.name) ?? []), result]);
  }
  const reference = options.against ?? undefined;
  if (reference !== undefined && !byName.has(reference)) throw new Error(`--against ${reference}: no finished run of that name`);
  const referenceTop1 = reference === undefined ? [] : percents(byName.get(reference)!.map((run) => run.top1));
  const comparison = (top1: number[]): string => {
    const difference = mean(top1) - mean(referenceTop1);
    const test = welchTest(top1, referenceTop1);
    const sign = (value: number): string => `${value >= 0 ? '+' : ''}${value.toFixed(2)}`;
    if (test === null) return `${sign(difference)} | - | - | -`;
    return `${sign(difference)} | ${test.t.toFixed(2)} | ${test.df.toFixed(1)} | ${test.p < 0.001 ? '< 0.001' : test.p.toFixed(3)}`;
  };

  const rows = options.rows ?? [...byName.keys()].map((name) => ({ name, what: undefined }));
  const described = options.rows !== undefined && options.rows !== null;
  const header = [
    'run',
    ...(described ? ['what'] : []),
    'seeds',
    'top-1',
    'many',
    'medium',
    'few',
    'top-1 per seed',
    ...(reference === undefined ? [] : [`vs ${reference}`, 't', 'df', 'p']),
  ];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---|').join('')}`];
  for (const { name, what } of rows) {
    const runs = byName.get(name);
    if (runs === undefined) {
      lines.push(`| ${name} |${described ? ` ${what} |` : ''} not finished yet |${' |'.repeat(header.length - (described ? 3 : 2))}`);
      continue;
    }
    runs.sort((a, b) => a.seed - b.seed);
    const compared =
      reference === undefined
        ? ''
        : name === reference
          ? ' (reference) | | | |'
          : ` ${comparison(percents(runs.map((run) => run.top1)))} |`;
    lines.push(
      `| ${name} |${described ? ` ${what} |` : ''} ${runs.map((run) => run.seed).join(', ')} | ${cell(runs.map((run) => run.top1))} | ` +
        `${cell(runs.map((run) => run.many))} | ${cell(runs.map((run) => run.medium))} | ${cell(runs.map((run) => run.few))} | ` +
        `${runs.map((run) => cell([run.top1])).join(', ')} |${compared}`,
    );
  }
  const pending =
    options.jobs === undefined
      ? [...latest.values()].filter((result) => result.unfinished)
      : options.jobs.filter((job) => !byName.get(job.name)?.some((run) => run.seed === job.seed));
  const missing = pending.map((result) => `${result.name} (seed ${result.seed})`);
  return missing.length === 0 ? lines.join('\n') : `${lines.join('\n')}\n\nNot finished: ${missing.join(', ')}.`;
}
