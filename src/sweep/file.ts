// A sweep file: the jobs of a sweep, in YAML (or JSON, which is YAML too). Either a list of jobs, or a mapping:
//   set: [train.epochs=30, ...]        overrides for every job, applied before each job's own
//   against: la                        the table's reference row (Welch's test against it)
//   rows: [{ name: la, what: ... }]    the table's rows, in order, described
//   jobs:
//     - { name: ce, config: configs/cifar10-lt-ir100/ce.yaml, seeds: [0, 1, 2] }
//     - { name: crt, config: configs/cifar10-lt-ir100/crt.yaml, seed: 0, stage1: ce, set: [train.epochs=10] }
// A job runs `scatter train --config CONFIG` with its overrides and seed into OUT/<name>-seed<seed>; `seeds` makes
// one job per seed; `stage1` names the job (same seed) whose finished run a decoupled job starts from. Config paths
// are relative to the current folder, as with `scatter train`; `${NAME}` in an override is the environment
// variable NAME (a data folder that differs by machine).
import { readFileSync } from 'node:fs';

import { parse } from 'yaml';

export interface SweepJob {
  name: string;
  config: string;
  seed: number;
  set?: string[];
  stage1?: string;
}

export interface SweepRow {
  name: string;
  what: string;
}

export interface SweepFile {
  jobs: SweepJob[];
  set: string[];
  rows: SweepRow[] | null;
  against: string | null;
}

function fail(file: string, why: string): never {
  throw new Error(`${file}: ${why}`);
}

function strings(file: string, where: string, value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) fail(file, `${where} must be a list of key=value strings`);
  return value as string[];
}

/** `${NAME}` replaced by the environment variable NAME (when a sweep runs); an unset one is an error naming it. */
export function expandVariables(assignment: string): string {
  return assignment.replace(/\$\{(\w+)\}/g, (_, name: string) => {
    const value = process.env[name];
    if (value === undefined) throw new Error(`sweep: an override names \${${name}}, which is not set in the environment`);
    return value;
  });
}

const JOB_KEYS = new Set(['name', 'config', 'seed', 'seeds', 'set', 'stage1']);

function jobsOf(file: string, entry: unknown, index: number): SweepJob[] {
  const where = `job ${index + 1}`;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail(file, `${where} is not a mapping`);
  const job = entry as Record<string, unknown>;
  const unknown = Object.keys(job).filter((key) => !JOB_KEYS.has(key));
  if (unknown.length > 0)
    fail(file, `${where} has unknown key${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (${[...JOB_KEYS].join(', ')})`);
  if (typeof job.name !== 'string' || !/^[\w.-]+$/.test(job.name)) fail(file, `${where}: name must be letters, digits, '.', '_' or '-'`);
  if (typeof job.config !== 'string') fail(file, `${where} (${job.name}): config is required`);
  if (job.stage1 !== undefined && typeof job.stage1 !== 'string') fail(file, `${where} (${job.name}): stage1 must name a job`);
  const seeds = job.seeds ?? (job.seed === undefined ? [0] : [job.seed]);
  if (job.seed !== undefined && job.seeds !== undefined) fail(file, `${where} (${job.name}): give seed or seeds, not both`);
  if (!Array.isArray(seeds) || !seeds.every((seed) => Number.isInteger(seed) && seed >= 0)) {
    fail(file, `${where} (${job.name}): seeds must be whole numbers >= 0`);
  }
  const set = strings(file, `${where} (${job.name}): set`, job.set);
  return (seeds as number[]).map((seed) => ({
    name: job.name as string,
    config: job.config as string,
    seed,
    set,
    ...(job.stage1 === undefined ? {} : { stage1: job.stage1 as string }),
  }));
}

/** Reads and checks a sweep file; errors name the file and the job. */
export function readSweepFile(file: string): SweepFile {
  let document: unknown;
  try {
    document = parse(readFileSync(file, 'utf8'));
  } catch (error) {
    fail(file, (error as Error).message.split('\n')[0]!);
  }
  const top = Array.isArray(document) ? { jobs: document } : document;
  if (typeof top !== 'object' || top === null) fail(file, 'expected a list of jobs or a mapping with jobs');
  const { jobs, set, rows, against, ...rest } = top as Record<string, unknown>;
  if (Object.keys(rest).length > 0)
    fail(file, `unknown key${Object.keys(rest).length > 1 ? 's' : ''} ${Object.keys(rest).join(', ')} (jobs, set, rows, against)`);
  if (!Array.isArray(jobs) || jobs.length === 0) fail(file, 'no jobs');
  const expanded = jobs.flatMap((entry, index) => jobsOf(file, entry, index));
  const seen = new Set<string>();
  for (const job of expanded) {
    const key = `${job.name}-seed${job.seed}`;
    if (seen.has(key)) fail(file, `${job.name} seed ${job.seed} is listed twice`);
    seen.add(key);
  }
  for (const job of expanded) {
    if (job.stage1 !== undefined && !seen.has(`${job.stage1}-seed${job.seed}`))
      fail(file, `${job.name}: its stage1 ${job.stage1} has no job with seed ${job.seed}`);
  }
  if (rows !== undefined && (!Array.isArray(rows) || !rows.every((row) => typeof row?.name === 'string')))
    fail(file, 'rows must be a list of { name, what }');
  if (against !== undefined && typeof against !== 'string') fail(file, 'against must name a job');
  return {
    jobs: expanded,
    set: strings(file, 'set', set),
    rows: rows === undefined ? null : (rows as { name: string; what?: string }[]).map(({ name, what }) => ({ name, what: what ?? '' })),
    against: (against as string | undefined) ?? null,
  };
}
