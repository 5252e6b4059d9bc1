// Runs a list of `scatter train` jobs side by side, at most --parallel at a time, and collects each
// finished run's top-1 / many / medium / few into one JSON-lines file. A job is { name, config, seed,
// set?, stage1? } (set: extra key=value overrides, applied after --set, which applies to every job; stage1: the
// name of the job, same seed, whose finished run a decoupled job starts from, as decoupled.from, waited
// for while it is running or still queued (letting the next job that need not wait go first) and the job
// skipped when it did not finish). Jobs still running at --deadline
// seconds are stopped and recorded as unfinished, so a time-boxed sweep still reports what it finished.
// Run directories are DIR/<name>-seed<seed>: a job whose directory holds a finished run is collected (once: not
// again when the results file has its record), not rerun, and one with a checkpoint is resumed, so a sweep
// stopped by a session's end continues in the next.
// A job whose run another process is still training (a sweep restarted while its runs go on) is waited for,
// holding its slot, then collected or resumed.
// Each run's stderr goes to DIR/<name>-seed<seed>.log (appended), not through this process, so a run outlives a
// stopped sweep and its whole error text is kept. (bench/sweep-table.ts prints the results as a markdown table.)
// With --analyze, a finished run is also analysed (`scatter analyze`: DIR/analysis.json) before it is collected;
// with --keep RECORDS, its compact record (config, summary, metrics, environment, analysis, batch covariance; no
// checkpoints) is copied to RECORDS/<name>-seed<seed>, a folder meant to be committed: sweep-table reads it.
// A job's `set` may name environment variables as ${NAME}.
// Usage: node dist/bench/sweep.js --jobs FILE --out DIR [--parallel 4] [--deadline 86400] [--threads 1]
//        [--set key=value]... [--results FILE (default DIR/results.jsonl)] [--analyze] [--keep RECORDS]
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { RunDir, readJsonLines } from '../src/train/run-dir.js';

interface Job {
  name: string;
  config: string;
  seed: number;
  set?: string[];
  stage1?: string;
}

const { values: flags } = parseArgs({
  options: {
    jobs: { type: 'string' },
    out: { type: 'string' },
    parallel: { type: 'string', default: '4' },
    deadline: { type: 'string', default: '86400' },
    threads: { type: 'string', default: '1' },
    set: { type: 'string', multiple: true, default: [] },
    results: { type: 'string' },
    analyze: { type: 'boolean', default: false },
    keep: { type: 'string' },
  },
});
if (flags.jobs === undefined || flags.out === undefined) throw new Error('usage: sweep.js --jobs FILE --out DIR [options]');
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(repo, 'dist', 'src', 'cli', 'main.js');
/** `${NAME}` in a job's overrides is the environment variable NAME (a data folder that differs by machine). */
function expandVariables(assignment: string): string {
  return assignment.replace(/\$\{(\w+)\}/g, (_, name: string) => {
    const value = process.env[name];
    if (value === undefined) throw new Error(`${flags.jobs}: a job's set names \${${name}}, which is not set in the environment`);
    return value;
  });
}
const jobs = (JSON.parse(readFileSync(flags.jobs, 'utf8')) as Job[]).map((job) => ({ ...job, set: job.set?.map(expandVariables) }));
const out = flags.out;
const results = flags.results ?? path.join(out, 'results.jsonl');
const deadline = Date.now() + Number(flags.deadline) * 1000;
mkdirSync(out, { recursive: true });

function record(job: Job, fields: Record<string, unknown>): void {
  appendFileSync(results, `${JSON.stringify({ name: job.name, config: job.config, seed: job.seed, set: [...flags.set!, ...(job.set ?? [])], ...fields })}\n`);
}

// Runs whose finished record the results file already holds: a restarted sweep does not record them again.
const recorded = new Set((readJsonLines<{ name: string; seed: number; unfinished?: boolean }>(results) ?? [])
  .filter((entry) => entry.unfinished !== true).map((entry) => `${entry.name}-seed${entry.seed}`));

/** Runs `scatter analyze` on a finished run that has no analysis.json yet; a failure is logged, not fatal. */
async function analyze(dir: string): Promise<void> {
  if (!flags.analyze || existsSync(path.join(dir, 'analysis.json'))) return;
  const log = openSync(`${dir}.log`, 'a');
  const child = spawn(process.execPath, [cli, 'analyze', '--run', dir],
    { env: { ...process.env, SCATTER_NUM_THREADS: flags.threads }, stdio: ['ignore', 'ignore', log] });
  closeSync(log);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) process.stderr.write(`sweep: analyze ${dir} failed (exit ${code}; see ${dir}.log)\n`);
}

