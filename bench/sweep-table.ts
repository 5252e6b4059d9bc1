// The markdown table of a sweep's results (bench/sweep.ts): per job name, the mean and spread (sample
// standard deviation; "-" with one seed) over its finished seeds of top-1 / many / medium / few, in %, and
// each seed's top-1. Given the sweep's job list too, it names the list's jobs without a finished run (not
// started or stopped) instead of every unfinished record, which includes jobs since dropped from the list.
// Usage: node dist/bench/sweep-table.js RESULTS.jsonl [JOBS.json]
import { readFileSync } from 'node:fs';

interface Result {
  name: string;
  seed: number;
  unfinished?: boolean;
  top1?: number;
  many?: number | null;
  medium?: number | null;
  few?: number | null;
}

const [file, jobsFile] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: sweep-table.js RESULTS.jsonl [JOBS.json]');
const results = readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Result);

// The latest record of each (name, seed): a resumed sweep appends again.
const key = (job: { name: string; seed: number }): string => `${job.name}\u0000${job.seed}`;
const latest = new Map<string, Result>();
for (const result of results) latest.set(key(result), result);
const byName = new Map<string, Result[]>();
for (const result of latest.values()) {
  if (result.unfinished) continue;
  byName.set(result.name, [...(byName.get(result.name) ?? []), result]);
}

function cell(values: (number | null | undefined)[]): string {
  const present = values.filter((value): value is number => typeof value === 'number').map((value) => value * 100);
  if (present.length === 0) return 'n/a';
  const mean = present.reduce((a, b) => a + b, 0) / present.length;
  if (present.length === 1) return mean.toFixed(2);
  const spread = Math.sqrt(present.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (present.length - 1));
  return `${mean.toFixed(2)} ± ${spread.toFixed(2)}`;
}

const lines = ['| run | seeds | top-1 | many | medium | few | top-1 per seed |', '|---|---|---|---|---|---|---|'];
for (const [name, runs] of byName) {
  runs.sort((a, b) => a.seed - b.seed);
  const seeds = runs.map((run) => run.seed).join(', ');
  lines.push(`| ${name} | ${seeds} | ${cell(runs.map((run) => run.top1))} | ${cell(runs.map((run) => run.many))} | ` +
    `${cell(runs.map((run) => run.medium))} | ${cell(runs.map((run) => run.few))} | ${runs.map((run) => cell([run.top1])).join(', ')} |`);
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
