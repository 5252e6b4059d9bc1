// Running a sweep: its jobs as `scatter train` processes side by side, at most `parallel` at a time, each
// finished run's top-1 / many / medium / few collected into one JSON-lines results file. A second stage waits for
// its stage 1 while that is running or still queued (the next job that need not wait takes the slot) and is
// skipped when its stage 1 did not finish. Jobs still running at the deadline are stopped (SIGTERM: they keep their
// last checkpoint) and recorded as unfinished, so that a time-boxed sweep still reports what it finished.
// Run directories are OUT/<name>-seed<seed>: a job whose directory holds a finished run is collected (once: not
// again when the results file has its record), not rerun, and one with a checkpoint is resumed, so a sweep
// stopped by a session's end continues in the next. A job whose run another process is still training (a sweep
// restarted while its runs go on) is waited for, holding its slot, then collected or resumed. Each run's stderr
// goes to OUT/<name>-seed<seed>.log (appended), so a run outlives a stopped sweep and its whole error is kept.
// With `analyze`, a finished run is analysed (`scatter analyze`) before it is collected; with `keep`, its compact
// record (RunDir.copyRecord: config, summary, metrics, environment, analysis, batch covariance; no checkpoints) is
// copied to KEEP/<name>-seed<seed>, a folder meant to be committed, from which sweepTable regenerates the table.
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { RunDir, readJsonLines } from '../train/run-dir.js';
import { type SweepJob, expandVariables } from './file.js';

export interface SweepOptions {
  jobs: readonly SweepJob[];
  out: string;
  /** Runs side by side (default 2). */
  parallel?: number;
  /** Seconds from now after which running jobs are stopped and no new one starts (default a day). */
  deadlineSeconds?: number;
  /** libtorch threads of each run (SCATTER_NUM_THREADS; default 1). */
  threads?: number;
  /** Overrides for every job, before each job's own. */
  set?: readonly string[];
  /** Default OUT/results.jsonl. */
  results?: string;
  analyze?: boolean;
  keep?: string;
  /** Where progress lines go (default stderr). */
  log?: (line: string) => void;
}

/** A line of the results file: a run collected or stopped; the latest one of a run counts. */
export interface SweepRecord {
  name: string;
  seed: number;
  unfinished?: boolean;
  top1?: number;
  many?: number | null;
  medium?: number | null;
  few?: number | null;
}

// dist/src/sweep -> dist/src/cli/main.js: the runs are `scatter` processes of this same installation.
const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

