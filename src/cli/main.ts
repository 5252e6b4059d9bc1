#!/usr/bin/env node
// The `scatter` command: train, eval, analyze, report, demo, data. Bad input ends with one line on stderr naming the problem
// and a non-zero exit (2 for usage, 1 for everything else); SCATTER_DEBUG=1 adds the stack.
import path from 'node:path';
import { parseArgs } from 'node:util';

import { loadRunData } from '../train/setup.js';
import { checkData } from '../train/preflight.js';
import { analysisJson, analyzeRun } from '../analysis/analyze.js';
import { CONFIG_SCHEMA, dataDirectory, explicitKeys, loadConfig } from '../train/config.js';
import { unusedSettings } from '../train/recipe.js';
import { documentation } from '../train/schema.js';
import { DOWNLOADS, type DownloadName, classCounts, downloadDataset, shotGroups } from '../data/index.js';
import { evaluateRun, resume, train } from '../train/commands.js';
import { joinFromEnvironment, launchedDistributed } from '../train/distributed.js';
import { RunDir } from '../train/run-dir.js';
import type { ExportFormat } from './export.js';
import { followLauncher, launch } from './launch.js';
import { readSweepFile, runSweep, sweepTable } from '../sweep/index.js';
import { PREDICT_FORMATS, type PredictFormat, predictCommand } from './predict.js';

class UsageError extends Error {}

