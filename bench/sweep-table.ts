// The markdown table of a sweep's results (bench/sweep.ts): per job name, the mean and spread (sample
// standard deviation; "-" with one seed) over its finished seeds of top-1 / many / medium / few, in %, and
// each seed's top-1. Given the sweep's job list too, it names the list's jobs without a finished run (not
// started or stopped) instead of every unfinished record, which includes jobs since dropped from the list.
// With --against NAME, each row also gets its top-1 difference from that row and Welch's t-test of it
// (t, degrees of freedom, two-sided p), where both rows have at least 2 seeds. With --rows FILE (a JSON list
// of { name, what }), the table has those rows in that order, each described, and no others: the table of
// docs/results.md is this output as it is. In place of the results file it takes a folder of kept run records
// (sweep.js --keep: <name>-seed<seed>/summary.json ...), so that a committed table is regenerated from the runs.
// Usage: node dist/bench/sweep-table.js RESULTS.jsonl|RECORDS_DIR [JOBS.json] [--against NAME] [--rows FILE]
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { formatMeanSpread, mean, welchTest } from '../src/analysis/seed-statistics.js';
import { readJsonLines } from '../src/train/run-dir.js';

/** A line of the sweep's results file (bench/sweep.ts): a run collected or stopped; the latest one counts. */
interface SweepRecord {
  name: string;
  seed: number;
  unfinished?: boolean;
  top1?: number;
  many?: number | null;
  medium?: number | null;
  few?: number | null;
}

const { values: flags, positionals } = parseArgs({ options: { against: { type: 'string' }, rows: { type: 'string' } }, allowPositionals: true });
const [file, jobsFile] = positionals;
if (file === undefined) throw new Error('usage: sweep-table.js RESULTS.jsonl|RECORDS_DIR [JOBS.json] [--against NAME] [--rows FILE]');

/** The finished runs of a folder of kept records, from each <name>-seed<seed>/summary.json. */
function readRecordsDir(dir: string): SweepRecord[] {
  return readdirSync(dir).sort().flatMap((entry) => {
    const match = /^(.+)-seed(\d+)$/.exec(entry);
    const summaryFile = path.join(dir, entry, 'summary.json');
    if (match === null || !existsSync(summaryFile)) return [];
    const { top1, many, medium, few } = JSON.parse(readFileSync(summaryFile, 'utf8')) as SweepRecord;
    return [{ name: match[1]!, seed: Number(match[2]), top1, many, medium, few }];
  });
}

const results = existsSync(file) && statSync(file).isDirectory() ? readRecordsDir(file) : readJsonLines<SweepRecord>(file);
if (results === null) throw new Error(`${file}: no such results file`);

// The latest record of each (name, seed): a resumed sweep appends again.
const key = (job: { name: string; seed: number }): string => `${job.name}\u0000${job.seed}`;
const latest = new Map<string, SweepRecord>();
for (const result of results) latest.set(key(result), result);
const byName = new Map<string, SweepRecord[]>();
for (const result of latest.values()) {
  if (result.unfinished) continue;
  byName.set(result.name, [...(byName.get(result.name) ?? []), result]);
}

/** The values present, in %. */
const percents = (values: (number | null | undefined)[]): number[] =>
  values.filter((value): value is number => typeof value === 'number').map((value) => value * 100);

function cell(values: (number | null | undefined)[]): string {
  const present = percents(values);
  return present.length === 0 ? 'n/a' : formatMeanSpread(present);
}

const reference = flags.against;
if (reference !== undefined && !byName.has(reference)) throw new Error(`--against ${reference}: no finished run of that name`);
const referenceTop1 = reference === undefined ? [] : percents(byName.get(reference)!.map((run) => run.top1));

/** The row's top-1 against the reference row's: difference of means, and Welch's test where both have 2+ seeds. */
function comparison(top1: number[]): string {
  const difference = mean(top1) - mean(referenceTop1);
  const test = welchTest(top1, referenceTop1);
  const sign = (value: number): string => `${value >= 0 ? '+' : ''}${value.toFixed(2)}`;
  if (test === null) return `${sign(difference)} | - | - | -`;
  const p = test.p < 0.001 ? '< 0.001' : test.p.toFixed(3);
  return `${sign(difference)} | ${test.t.toFixed(2)} | ${test.df.toFixed(1)} | ${p}`;
}

// The rows: every finished name in order of appearance, or those --rows names, in its order, described.
const rows: { name: string; what?: string }[] = flags.rows === undefined
  ? [...byName.keys()].map((name) => ({ name }))
  : JSON.parse(readFileSync(flags.rows, 'utf8')) as { name: string; what: string }[];
const described = flags.rows !== undefined;
const header = ['run', ...(described ? ['what'] : []), 'seeds', 'top-1', 'many', 'medium', 'few', 'top-1 per seed',
  ...(reference === undefined ? [] : [`vs ${reference}`, 't', 'df', 'p'])];
const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---|').join('')}`];
for (const { name, what } of rows) {
  const runs = byName.get(name);
  if (runs === undefined) {
    lines.push(`| ${name} |${described ? ` ${what} |` : ''} not finished yet |${' |'.repeat(header.length - (described ? 3 : 2))}`);
    continue;
  }
  runs.sort((a, b) => a.seed - b.seed);
  const seeds = runs.map((run) => run.seed).join(', ');
  const compared = reference === undefined ? '' : name === reference ? ' (reference) | | | |' : ` ${comparison(percents(runs.map((run) => run.top1)))} |`;
  lines.push(`| ${name} |${described ? ` ${what} |` : ''} ${seeds} | ${cell(runs.map((run) => run.top1))} | ${cell(runs.map((run) => run.many))} | ` +
    `${cell(runs.map((run) => run.medium))} | ${cell(runs.map((run) => run.few))} | ${runs.map((run) => cell([run.top1])).join(', ')} |${compared}`);
}
const pending = jobsFile === undefined
  ? [...latest.values()].filter((result) => result.unfinished)
  : (JSON.parse(readFileSync(jobsFile, 'utf8')) as { name: string; seed: number }[]).filter((job) => {
    const record = latest.get(key(job));
    return record === undefined || record.unfinished === true;
  });
const missing = pending.map((result) => `${result.name} (seed ${result.seed})`);
console.log(lines.join('\n'));
if (missing.length > 0) console.log(`\nNot finished: ${missing.join(', ')}.`);