async function collect(job: Job, summaryFile: string, seconds: number): Promise<void> {
  const dir = path.dirname(summaryFile);
  await analyze(dir);
  if (flags.keep !== undefined) new RunDir(dir).copyRecord(path.join(flags.keep, path.basename(dir)));
  const { top1, many, medium, few, bestTop1, timings } = JSON.parse(readFileSync(summaryFile, 'utf8')) as Record<string, unknown>;
  record(job, { top1, many, medium, few, bestTop1, trainSeconds: (timings as { trainSeconds: number }).trainSeconds, wallSeconds: seconds });
}

const runDir = (name: string, seed: number): string => path.join(out, `${name}-seed${seed}`);
// Jobs running now, by run directory, so that a decoupled job can wait for its stage 1.
const running = new Map<string, Promise<void>>();
// A second stage waits while its stage 1 is running or still queued (a list may name it later).
const waitsForStage1 = (job: Job): boolean => job.stage1 !== undefined &&
  (running.has(runDir(job.stage1, job.seed)) || queue.some((other) => other.name === job.stage1 && other.seed === job.seed));

async function run(job: Job): Promise<void> {
  const dir = runDir(job.name, job.seed);
  const summaryFile = path.join(dir, 'summary.json');
  const holder = new RunDir(dir).trainer();
  if (holder !== null) {
    process.stderr.write(`sweep: ${job.name} seed ${job.seed} is being trained by process ${holder.pid}: waiting for it\n`);
    while (new RunDir(dir).trainer() !== null) await new Promise((resolve) => setTimeout(resolve, 10_000));
  }
  if (existsSync(summaryFile)) {
    if (!recorded.has(`${job.name}-seed${job.seed}`)) await collect(job, summaryFile, 0);
    if (holder !== null) process.stderr.write(`sweep: ${job.name} seed ${job.seed} done (trained by process ${holder.pid})\n`);
    return;
  }
  const stage1 = job.stage1 === undefined ? [] : [`decoupled.from=${runDir(job.stage1, job.seed)}`];
  if (job.stage1 !== undefined) {
    await running.get(runDir(job.stage1, job.seed));
    if (!existsSync(path.join(runDir(job.stage1, job.seed), 'summary.json'))) {
      record(job, { unfinished: true, error: `stage 1 (${job.stage1} seed ${job.seed}) has not finished` });
      return;
    }
  }
  const overrides = [...flags.set!, ...(job.set ?? []), ...stage1, `seed=${job.seed}`].flatMap((assignment) => ['--set', assignment]);
  const resumable = existsSync(path.join(dir, 'checkpoints', 'last.safetensors'));
  // A run stopped before its first checkpoint has nothing to resume: it starts again.
  if (!resumable) rmSync(dir, { recursive: true, force: true });
  const args = resumable
    ? ['train', '--resume', dir]
    : ['train', '--config', path.resolve(repo, job.config), '--out', dir, ...overrides];
  process.stderr.write(`sweep: ${job.name} seed ${job.seed} ${resumable ? 'resumed' : 'started'} (log: ${dir}.log)\n`);
  const startTime = Date.now();
  let stopped = false;
  const logFile = `${dir}.log`;
  const log = openSync(logFile, 'a');
  const child: ChildProcess = spawn(process.execPath, [cli, ...args],
    { env: { ...process.env, SCATTER_NUM_THREADS: flags.threads }, stdio: ['ignore', 'ignore', log] });
  closeSync(log);
  const stop = setTimeout(() => {
    stopped = true;
    child.kill('SIGTERM');
  }, Math.max(0, deadline - Date.now()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(stop);
  const seconds = Math.round((Date.now() - startTime) / 1000);
  if (code === 0 && existsSync(summaryFile)) {
    await collect(job, summaryFile, seconds);
  } else {
    const last = readFileSync(logFile, 'utf8').trim().split('\n').filter((line) => line.startsWith('scatter:')).at(-1) ?? '';
    record(job, { unfinished: true, exit: code, wallSeconds: seconds, error: stopped ? 'stopped at the deadline (resumable)' : last });
  }
  process.stderr.write(`sweep: ${job.name} seed ${job.seed} ${code === 0 ? 'done' : `ended (${code})`} after ${seconds} s\n`);
}

const queue = [...jobs];
await Promise.all(Array.from({ length: Number(flags.parallel) }, async () => {
  for (let job = queue.shift(); job !== undefined && Date.now() < deadline; job = queue.shift()) {
    // A job waiting for its stage 1 lets the next job that need not wait have the slot, and comes after it.
    const next = waitsForStage1(job) ? queue.findIndex((other) => !waitsForStage1(other)) : -1;
    if (next >= 0) {
      queue.splice(next + 1, 0, job);
      continue;
    }
    const dir = runDir(job.name, job.seed);
    const finished = run(job);
    running.set(dir, finished);
    await finished;
    running.delete(dir);
  }
}));
for (const job of queue) record(job, { unfinished: true, error: 'not started before the deadline' });
