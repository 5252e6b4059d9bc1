// The training loop: epochs of SGD on the long-tailed split, evaluation every N epochs, checkpoints
// after every epoch (last, and best by top-1), a NaN/Inf guard, exact resumption.
//
// Exactness: a batch is a pure function of (seed, epoch, batch number) (see data/loader.ts), the
// learning rate a pure function of the position, and a checkpoint holds the model (with batch-norm
// statistics), the optimizer's momentum buffers and libtorch's generator state. A run killed at any
// point and resumed from its last checkpoint therefore retraces the same steps bit for bit.
import { existsSync } from 'node:fs';

import { type Loader, batchTensors } from '../data/index.js';
import type { ImageClassifier } from '../models/index.js';
import { type Loss, createLoss } from '../longtail/losses.js';
import type { LrSchedule, SGD, SgdState } from '../optim/index.js';
import * as torch from '../torch/index.js';
import { type Config, configToYaml, loadConfig, lossConfig } from './config.js';
import { type Evaluation, evaluate } from './evaluation.js';
import { Progress, formatDuration } from './progress.js';
import { RunDir } from './run-dir.js';
import { type RunData, buildModel, buildOptimizer, buildSchedule, loadRunData, testLoader, trainLoader } from './setup.js';

export interface TrainOptions {
  /** The run directory to create (a new run). */
  out: string;
  /** Print progress (default true). */
  verbose?: boolean;
}

/** What a checkpoint's metadata records besides the tensors. */
interface CheckpointMeta {
  /** The next epoch to train (training resumes at its first batch). */
  epoch: number;
  bestTop1: number;
  bestEpoch: number;
  optimizerGroups: SgdState['groups'];
  trainSeconds: number;
}

export interface Summary {
  top1: number;
  many: number | null;
  medium: number | null;
  few: number | null;
  perClass: number[];
  classCounts: number[];
  bestTop1: number;
  bestEpoch: number;
  epochs: number;
  worldSize: number;
  timings: { trainSeconds: number; evalSeconds: number; secondsPerEpoch: number };
  confusion: number[][];
}

/** Raised by the NaN/Inf guard: the run stops and says where, and which checkpoint is still good. */
export class NonFiniteLossError extends Error {
  constructor(epoch: number, step: number, loss: number, lastGood: string | null) {
    super(`loss became ${loss} at epoch ${epoch + 1}, step ${step + 1}; ` +
      (lastGood === null ? 'no checkpoint was written yet' : `the last good checkpoint is ${lastGood}`));
    this.name = 'NonFiniteLossError';
  }
}

class Run {
  readonly data: RunData;
  readonly model: ImageClassifier;
  readonly optimizer: SGD;
  readonly schedule: LrSchedule;
  readonly loss: Loss;
  readonly trainBatches: Loader;
  readonly testBatches: Loader;
  meta: CheckpointMeta;
  evalSeconds = 0;

  constructor(readonly config: Config, readonly dir: RunDir, readonly verbose: boolean) {
    if (config.train.threads !== null) torch.setNumThreads(config.train.threads);
    torch.manualSeed(config.seed);
    this.data = loadRunData(config);
    this.model = buildModel(config, this.data);
    this.model.to(config.train.device);
    this.optimizer = buildOptimizer(config, this.model);
    this.schedule = buildSchedule(config);
    this.loss = createLoss(lossConfig(config), this.data.classCounts);
    this.trainBatches = trainLoader(config, this.data);
    this.testBatches = testLoader(config, this.data);
    this.meta = { epoch: 0, bestTop1: -1, bestEpoch: -1, optimizerGroups: [], trainSeconds: 0 };
  }

  get stepsPerEpoch(): number {
    const all = this.trainBatches.numBatches(0);
    return this.config.train.stepsPerEpoch === null ? all : Math.min(all, this.config.train.stepsPerEpoch);
  }

  log(line: string): void {
    if (this.verbose) process.stderr.write(`${line}\n`);
  }

  saveCheckpoint(file: string): void {
    const state = this.optimizer.stateDict();
    const tensors: Record<string, torch.Tensor> = { 'rng.torch': torch.getRngState() };
    for (const [name, tensor] of Object.entries(this.model.stateDict())) tensors[`model.${name}`] = tensor;
    for (const [name, tensor] of Object.entries(state.tensors)) tensors[`optimizer.${name}`] = tensor;
    this.meta.optimizerGroups = state.groups;
    torch.safetensors.saveFile(tensors, file, { scatter: JSON.stringify(this.meta) });
    for (const tensor of Object.values(tensors)) tensor.dispose();
  }

