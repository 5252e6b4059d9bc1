// The commands on a run directory: train a new run, resume one from its last checkpoint (after reconciling what a
// kill left), evaluate a checkpoint. Each builds the loop (trainer.ts Run), prepares what must happen before the
// first epoch, and always closes the run and gives its lock back.
import { existsSync } from 'node:fs';

import type { DataParallel } from '../nn/index.js';
import { assertWritableFolder } from '../util/files.js';
import { chooseCheckpoint, reconcileRun } from './checkpoint.js';
import { type Config, configToYaml } from './config.js';
import { checkData } from './preflight.js';
import { RunDir, type Summary } from './run-dir.js';
import { withTransforms } from './setup.js';
import { stage1Checkpoint } from './stage1.js';
import { Run, type StartingWeights } from './trainer.js';

export interface TrainOptions {
  /** The run directory to create (a new run). */
  out: string;
  /** Print progress (default true; rank 0 only). */
  verbose?: boolean;
  /** Data-parallel training: this process's share of a process group (distributed.ts joinFromEnvironment). */
  parallel?: DataParallel | null;
}

/**
 * Runs `prepare` (what must happen before the first epoch and may fail), then the run; always closes it and gives
 * the lock back. When the run failed, that failure is the error shown, not one of the clean-up (on a disk that
 * turned read-only, releasing the lock fails too).
 */
async function runToEnd(run: Run, prepare: () => void | Promise<void>): Promise<Summary> {
  let summary: Summary | null = null;
  let failure: { error: unknown } | null = null;
  try {
    await prepare();
    summary = await run.run();
  } catch (error) {
    failure = { error };
  }
  try {
    await run.close();
    run.dir.releaseTrainingLock();
  } catch (error) {
    failure ??= { error };
  }
  if (failure !== null) throw failure.error;
  return summary!;
}

/** What a new run starts from: a decoupled run's stage 1 (checked first), else model.pretrained, else nothing. */
function startingWeights(config: Config): StartingWeights | null {
  const stage1 = stage1Checkpoint(config);
  if (stage1 !== null) return { stage1 };
  return config.model.pretrained === null ? null : { pretrained: config.model.pretrained };
}

/** Trains a new run into options.out (which must not hold a run yet). */
export async function train(config: Config, options: TrainOptions): Promise<Summary> {
  const parallel = options.parallel ?? null;
  const writer = (parallel?.rank ?? 0) === 0;
  if (writer && existsSync(options.out) && existsSync(new RunDir(options.out).configFile)) {
    throw new Error(`${options.out} already holds a run: resume it with --resume ${options.out} or choose another --out`);
  }
  if (writer) assertWritableFolder(options.out, '--out');
  // Data (checked: preflight.ts), model and stage 1 are loaded before the run directory exists, so that a refused
  // run leaves none.
  const dir = new RunDir(options.out);
  const run = new Run(config, dir, options.verbose ?? true, startingWeights(config), parallel);
  return runToEnd(run, async () => {
    if (!writer) return;
    await checkData(config, run.data, (line) => process.stderr.write(`scatter: warning: ${line}\n`));
    RunDir.create(options.out);
    dir.lockForTraining();
    dir.writeConfig(configToYaml(withTransforms(config, run.data)));
  });
}

/** Continues a run from its last checkpoint, with the config it was started with. */
export async function resume(runDirectory: string, options: Omit<TrainOptions, 'out'> = {}): Promise<Summary> {
  const dir = RunDir.open(runDirectory);
  const config = dir.config();
  const last = dir.checkpoint('last');
  const resuming = existsSync(last);
  // A run resumed from its own checkpoint keeps its weights: the pretrained file seeds epoch 0 only.
  const run = new Run(config, dir, options.verbose ?? true, resuming ? null : startingWeights(config), options.parallel ?? null);
  return runToEnd(run, () => {
    // Rank 0 completes what a kill left (checkpoint.ts) before any rank reads the checkpoint.
    if (run.rank === 0) {
      dir.lockForTraining();
      reconcileRun(dir);
    }
    if (resuming) {
      // Every rank reads rank 0's checkpoint (the run directory must be reachable from every machine).
      run.loadCheckpoint(last, { withOptimizer: true });
      run.log(`scatter: resuming ${runDirectory} at epoch ${run.meta.epoch + 1}`);
    }
  });
}

export interface EvaluateOptions {
  checkpoint?: 'best' | 'last';
  verbose?: boolean;
  /** Called with the checkpoint chosen (file, epoch, how it was chosen) before evaluating it. */
  onCheckpoint?: (chosen: { file: string; epoch: number; note: string }) => void;
  /** Called with the result before summary.json is rewritten, so that a failed write does not lose it. */
  onResult?: (summary: Summary) => void;
}

/**
 * Evaluates a run's best (or last) checkpoint on its test split and rewrites its summary. 'best' is the best
 * epoch's checkpoint or an error, never another checkpoint silently (checkpoint.ts chooseCheckpoint).
 */
export async function evaluateRun(runDirectory: string, options: EvaluateOptions = {}): Promise<Summary> {
  const dir = RunDir.open(runDirectory);
  const chosen = chooseCheckpoint(dir, options.checkpoint ?? 'best');
  options.onCheckpoint?.(chosen);
  const config = dir.config();
  const run = new Run(config, dir, options.verbose ?? false, null, null);
  try {
    run.loadCheckpoint(chosen.file, { withOptimizer: false });
    const summary = run.summary(await run.evaluateModel());
    options.onResult?.(summary);
    dir.writeSummary(summary);
    return summary;
  } finally {
    await run.close();
  }
}