const HELP: Record<string, string> = {
  scatter: `usage: scatter <command> [options]

commands:
  train    train a model from a YAML config (or resume a run)
  eval     evaluate a run's checkpoint on its test split
  predict  the classes of new images (files, folders, list files) from a trained run
  export   a trained run's model as ONNX (onnxruntime in Node and the browser) or a plain state dict
  sweep    many runs from one file (jobs x seeds), side by side and resumable, and their comparison table
  analyze  feature diagnostics of a run's checkpoint on its test split (DIR/analysis.json)
  report   one HTML page comparing runs (results, curves, per-class accuracy, diagnostics)
  demo     Fashion-MNIST-LT with cross-entropy and with the full method, and their comparison
  data     show a config's data (class counts, many / medium / few), or download a data set
  launch   run a command as several data-parallel processes (like torchrun)

scatter <command> --help shows a command's options.`,
  train: `usage: scatter train --config FILE [--set key=value]... [--out DIR]
       scatter train --resume DIR

  --config FILE    YAML config (see configs/); every key is optional, defaults are the LDAM-DRW recipe
  --set key=value  override a config key, e.g. --set train.epochs=1 (repeatable; values are YAML)
  --out DIR        the run directory to create (default runs/<config folder>-<config name>-<time>)
  --resume DIR     continue a run from its last checkpoint, with its own config

  Decoupled training (configs/*/crt.yaml, lws.yaml, tau-norm.yaml) starts from a finished run of the same
  model and data: --set decoupled.from=RUN_DIR.

  Data-parallel: under \`scatter launch\` or torchrun (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set) every
  rank trains on its share of each global batch (train.batchSize is the global batch); --out is required,
  and only rank 0 writes the run directory. See the distributed.* keys.

config keys:
${documentation(CONFIG_SCHEMA).join('\n')}`,
  launch: `usage: scatter launch --nproc N [--nnodes M --node-rank K] [--master-addr HOST] [--master-port PORT] -- COMMAND...

  Starts N processes of \`scatter COMMAND...\` on this machine with torchrun's variables (RANK, LOCAL_RANK,
  WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT); if one fails, the others are stopped and its exit
  code is returned. Several machines: run it on each with the same --nnodes, --master-addr (rank 0's machine)
  and --master-port, and its own --node-rank. Example:
    scatter launch --nproc 2 -- train --config configs/cifar10-lt-ir100/ce.yaml --out runs/ce-ddp`,
  eval: `usage: scatter eval --run DIR [--checkpoint best|last]

  Evaluates the run's best checkpoint (or last) on its test split, naming the checkpoint and its epoch on stderr;
  prints the result, then rewrites DIR/summary.json. 'best' is the best epoch's checkpoint or an error naming what is
  missing, never another checkpoint in its place.`,
  predict: `usage: scatter predict --run DIR [--checkpoint best|last] [--top-k K] [--format table|jsonl|csv]
                       [--batch-size N] [--device cpu|cuda] [--strict] INPUT...

  INPUT: image files (jpg, png, webp, tif), folders (every image under them) and list files (PATH or PATH LABEL
  per line, relative to the list's folder). Each image goes through the run's evaluation transforms (images of
  another size than a CIFAR/MNIST model's records are resized and center-cropped to it) and the model as
  \`scatter eval\` runs it; prints the top K classes (default 5) with names and probabilities: a tab-separated
  table (default), JSON lines ({input, top: [{label, name, probability}]}) or CSV (input,rank,label,name,
  probability). Batches of --batch-size images (default 64); a progress line on stderr for more than one batch.
  An image that cannot be read is named on stderr and skipped, with a count at the end; --strict stops instead.`,
  export: `usage: scatter export --run DIR [--checkpoint best|last] [--format onnx|state-dict] [--out FILE]

  onnx (default): the model in evaluation form (batch norm folded into the convolutions, the whitening neck into
  one affine map, the cosine classifier's normalisation kept), opset 17; input 'images' (N x C x H x W float32,
  transformed as the metadata's inputTransforms say), outputs 'logits', 'scores' (the logits evaluation ranks:
  with the post-hoc adjustment where the loss has one) and 'embedding' (the classifier's input); the class names,
  training counts and transforms in its metadata_props. Default FILE: DIR/model.onnx.
  state-dict: the model's tensors alone as safetensors under the model's own names (torchvision's for resnet50
  and resnext50_32x4d, LDAM-DRW's for resnet32), the same metadata. Default FILE: DIR/model.safetensors.`,
  sweep: `usage: scatter sweep FILE [--out DIR] [--parallel 2] [--threads 1] [--deadline SECONDS] [--set key=value]...
                     [--results FILE] [--analyze] [--keep RECORDS]
       scatter sweep FILE --table SOURCE [--against ROW]

  FILE (YAML or JSON): a list of jobs, or a mapping with jobs and optionally set (overrides for every job), rows
  ([{name, what}]: the table's rows) and against (the reference row). A job: { name, config, seed or seeds,
  set?, stage1? } (stage1: the job whose finished run of the same seed a decoupled job starts from). Each runs as
  \`scatter train\` into DIR/<name>-seed<seed> (default DIR: runs/sweep-<FILE's name>), --parallel at a time with
  --threads libtorch threads each, its stderr in DIR/<name>-seed<seed>.log; finished runs are collected into
  DIR/results.jsonl. Run again, a sweep skips finished runs, resumes stopped ones and waits for runs another
  process trains. --deadline stops the runs still going after that many seconds (resumable). --analyze runs
  \`scatter analyze\` on each finished run; --keep copies each finished run's compact record (no checkpoints) into
  RECORDS/<name>-seed<seed>, to commit. Prints the table when done: mean ± sample sd over seeds of top-1 / many /
  medium / few, and Welch's t-test against the reference row. --table SOURCE prints the table alone, from a results
  file or a folder of kept records; --against ROW tests against that row instead of the file's reference.`,
  demo: `usage: scatter demo [--quick] [--out DIR]

  Trains Fashion-MNIST-LT (imbalance ratio 100; Debian's dataset-fashion-mnist) with cross-entropy and with
  whitening + logit adjustment + B3RS + BET on a short schedule (a few minutes on 2 cores; --quick: under 2
  minutes), analyses both (DIR/*/analysis.json), prints the comparison table and writes the HTML report
  DIR/report.html (scatter report). Runs go to DIR (default runs/demo-<time>).`,
  analyze: `usage: scatter analyze --run DIR [--checkpoint best|last]

  On the run's test split: the pooled features before and after the neck (correlation matrix, mean absolute
  off-diagonal correlation, singular values, effective rank, Gaussian entropy, covariance condition number),
  the linear classifier's Hessian condition number and the coupling of its per-class gradients, per-class
  weight norms and accuracy, the confusion matrix. Written to DIR/analysis.json and summarised on stdout.`,
  report: `usage: scatter report DIR... [--out FILE]

  Writes one self-contained HTML page (no scripts, nothing loaded from the network) comparing the run
  directories: the top-1 / many / medium / few table, training curves, per-class accuracy against the class's
  training images, and from DIR/analysis.json (scatter analyze) the feature diagnostics, correlation heatmaps
  before and after the neck and singular-value spectra; batch covariances where DIR/batch-covariance.jsonl
  exists. What a run lacks is stated on the page. --out: the page (default report.html); prints its path.`,
  data: `usage: scatter data --config FILE [--set key=value]...
       scatter data download <cifar10|cifar100|mnist|fashion-mnist> [--dir DIR]

  --config: loads the config's data set and prints the training class counts and the many / medium / few split.
  download: fetches the official archives from their publishers (or $SCATTER_DATA_URL), checks their published
            MD5 sums, resumes broken transfers, and unpacks into DIR (default $SCATTER_DATA_DIR or
            ~/.cache/scatter-data), where configs find them by default.`,
};