  loadCheckpoint(file: string, { withOptimizer }: { withOptimizer: boolean }): void {
    const { tensors, metadata } = torch.safetensors.loadFile(file);
    if (metadata.scatter === undefined) throw new Error(`${file} is not a scatter checkpoint (no 'scatter' metadata)`);
    const meta = JSON.parse(metadata.scatter) as CheckpointMeta;
    const section = (prefix: string): Record<string, torch.Tensor> => Object.fromEntries(Object.entries(tensors)
      .filter(([name]) => name.startsWith(prefix)).map(([name, tensor]) => [name.slice(prefix.length), tensor]));
    this.model.loadStateDict(section('model.'), { strict: true });
    if (withOptimizer) {
      this.optimizer.loadStateDict({ tensors: section('optimizer.'), groups: meta.optimizerGroups });
      torch.setRngState(tensors['rng.torch']!);
    }
    for (const tensor of Object.values(tensors)) tensor.dispose();
    this.meta = meta;
  }

  async trainEpoch(epoch: number): Promise<number> {
    this.model.train();
    const steps = this.stepsPerEpoch;
    const progress = this.verbose ? new Progress(`epoch ${epoch + 1}/${this.config.train.epochs}`, steps, this.config.train.batchSize) : null;
    let lossSum = 0;
    let step = 0;
    for await (const batch of this.trainBatches.epoch(epoch)) {
      if (step >= steps) break;
      const lr = this.schedule.lrAt(epoch, step, steps);
      for (const group of this.optimizer.paramGroups) group.lr = lr;
      const loss = torch.scope(() => {
        const { images, labels } = batchTensors(batch, { device: this.config.train.device });
        const logits = this.model.call(images);
        const value = this.loss.compute(logits, labels, { epoch });
        const lossValue = value.item();
        if (!Number.isFinite(lossValue)) return lossValue;
        value.backward();
        this.optimizer.step();
        this.optimizer.zeroGrad();
        return lossValue;
      });
      if (!Number.isFinite(loss)) {
        const last = this.dir.checkpoint('last');
        throw new NonFiniteLossError(epoch, step, loss, existsSync(last) ? last : null);
      }
      lossSum += loss;
      step += 1;
      progress?.update(step, lossSum / step);
    }
    return lossSum / Math.max(step, 1);
  }

  /** Predictions on the test split, scored by the training split's class counts. */
  async evaluateModel(): Promise<Evaluation> {
    const started = performance.now();
    this.model.eval();
    const predictions = new Int32Array(this.data.test.length);
    const labels = new Int32Array(this.data.test.length);
    let filled = 0;
    for await (const batch of this.testBatches.epoch(0)) {
      const predicted = torch.noGrad(() => torch.scope(() => {
        const logits = this.model.call(batchTensors(batch, { device: this.config.train.device }).images);
        const ranked = this.loss.adjustForEval?.(logits) ?? logits;
        return ranked.argmax(1).to('int32').toTypedArray();
      })) as Int32Array;
      predictions.set(predicted, filled);
      labels.set(batch.labels, filled);
      filled += batch.labels.length;
    }
    this.evalSeconds += (performance.now() - started) / 1000;
    const { manyThreshold: many, fewThreshold: few } = this.config.data;
    return evaluate(predictions.subarray(0, filled), labels.subarray(0, filled), this.data.classCounts, { many, few });
  }