/** Runs the sweep to its end (or its deadline); resolves when every started run has ended. */
export async function runSweep(options: SweepOptions): Promise<void> {
  const { out } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const threads = String(options.threads ?? 1);
  const shared = (options.set ?? []).map(expandVariables);
  const jobs = options.jobs.map((job) => ({ ...job, set: job.set?.map(expandVariables) }));
  const results = options.results ?? path.join(out, 'results.jsonl');
  const deadline = Date.now() + (options.deadlineSeconds ?? 86_400) * 1000;
  mkdirSync(out, { recursive: true });
  const env = { ...process.env, SCATTER_NUM_THREADS: threads };

  const record = (job: SweepJob, fields: Record<string, unknown>): void => {
    appendFileSync(
      results,
      `${JSON.stringify({ name: job.name, config: job.config, seed: job.seed, set: [...shared, ...(job.set ?? [])], ...fields })}\n`,
    );
  };
  // Runs whose finished record the results file already holds: a restarted sweep does not record them again.
  const recorded = new Set(
    (readJsonLines<SweepRecord>(results) ?? [])
      .filter((entry) => entry.unfinished !== true)
      .map((entry) => `${entry.name}-seed${entry.seed}`),
  );

  /** `scatter ARGS` with its stderr appended to `logFile`; resolves to the exit code. */
  const scatter = (args: string[], logFile: string, onStart?: (child: ChildProcess) => void): Promise<number | null> => {
    const fd = openSync(logFile, 'a');
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'ignore', fd] });
    closeSync(fd);
    onStart?.(child);
    return new Promise((resolve) => child.on('close', resolve));
  };

  const collect = async (job: SweepJob, dir: string, seconds: number): Promise<void> => {
    if (options.analyze === true && !existsSync(path.join(dir, 'analysis.json'))) {
      const code = await scatter(['analyze', '--run', dir], `${dir}.log`);
      if (code !== 0) log(`sweep: analyze ${dir} failed (exit ${code}; see ${dir}.log)`);
    }
    if (options.keep !== undefined) new RunDir(dir).copyRecord(path.join(options.keep, path.basename(dir)));
    const { top1, many, medium, few, bestTop1, timings } = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    record(job, {
      top1,
      many,
      medium,
      few,
      bestTop1,
      trainSeconds: (timings as { trainSeconds: number }).trainSeconds,
      wallSeconds: seconds,
    });
  };

  const runDir = (name: string, seed: number): string => path.join(out, `${name}-seed${seed}`);
  // Jobs running now, by run directory, so that a decoupled job can wait for its stage 1.
  const running = new Map<string, Promise<void>>();
  const queue = [...jobs];
  const waitsForStage1 = (job: SweepJob): boolean =>
    job.stage1 !== undefined &&
    (running.has(runDir(job.stage1, job.seed)) || queue.some((other) => other.name === job.stage1 && other.seed === job.seed));

  const run = async (job: SweepJob): Promise<void> => {
    const dir = runDir(job.name, job.seed);
    const summaryFile = path.join(dir, 'summary.json');
    const holder = new RunDir(dir).trainer();
    if (holder !== null) {
      log(`sweep: ${job.name} seed ${job.seed} is being trained by process ${holder.pid}: waiting for it`);
      while (new RunDir(dir).trainer() !== null) await new Promise((resolve) => setTimeout(resolve, 10_000));
    }
    if (existsSync(summaryFile)) {
      if (!recorded.has(`${job.name}-seed${job.seed}`)) await collect(job, dir, 0);
      if (holder !== null) log(`sweep: ${job.name} seed ${job.seed} done (trained by process ${holder.pid})`);
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
    const overrides = [...shared, ...(job.set ?? []), ...stage1, `seed=${job.seed}`].flatMap((assignment) => ['--set', assignment]);
    const resumable = existsSync(path.join(dir, 'checkpoints', 'last.safetensors'));
    // A run stopped before its first checkpoint has nothing to resume: it starts again.
    if (!resumable) rmSync(dir, { recursive: true, force: true });
    const args = resumable ? ['train', '--resume', dir] : ['train', '--config', path.resolve(job.config), '--out', dir, ...overrides];
    log(`sweep: ${job.name} seed ${job.seed} ${resumable ? 'resumed' : 'started'} (log: ${dir}.log)`);
    const startTime = Date.now();
    let stopped = false;
    let stop: NodeJS.Timeout | undefined;
    const code = await scatter(args, `${dir}.log`, (child) => {
      stop = setTimeout(
        () => {
          stopped = true;
          child.kill('SIGTERM');
        },
        Math.max(0, deadline - Date.now()),
      );
    });
    clearTimeout(stop);
    const seconds = Math.round((Date.now() - startTime) / 1000);
    if (code === 0 && existsSync(summaryFile)) {
      await collect(job, dir, seconds);
    } else {
      const last =
        readFileSync(`${dir}.log`, 'utf8')
          .trim()
          .split('\n')
          .filter((line) => line.startsWith('scatter:'))
          .at(-1) ?? '';
      record(job, { unfinished: true, exit: code, wallSeconds: seconds, error: stopped ? 'stopped at the deadline (resumable)' : last });
    }
    log(`sweep: ${job.name} seed ${job.seed} ${code === 0 ? 'done' : `ended (${code})`} after ${seconds} s`);
  };

  await Promise.all(
    Array.from({ length: options.parallel ?? 2 }, async () => {
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
    }),
  );
  for (const job of queue) record(job, { unfinished: true, error: 'not started before the deadline' });
}