type OptionSpecs = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>;

function parseWithPositionals(args: string[], options: OptionSpecs, allowPositionals = true): ReturnType<typeof parseArgs> {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean' } }, allowPositionals });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function parse(args: string[], options: OptionSpecs): ReturnType<typeof parseArgs>['values'] {
  return parseWithPositionals(args, options, false).values;
}

/** A flag's whole number >= 1, or `fallback` when the flag is absent. */
function positiveFlag(flag: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^[1-9]\d*$/.test(String(value))) throw new UsageError(`${flag} must be a whole number >= 1, got ${String(value)}`);
  return Number(value);
}

function requireString(value: unknown, flag: string): string {
  if (typeof value !== 'string') throw new UsageError(`${flag} is required`);
  return value;
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

function defaultRunDir(configFile: string): string {
  const stamp = timestamp();
  const name = `${path.basename(path.dirname(path.resolve(configFile)))}-${path.basename(configFile, path.extname(configFile))}`;
  return path.join('runs', `${name}-${stamp}`);
}

async function trainCommand(args: string[]): Promise<void> {
  const values = parse(args, {
    config: { type: 'string' },
    set: { type: 'string', multiple: true },
    out: { type: 'string' },
    resume: { type: 'string' },
  });
  if (values.help) return void console.log(HELP.train);
  const resuming = typeof values.resume === 'string';
  if (resuming && (values.config !== undefined || values.set !== undefined)) {
    throw new UsageError("--resume takes the run's own config: drop --config and --set");
  }
  if (!resuming && launchedDistributed() && typeof values.out !== 'string') {
    throw new UsageError('data-parallel training needs --out DIR: every rank must name the same run directory');
  }
  const configFile = resuming ? RunDir.open(values.resume as string).configFile : requireString(values.config, '--config');
  const overrides = resuming ? [] : ((values.set as string[] | undefined) ?? []);
  const config = loadConfig(configFile, overrides);
  const parallel = joinFromEnvironment(config);
  if (!resuming && (parallel?.rank ?? 0) === 0) {
    for (const { key, why } of unusedSettings(config, explicitKeys(configFile, overrides))) {
      console.error(`scatter: note: ${key} is set but takes no effect (${why})`);
    }
  }
  try {
    const summary = resuming
      ? await resume(values.resume as string, { parallel })
      : await train(config, { out: typeof values.out === 'string' ? values.out : defaultRunDir(configFile), parallel });
    const { top1, many, medium, few } = summary;
    if ((parallel?.rank ?? 0) === 0) console.log(JSON.stringify({ top1, many, medium, few }));
  } finally {
    parallel?.group.destroy();
  }
}

function checkpointFlag(value: unknown): 'best' | 'last' {
  const checkpoint = value ?? 'best';
  if (checkpoint !== 'best' && checkpoint !== 'last') throw new UsageError(`--checkpoint must be best or last, got ${String(checkpoint)}`);
  return checkpoint;
}

async function analyzeCommand(args: string[]): Promise<void> {
  const values = parse(args, { run: { type: 'string' }, checkpoint: { type: 'string' } });
  if (values.help) return void console.log(HELP.analyze);
  const analysis = await analyzeRun(requireString(values.run, '--run'), { checkpoint: checkpointFlag(values.checkpoint) });
  const { beforeNeck, afterNeck } = analysis.features;
  const brief = (f: typeof beforeNeck) => ({
    meanAbsCorrelation: f.meanAbsCorrelation,
    effectiveRank: f.effectiveRank,
    gaussianEntropy: f.gaussianEntropy,
    covarianceCondition: f.covarianceCondition,
  });
  console.log(
    analysisJson({
      top1: analysis.top1,
      beforeNeck: brief(beforeNeck),
      afterNeck: afterNeck && brief(afterNeck),
      hessianCondition: analysis.classifier.hessianCondition,
      gradientCoupling: analysis.classifier.gradientCoupling,
      batchCovariance: analysis.batchCovariance,
    }),
  );
}

async function reportCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseWithPositionals(args, { out: { type: 'string' } });
  if (values.help) return void console.log(HELP.report);
  if (positionals.length === 0) throw new UsageError('report: name at least one run directory');
  // The report pulls in vega: loaded only by the commands that draw.
  const { writeReport } = await import('../report/report.js');
  console.log(await writeReport(positionals, typeof values.out === 'string' ? values.out : 'report.html'));
}

