// The runs a report compares, read from their directories: config.yaml, summary.json, metrics.jsonl and,
// when present, analysis.json (`scatter analyze`) and batch-covariance.jsonl. A missing optional file is
// null here, for the page to say so; a directory without config.yaml is not a run and stops the report.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

import { ANALYSIS_FILE, type Analysis, parseAnalysisJson } from '../analysis/analyze.js';
import type { Config } from '../train/config.js';
import type { EnvironmentRecord } from '../train/environment.js';
import { trainingRecipe } from '../train/recipe.js';
import { RunDir, readJsonLines } from '../train/run-dir.js';
import type { Summary } from '../train/run-dir.js';

/** One line of metrics.jsonl: every epoch has its training loss, evaluated epochs their accuracies. */
export interface EpochMetrics {
  epoch: number;
  trainLoss?: number;
  top1?: number;
}

/** One line of batch-covariance.jsonl: the covariance of one training batch's features. */
export interface BatchCovariance {
  epoch: number;
  step: number;
  sampler: string;
  trace: number;
  /** null where JSON could not hold an infinite condition number. */
  condition: number | null;
  meanAbsCorrelation: number;
}

export const BATCH_COVARIANCE_FILE = 'batch-covariance.jsonl';

export interface Run {
  /** The directory as given. */
  dir: string;
  /** Readable and unique among the report's runs: the directory's name and the method. */
  label: string;
  method: string;
  config: Config;
  /** null until the run has finished. */
  summary: Summary | null;
  metrics: EpochMetrics[];
  /** null until `scatter analyze --run DIR`. */
  analysis: Analysis | null;
  /** null when the run did not record batch covariances. */
  batchCovariance: BatchCovariance[] | null;
  /** environment.jsonl: one record per process that trained the run (none for runs from before it existed). */
  environment: EnvironmentRecord[];
}

/**
 * The method in the config's own words: neck, loss, sampler, second stage, and the recipe's optimizer, batch mixing
 * and pretrained start, where they are not the plain ones.
 */
export function methodOf(config: Config): string {
  const { loss, model, train, decoupled, optim } = config;
  const mixing = [train.mix.mixupAlpha > 0 ? 'mixup' : null, train.mix.cutmixAlpha > 0 ? 'cutmix' : null].filter((part) => part !== null);
  return [
    decoupled.method,
    model.neck === 'identity' ? null : model.neck,
    loss.drwStartEpoch === null ? loss.name : `${loss.name}-drw`,
    loss.posthocTau === null ? null : 'post-hoc la',
    train.sampler === 'instance' ? null : train.sampler,
    optim.name === 'sgd' ? null : optim.name,
    mixing.length === 0 ? null : mixing.join('/'),
    model.pretrained === null ? null : `from ${path.basename(model.pretrained)}`,
  ]
    .filter((part) => part !== null)
    .join(' + ');
}

function readJson<T>(file: string, parseText: (text: string) => T = (text) => JSON.parse(text) as T): T | null {
  if (!existsSync(file)) return null;
  try {
    return parseText(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`);
  }
}

function loadRun(directory: string): Omit<Run, 'label'> {
  const dir = RunDir.open(directory);
  const config = dir.config();
  return {
    dir: directory,
    method: methodOf(config),
    config,
    summary: readJson<Summary>(dir.summaryFile),
    metrics: readJsonLines<EpochMetrics>(dir.metricsFile) ?? [],
    analysis: readJson(path.join(directory, ANALYSIS_FILE), parseAnalysisJson),
    batchCovariance: readJsonLines<BatchCovariance>(path.join(directory, BATCH_COVARIANCE_FILE)),
    environment: readJsonLines<EnvironmentRecord>(dir.environmentFile) ?? [],
  };
}

/**
 * The run directories that `directory` names: itself when it holds a run, else the runs directly inside it (a
 * sweep's output folder, or a folder of kept records), in name order.
 */
export function runDirectories(directory: string): string[] {
  if (existsSync(path.join(directory, 'config.yaml')) || !existsSync(directory) || !statSync(directory).isDirectory()) return [directory];
  const inside = readdirSync(directory)
    .sort()
    .map((name) => path.join(directory, name))
    .filter((entry) => existsSync(path.join(entry, 'config.yaml')));
  return inside.length > 0 ? inside : [directory];
}

/**
 * Loads the runs (a folder of runs, such as a sweep's, stands for the runs in it); labels are `name (method)`, with
 * the directory as given where two runs share a name.
 */
export function loadRuns(directories: readonly string[]): Run[] {
  const runs = directories.flatMap(runDirectories).map(loadRun);
  const names = runs.map((run) => path.basename(path.resolve(run.dir)));
  return runs.map((run, i) => {
    const name = names.indexOf(names[i]!) === names.lastIndexOf(names[i]!) ? names[i]! : path.normalize(run.dir);
    return { ...run, label: name === run.method ? name : `${name} (${run.method})` };
  });
}

/**
 * The finished runs grouped by configuration, in order of first appearance: runs whose training recipes
 * (trainingRecipe: the settings that take effect) are equal but for the seed, and decoupled.from, since a
 * second stage starts from its own seed's stage 1, are one configuration trained on several seeds.
 */
export function seedGroups(runs: readonly Run[]): Run[][] {
  const groups = new Map<string, Run[]>();
  for (const run of runs) {
    if (run.summary === null) continue;
    const recipe = trainingRecipe(run.config);
    const key = JSON.stringify({ ...recipe, seed: null, decoupled: { ...(recipe.decoupled as object), from: null } });
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  return [...groups.values()];
}