  async run(): Promise<Summary> {
    const { epochs, evalEvery } = this.config.train;
    const counts = this.data.classCounts;
    this.log(`scatter: ${this.data.train.length} training images in ${counts.length} classes (${Math.max(...counts)} to ` +
      `${Math.min(...counts)} per class), ${this.data.test.length} test images; ${this.stepsPerEpoch} steps per epoch; run ${this.dir.root}`);
    let latest: Evaluation | null = null;
    for (let epoch = this.meta.epoch; epoch < epochs; epoch++) {
      const started = performance.now();
      const trainLoss = await this.trainEpoch(epoch);
      this.meta.trainSeconds += (performance.now() - started) / 1000;
      const record: Record<string, unknown> = { epoch: epoch + 1, lr: this.optimizer.paramGroups[0]!.lr, trainLoss };
      if ((epoch + 1) % evalEvery === 0 || epoch + 1 === epochs) {
        latest = await this.evaluateModel();
        Object.assign(record, { top1: latest.top1, many: latest.many, medium: latest.medium, few: latest.few });
        this.log(`epoch ${epoch + 1}: top-1 ${(latest.top1 * 100).toFixed(2)}% (many ${percent(latest.many)}, medium ` +
          `${percent(latest.medium)}, few ${percent(latest.few)})`);
      }
      record.seconds = Number(((performance.now() - started) / 1000).toFixed(2));
      this.meta.epoch = epoch + 1;
      const improved = latest !== null && record.top1 !== undefined && latest.top1 > this.meta.bestTop1;
      if (improved) {
        this.meta.bestTop1 = latest!.top1;
        this.meta.bestEpoch = epoch + 1;
      }
      this.saveCheckpoint(this.dir.checkpoint('last'));
      if (improved) this.saveCheckpoint(this.dir.checkpoint('best'));
      this.dir.appendMetrics(record);
    }
    latest ??= await this.evaluateModel();
    const summary = this.summary(latest);
    this.dir.writeSummary(summary as unknown as Record<string, unknown>);
    this.log(`scatter: top-1 ${(summary.top1 * 100).toFixed(2)}% after ${epochs} epochs in ${formatDuration(summary.timings.trainSeconds)}`);
    return summary;
  }

  summary(result: Evaluation): Summary {
    const epochs = this.config.train.epochs;
    return {
      top1: result.top1, many: result.many, medium: result.medium, few: result.few, perClass: result.perClass,
      classCounts: this.data.classCounts, bestTop1: this.meta.bestTop1, bestEpoch: this.meta.bestEpoch, epochs, worldSize: 1,
      timings: {
        trainSeconds: round(this.meta.trainSeconds), evalSeconds: round(this.evalSeconds),
        secondsPerEpoch: round(this.meta.trainSeconds / Math.max(this.meta.epoch, 1)),
      },
      confusion: result.confusion,
    };
  }

  async close(): Promise<void> {
    await this.trainBatches.close();
    await this.testBatches.close();
  }
}

function percent(value: number | null): string {
  return value === null ? '-' : `${(value * 100).toFixed(1)}%`;
}

function round(seconds: number): number {
  return Number(seconds.toFixed(2));
}

async function runToEnd(run: Run): Promise<Summary> {
  try {
    return await run.run();
  } finally {
    await run.close();
  }
}

/** Trains a new run into options.out (which must not hold a run yet). */
export async function train(config: Config, options: TrainOptions): Promise<Summary> {
  if (existsSync(options.out) && existsSync(new RunDir(options.out).configFile)) {
    throw new Error(`${options.out} already holds a run: resume it with --resume ${options.out} or choose another --out`);
  }
  const dir = RunDir.create(options.out);
  dir.writeConfig(configToYaml(config));
  return runToEnd(new Run(config, dir, options.verbose ?? true));
}

/** Continues a run from its last checkpoint, with the config it was started with. */
export async function resume(runDirectory: string, options: { verbose?: boolean } = {}): Promise<Summary> {
  const dir = RunDir.open(runDirectory);
  const config = loadConfig(dir.configFile);
  const run = new Run(config, dir, options.verbose ?? true);
  const last = dir.checkpoint('last');
  if (existsSync(last)) {
    run.loadCheckpoint(last, { withOptimizer: true });
    dir.rewriteMetrics(dir.readMetrics(run.meta.epoch));
    run.log(`scatter: resuming ${runDirectory} at epoch ${run.meta.epoch + 1}`);
  }
  return runToEnd(run);
}

/** Evaluates a run's best (or last) checkpoint on its test split and rewrites its summary. */
export async function evaluateRun(runDirectory: string, options: { checkpoint?: 'best' | 'last'; verbose?: boolean } = {}): Promise<Summary> {
  const dir = RunDir.open(runDirectory);
  const config = loadConfig(dir.configFile);
  const run = new Run(config, dir, options.verbose ?? false);
  try {
    const which = options.checkpoint ?? 'best';
    const file = existsSync(dir.checkpoint(which)) ? dir.checkpoint(which) : dir.checkpoint('last');
    if (!existsSync(file)) throw new Error(`${runDirectory} has no checkpoint yet`);
    run.loadCheckpoint(file, { withOptimizer: false });
    const summary = run.summary(await run.evaluateModel());
    dir.writeSummary(summary as unknown as Record<string, unknown>);
    return summary;
  } finally {
    await run.close();
  }
}