async function demoCommand(args: string[]): Promise<void> {
  const values = parse(args, { quick: { type: 'boolean' }, out: { type: 'string' } });
  if (values.help) return void console.log(HELP.demo);
  const out = typeof values.out === 'string' ? values.out : path.join('runs', `demo-${timestamp()}`);
  const { demo } = await import('./demo.js');
  await demo({ quick: values.quick === true, out });
}

async function evalCommand(args: string[]): Promise<void> {
  const values = parse(args, { run: { type: 'string' }, checkpoint: { type: 'string' } });
  if (values.help) return void console.log(HELP.eval);
  // The result is printed before summary.json is rewritten: a run on a read-only disk still shows it.
  await evaluateRun(requireString(values.run, '--run'), {
    checkpoint: checkpointFlag(values.checkpoint),
    onCheckpoint: ({ note }) => process.stderr.write(`scatter: evaluating ${note}\n`),
    onResult: ({ top1, many, medium, few, perClass }) => console.log(JSON.stringify({ top1, many, medium, few, perClass })),
  });
}

async function predictCli(args: string[]): Promise<void> {
  const { values, positionals } = parseWithPositionals(args, {
    run: { type: 'string' },
    checkpoint: { type: 'string' },
    'top-k': { type: 'string' },
    format: { type: 'string' },
    'batch-size': { type: 'string' },
    device: { type: 'string' },
    strict: { type: 'boolean' },
  });
  if (values.help) return void console.log(HELP.predict);
  if (positionals.length === 0) throw new UsageError('predict: name at least one image, folder or list file');
  const format = (values.format ?? 'table') as PredictFormat;
  if (!PREDICT_FORMATS.includes(format))
    throw new UsageError(`--format must be one of ${PREDICT_FORMATS.join(', ')}, got ${String(values.format)}`);
  await predictCommand({
    run: requireString(values.run, '--run'),
    inputs: positionals,
    checkpoint: checkpointFlag(values.checkpoint),
    topK: positiveFlag('--top-k', values['top-k'], 5),
    format,
    batchSize: positiveFlag('--batch-size', values['batch-size'], 64),
    strict: values.strict === true,
    device: typeof values.device === 'string' ? values.device : 'cpu',
  });
}

async function exportCli(args: string[]): Promise<void> {
  const values = parse(args, {
    run: { type: 'string' },
    checkpoint: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
  });
  if (values.help) return void console.log(HELP.export);
  // The ONNX writer pulls in protobuf: loaded only by this command (a training machine may not carry it).
  const { EXPORT_FORMATS, exportCommand } = await import('./export.js');
  const format = (values.format ?? 'onnx') as ExportFormat;
  if (!EXPORT_FORMATS.includes(format))
    throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}, got ${String(values.format)}`);
  console.log(
    await exportCommand({
      run: requireString(values.run, '--run'),
      checkpoint: checkpointFlag(values.checkpoint),
      format,
      out: typeof values.out === 'string' ? values.out : undefined,
    }),
  );
}

async function sweepCli(args: string[]): Promise<void> {
  const { values, positionals } = parseWithPositionals(args, {
    out: { type: 'string' },
    parallel: { type: 'string' },
    threads: { type: 'string' },
    deadline: { type: 'string' },
    set: { type: 'string', multiple: true },
    results: { type: 'string' },
    analyze: { type: 'boolean' },
    keep: { type: 'string' },
    table: { type: 'string' },
    against: { type: 'string' },
  });
  if (values.help) return void console.log(HELP.sweep);
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0) throw new UsageError('sweep: name one sweep file (scatter sweep --help)');
  const sweep = readSweepFile(file);
  const against = typeof values.against === 'string' ? values.against : sweep.against;
  const table = (source: string): string => sweepTable({ source, jobs: sweep.jobs, rows: sweep.rows, against });
  if (typeof values.table === 'string') return void console.log(table(values.table));
  const out = typeof values.out === 'string' ? values.out : path.join('runs', `sweep-${path.basename(file, path.extname(file))}`);
  const results = typeof values.results === 'string' ? values.results : path.join(out, 'results.jsonl');
  await runSweep({
    jobs: sweep.jobs,
    out,
    results,
    parallel: positiveFlag('--parallel', values.parallel, 2),
    threads: positiveFlag('--threads', values.threads, 1),
    deadlineSeconds: positiveFlag('--deadline', values.deadline, 86_400),
    set: [...sweep.set, ...((values.set as string[] | undefined) ?? [])],
    analyze: values.analyze === true,
    keep: typeof values.keep === 'string' ? values.keep : undefined,
  });
  console.log(table(typeof values.keep === 'string' ? values.keep : results));
}

async function downloadCommand(args: string[]): Promise<void> {
  const [name, ...rest] = args;
  const values = parse(rest, { dir: { type: 'string' } });
  if (values.help || name === '--help') return void console.log(HELP.data);
  if (name === undefined || !Object.hasOwn(DOWNLOADS, name)) {
    throw new UsageError(`data download: name one of ${Object.keys(DOWNLOADS).join(', ')}${name === undefined ? '' : `, not '${name}'`}`);
  }
  const dir = typeof values.dir === 'string' ? values.dir : dataDirectory();
  const folder = await downloadDataset(name as DownloadName, { dir, log: (line) => process.stderr.write(`${line}\n`) });
  console.log(folder);
}

async function dataCommand(args: string[]): Promise<void> {
  if (args[0] === 'download') return downloadCommand(args.slice(1));
  const values = parse(args, { config: { type: 'string' }, set: { type: 'string', multiple: true } });
  if (values.help) return void console.log(HELP.data);
  const config = loadConfig(requireString(values.config, '--config'), (values.set as string[] | undefined) ?? []);
  const data = loadRunData(config);
  await checkData(config, data, (line) => process.stderr.write(`scatter: warning: ${line}\n`));
  const groups = shotGroups(data.classCounts, { many: config.data.manyThreshold, few: config.data.fewThreshold });
  console.log(
    [
      `dataset ${config.data.dataset} at ${config.data.root}`,
      `train ${data.train.length} images, test ${data.test.length} images, ${data.classCounts.length} classes`,
      `class counts ${data.classCounts.join(' ')}`,
      ...(data.holdout === null
        ? []
        : [
            `held out (data.holdoutPerClass ${config.data.holdoutPerClass}): ${data.holdout.length} images, ` +
              `class counts ${classCounts(data.holdout).join(' ')}`,
          ]),
      `many-shot (> ${config.data.manyThreshold}): ${groups.many.length} classes [${groups.many.join(' ')}]`,
      `medium-shot: ${groups.medium.length} classes [${groups.medium.join(' ')}]`,
      `few-shot (< ${config.data.fewThreshold}): ${groups.few.length} classes [${groups.few.join(' ')}]`,
    ].join('\n'),
  );
}

async function launchCommand(args: string[]): Promise<void> {
  const separator = args.indexOf('--');
  const own = separator < 0 ? args : args.slice(0, separator);
  const values = parse(own, {
    nproc: { type: 'string' },
    nnodes: { type: 'string' },
    'node-rank': { type: 'string' },
    'master-addr': { type: 'string' },
    'master-port': { type: 'string' },
  });
  if (values.help) return void console.log(HELP.launch);
  if (separator < 0)
    throw new UsageError('launch: put the command after --, e.g. scatter launch --nproc 2 -- train --config FILE --out DIR');
  const count = (flag: string, value: unknown): number | undefined => {
    if (value === undefined) return undefined;
    const number = Number(value);
    if (!/^\d+$/.test(String(value))) throw new UsageError(`${flag} must be a whole number, got ${String(value)}`);
    return number;
  };
  const nproc = count('--nproc', requireString(values.nproc, '--nproc'))!;
  process.exitCode = await launch(
    {
      nproc,
      nnodes: count('--nnodes', values.nnodes),
      nodeRank: count('--node-rank', values['node-rank']),
      masterAddr: values['master-addr'] as string | undefined,
      masterPort: count('--master-port', values['master-port']),
    },
    args.slice(separator + 1),
  );
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'train':
      return trainCommand(rest);
    case 'eval':
      return evalCommand(rest);
    case 'predict':
      return predictCli(rest);
    case 'export':
      return exportCli(rest);
    case 'sweep':
      return sweepCli(rest);
    case 'analyze':
      return analyzeCommand(rest);
    case 'report':
      return reportCommand(rest);
    case 'demo':
      return demoCommand(rest);
    case 'data':
      return dataCommand(rest);
    case 'launch':
      return launchCommand(rest);
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      return void console.log(HELP.scatter);
    default:
      throw new UsageError(`unknown command '${command}' (train, eval, predict, export, sweep, analyze, report, data, demo, launch)`);
  }
}

followLauncher();
main(process.argv.slice(2)).catch((error: unknown) => {
  const err = error instanceof Error ? error : new Error(String(error));
  const firstLine = err.message.split('\n')[0];
  process.stderr.write(`scatter: ${firstLine}\n`);
  if (process.env.SCATTER_DEBUG === '1') process.stderr.write(`${err.stack}\n`);
  process.exitCode = err instanceof UsageError ? 2 : 1;
});
