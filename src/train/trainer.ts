// The training loop: epochs of optimizer steps (SGD, AdamW, SAM) on the long-tailed split, its batches mixed where
// train.mix says, evaluation every N epochs, checkpoints after every epoch (last, and best by top-1), a NaN/Inf guard,
// exact resumption. A decoupled run (config.decoupled) is the same loop on a finished run's model with only its
// classifier training, or, for tau-norm, one "epoch" that chooses tau instead of training.
//
// Exactness: a batch and its mixing are pure functions of (seed, epoch, batch number) (see data/loader.ts,
// data/mixing.ts), the learning rate a pure function of the position, and a checkpoint holds the model (with
// batch-norm statistics), the optimizer's state and libtorch's generator state. A run killed at any point and resumed
// from its last checkpoint therefore retraces the same steps bit for bit.
//
// Data-parallel (options.parallel, see distributed.ts): every rank trains on its share of each global
// batch and gradients are reduced across ranks, so the run follows the one-process run with the same
// global batch; evaluation is sharded too, and only rank 0 writes the run directory. Starting, resuming
// and evaluating a run directory are commands.ts.
import { existsSync } from 'node:fs';

import { type Batch, type Loader, batchTensors, drawMix, mixBatch, mixingOn, shardRange } from '../data/index.js';
import { type ImageClassifier, type PretrainedSource, loadPretrained } from '../models/index.js';
import type { DataParallel } from '../nn/index.js';
import { TauNormalizedClassifier, selectTau, trainClassifierOnly } from '../longtail/decoupled.js';
import { type Loss, type MixWeights, createLoss, mixedLoss } from '../longtail/losses.js';
import type { LrSchedule, Optimizer } from '../optim/index.js';
import * as torch from '../torch/index.js';
import {
  type CheckpointMeta,
  type EpochRecords,
  type ModelCard,
  NonFiniteLossError,
  commitEpoch,
  readCheckpoint,
  section,
  withModelState,
} from './checkpoint.js';
import { type Config, lossConfig } from './config.js';
import { rankDevice } from './distributed.js';
import { describeEnvironment } from './environment.js';
import { batchCovarianceRecord, samplerOf } from './batch-covariance.js';
import { InferencePass } from './inference.js';
import { capturableOptimizerStep, optimizerStep, reduceStepGradients, rowsPerRank, stepLoss } from './step.js';
import { type StepCapture, startCapture, stepKind } from './capture.js';
import { type Evaluation, evaluate } from './evaluation.js';
import { Progress, formatDuration } from './progress.js';
import type { RunDir, Summary } from './run-dir.js';

import {
  type RunData,
  buildModel,
  buildOptimizer,
  buildSchedule,
  evalLoader,
  loadRunData,
  modelCard,
  modelShape,
  testLoader,
  trainLoader,
} from './setup.js';

/** What a new run's model starts from besides its initialisation: a decoupled run's stage-1 checkpoint, or model.pretrained. */
export type StartingWeights = { stage1: string } | { pretrained: string };

export class Run {
  /** Where this rank's tensors live: train.device, or for 'cuda' under data parallelism, cuda:<local rank>. */
  readonly device: torch.Device;
  readonly rank: number;
  readonly verbose: boolean;
  readonly data: RunData;
  readonly model: ImageClassifier;
  /** null when nothing trains (tau-norm). */
  readonly optimizer: Optimizer | null;
  readonly schedule: LrSchedule;
  readonly loss: Loss;
  /** What the checkpoints record of how to use the model (setup.ts modelCard); fixed for the run. */
  readonly card: ModelCard;
  /** The pretrained file this process loaded the model from (a new run's), for environment.jsonl; null: none. */
  readonly pretrained: PretrainedSource | null;
  /** The model's inference pass (inference.ts): what evaluation, analysis and predict share. */
  readonly inference: InferencePass;
  /** Every parameter, and those of the neck and classifier: what reduceGradients reduces under data parallelism. */
  readonly parameterLists: { all: torch.Tensor[]; head: torch.Tensor[] };
  readonly trainBatches: Loader;
  readonly testBatches: Loader;
  /** train.capture: the captured steps (capture.ts); null: every step runs eagerly. */
  capture: StepCapture | null;
  meta: CheckpointMeta;
  evalSeconds = 0;
  /** train.recordCovarianceEvery: this epoch's records (batch-covariance.ts). */
  covarianceRecords: Record<string, unknown>[] = [];

  /** `start`: what a new run's model starts from; null when it resumes its own checkpoint, or starts from its initialisation. */
  constructor(
    readonly config: Config,
    readonly dir: RunDir,
    verbose: boolean,
    start: StartingWeights | null,
    readonly parallel: DataParallel | null,
  ) {
    if (config.train.threads !== null) torch.setNumThreads(config.train.threads);
    torch.manualSeed(config.seed);
    this.rank = parallel?.rank ?? 0;
    this.verbose = verbose && this.rank === 0;
    this.device = rankDevice(config.train.device, parallel);
    this.data = loadRunData(config);
    this.model =
      start !== null && 'stage1' in start
        ? withModelState(start.stage1, (state) => buildModel(config, modelShape(this.data), state))
        : buildModel(config, modelShape(this.data));
    this.pretrained = start !== null && 'pretrained' in start ? this.#loadPretrained(start.pretrained) : null;
    this.model.to(this.device);
    if (config.train.channelsLast) this.model.toChannelsLast();
    this.optimizer = config.decoupled.method === 'tau-norm' ? null : buildOptimizer(config, this.model);
    this.schedule = buildSchedule(config);
    this.loss = createLoss(lossConfig(config), this.data.classCounts);
    this.card = modelCard(config, this.data);
    this.inference = new InferencePass(this.model, {
      device: this.device,
      precision: config.train.precision,
      channelsLast: config.train.channelsLast,
      adjustForEval: this.loss.adjustForEval,
    });
    const worldSize = parallel?.worldSize ?? 1;
    this.trainBatches = trainLoader(config, this.data, this.rank, worldSize);
    this.testBatches = testLoader(config, this.data, this.rank, worldSize);
    // Fixed for the run (parameters keep their identity): built once, not every step.
    this.parameterLists = { all: this.model.parameters(), head: [...this.model.neck.parameters(), ...this.model.classifier.parameters()] };
    this.meta = { epoch: 0, bestTop1: -1, bestEpoch: -1, optimizerGroups: [], trainSeconds: 0 };
    this.capture = startCapture(config, this.device, parallel?.worldSize ?? 1, this.optimizer, (line) => this.log(line));
  }

  /** Loads model.pretrained into the (CPU) model; rank 0 says what starts from scratch. Errors name the key. */
  #loadPretrained(file: string): PretrainedSource {
    try {
      return loadPretrained(this.model, file, (line) => {
        if (this.rank === 0) process.stderr.write(`scatter: ${line}\n`);
      });
    } catch (error) {
      throw new Error(`model.pretrained: ${(error as Error).message}`);
    }
  }

  /** The run's epochs: tau-norm trains none, and counts choosing tau as its one epoch. */
  get epochs(): number {
    return this.config.decoupled.method === 'tau-norm' ? 1 : this.config.train.epochs;
  }

  get stepsPerEpoch(): number {
    const all = this.trainBatches.numBatches(0);
    return this.config.train.stepsPerEpoch === null ? all : Math.min(all, this.config.train.stepsPerEpoch);
  }

  log(line: string): void {
    if (this.verbose) process.stderr.write(`${line}\n`);
  }

  /** Commits the epoch just trained (checkpoint.ts: last, best when `improved`, then its records). */
  commitEpoch(records: EpochRecords, improved: boolean): void {
    const state = this.optimizer?.stateDict() ?? { tensors: {}, groups: [] };
    const tensors: Record<string, torch.Tensor> = { 'rng.torch': torch.getRngState() };
    for (const [name, tensor] of Object.entries(this.model.stateDict())) tensors[`model.${name}`] = tensor;
    for (const [name, tensor] of Object.entries(state.tensors)) tensors[`optimizer.${name}`] = tensor;
    this.meta.optimizerGroups = state.groups;
    try {
      commitEpoch(this.dir, tensors, { ...this.meta, committed: records, card: this.card }, improved);
    } finally {
      for (const tensor of Object.values(tensors)) tensor.dispose();
    }
  }

  loadCheckpoint(file: string, { withOptimizer }: { withOptimizer: boolean }): void {
    const { tensors, meta } = readCheckpoint(file);
    this.model.loadStateDict(section(tensors, 'model.'), { strict: true });
    if (withOptimizer) {
      this.optimizer?.loadStateDict({ tensors: section(tensors, 'optimizer.'), groups: meta.optimizerGroups as object[] });
      torch.setRngState(tensors['rng.torch']!);
    }
    for (const tensor of Object.values(tensors)) tensor.dispose();
    const { committed: _, card: __, ...position } = meta;
    this.meta = position;
  }

  /** One epoch's work and what metrics.jsonl records of it: optimizer steps, or choosing tau (tau-norm). */
  async fitEpoch(epoch: number): Promise<Record<string, unknown>> {
    if (this.optimizer === null) return this.chooseTau();
    const trainLoss = await this.trainEpoch(epoch, this.optimizer);
    return { lr: this.optimizer.paramGroups[0]!.lr, trainLoss };
  }

  async trainEpoch(epoch: number, optimizer: Optimizer): Promise<number> {
    if (this.config.decoupled.method === null) this.model.train();
    else trainClassifierOnly(this.model);
    const steps = this.stepsPerEpoch;
    const progress = this.verbose ? new Progress(`epoch ${epoch + 1}/${this.epochs}`, steps, this.config.train.batchSize) : null;
    let lossSum = 0;
    let step = 0;
    const every = this.config.train.recordCovarianceEvery;
    for await (const batch of this.trainBatches.epoch(epoch)) {
      if (step >= steps) break;
      const runStep = epoch * steps + step;
      // The steps train.recordCovarianceEvery names have their pooled features recorded.
      const record =
        every !== null && runStep % every === 0
          ? (features: torch.Tensor): void => {
              const sampler = samplerOf(this.trainBatches.options.batchSampler, this.config.train.sampler, epoch, batch.batch);
              this.covarianceRecords.push(batchCovarianceRecord(features, { epoch, step: runStep }, sampler));
            }
          : undefined;
      const lr = this.schedule.lrAt(epoch, step, steps);
      for (const group of optimizer.paramGroups) group.lr = lr;
      const loss = torch.scope(() => {
        const inputs = this.trainingInputs(batch);
        // SAM's second pass sees the same mixed batch; covariance records see the first pass only.
        const eager = (): number =>
          optimizerStep(optimizer, this.model, (second) => {
            const { loss: value, mean } = this.batchLoss(
              inputs.images,
              inputs.targets,
              batch,
              epoch,
              second ? undefined : record,
              inputs.lam,
            );
            const meanValue = mean.item();
            if (Number.isFinite(meanValue)) {
              value.backward();
              this.reduceGradients();
            }
            return meanValue;
          });
        const capture = this.capture;
        // A step whose features are recorded reads them on the host: it runs eagerly.
        if (capture === null || record !== undefined) return eager();
        return capture.step(stepKind(inputs, this.loss, epoch), inputs, eager, (buffers) =>
          capturableOptimizerStep(capture.optimizer, this.model, () => {
            const { loss: value, mean } = this.batchLoss(buffers.images, buffers.targets, batch, epoch, undefined, buffers.lam);
            value.backward();
            return mean;
          }),
        );
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

  /** A batch of images on this rank's device, in the configured memory format. */
  images(batch: Batch, loader: Loader): { images: torch.Tensor; labels: torch.Tensor } {
    const { images, labels } = batchTensors(batch, { device: this.device });
    loader.recycle(batch);
    return { images: this.inference.input(images), labels };
  }

  /**
   * A training batch on this rank's device, mixed as train.mix draws it for (seed, epoch, batch): targets are the
   * labels, or N x 2 (own label, partner's) with lam the weight of the first; lam null when unmixed.
   */
  trainingInputs(batch: Batch): { images: torch.Tensor; targets: torch.Tensor; lam: number | null } {
    const { images, labels } = batchTensors(batch, { device: this.device });
    this.trainBatches.recycle(batch);
    const options = this.config.train.mix;
    const [, , height, width] = images.shape;
    const keys = { seed: this.config.seed, epoch: batch.epoch, batch: batch.batch };
    const draw = mixingOn(options) ? drawMix(options, keys, { height: height!, width: width! }) : ({ kind: 'none' } as const);
    const start = shardRange(batch.globalSize, this.rank, this.parallel?.worldSize ?? 1).start;
    const mixed = mixBatch(images, labels, draw, { ...keys, start });
    return { ...mixed, images: this.inference.input(mixed.images) };
  }

  /** Neck and classifier, in float32: whitening's covariance and eigendecomposition need the precision. */
  head(features: torch.Tensor): torch.Tensor {
    return this.inference.logits(this.inference.embedding(features));
  }

  /**
   * The loss to back-propagate for this rank's share of a batch, and the global batch's mean loss (a detached 0-dim
   * tensor, read by the caller); `record`, when given, sees this rank's pooled features; `lam`: the weight of the
   * first column of mixed targets (trainingInputs), or lam and 1 - lam as tensors (a captured step's).
   */
  batchLoss(
    images: torch.Tensor,
    labels: torch.Tensor,
    batch: Batch,
    epoch: number,
    record?: (features: torch.Tensor) => void,
    lam: number | MixWeights | null = null,
  ): { loss: torch.Tensor; mean: torch.Tensor } {
    const { parallel } = this;
    // Mixed targets are N x 2 (own label, partner's): they travel through the gather of a synchronised head as one.
    const loss = (logits: torch.Tensor, targets: torch.Tensor): torch.Tensor =>
      lam === null
        ? this.loss.compute(logits, targets, { epoch })
        : mixedLoss(this.loss, logits, { a: targets.select(1, 0), b: targets.select(1, 1), lam }, { epoch });
    const features = (x: torch.Tensor): torch.Tensor => {
      const pooled = this.inference.features(x);
      record?.(pooled);
      return pooled;
    };
    if (parallel === null) {
      const value = loss(this.head(features(images)), labels);
      return { loss: value, mean: value.detach() };
    }
    return stepLoss(parallel, {
      images,
      labels,
      rowsPerRank: rowsPerRank(batch.globalSize, parallel.worldSize),
      syncHead: this.config.distributed.syncWhitening,
      features,
      head: (pooled) => this.head(pooled),
      loss,
    });
  }

  reduceGradients(): void {
    if (this.parallel === null) return;
    reduceStepGradients(this.parallel, this.parameterLists.all, this.parameterLists.head, this.config.distributed.syncWhitening);
  }

  /** tau-norm's epoch: tau from the grid, by mean per-class accuracy on the held-out (or validation) images. */
  async chooseTau(): Promise<Record<string, unknown>> {
    const { holdout } = this.data;
    const { classifier } = this.model;
    if (holdout === null) throw new Error('tau-norm needs held-out images: set data.holdoutPerClass or data.valList');
    if (!(classifier instanceof TauNormalizedClassifier)) throw new Error('tau-norm: the classifier is not tau-normalised');
    const loader = evalLoader(this.config, this.data, holdout);
    try {
      const { outputs, labels } = await this.inferBatches(loader, (images) => this.inference.embedding(this.inference.features(images)));
      const features = torch.cat(outputs);
      const choice = selectTau(classifier, features, labels, this.config.decoupled.tauGrid);
      for (const tensor of [features, ...outputs]) tensor.dispose();
      this.log(
        `tau-norm: tau ${choice.tau} (held-out mean per-class accuracy ${(choice.accuracy * 100).toFixed(2)}%, ${labels.length} images)`,
      );
      return { tau: choice.tau, holdoutAccuracy: choice.accuracy, tauSearch: choice.grid };
    } finally {
      await loader.close();
    }
  }

  /** `compute` on the images of every batch of `loader` (evaluation mode, no gradients), with the labels. */
  async inferBatches<T>(loader: Loader, compute: (images: torch.Tensor, batch: Batch) => T): Promise<{ outputs: T[]; labels: Int32Array }> {
    this.model.eval();
    const outputs: T[] = [];
    const labels: Int32Array[] = [];
    for await (const batch of loader.epoch(0)) {
      outputs.push(torch.noGrad(() => torch.scope(() => compute(this.images(batch, loader).images, batch))));
      labels.push(batch.labels);
    }
    return { outputs, labels: concatenate(labels) };
  }

  /**
   * Predictions on the test split, scored by the training split's class counts. Under data parallelism
   * each rank predicts its share of every batch and the shares are gathered: every rank gets the whole.
   */
  async evaluateModel(): Promise<Evaluation> {
    const started = performance.now();
    const { parallel } = this;
    // Every rank evaluates rank 0's model (its batch-norm and whitening statistics), the one checkpoints hold.
    parallel?.broadcastState(this.model);
    const { outputs } = await this.inferBatches(this.testBatches, (images, batch) => {
      const predicted = this.inference.predictions(this.head(this.inference.features(images))).to('int32');
      const labels = torch.fromTypedArray(batch.labels, { device: this.device });
      const pairs = torch.stack([predicted, labels], 1);
      const all = parallel === null ? pairs : parallel.gather(pairs, rowsPerRank(batch.globalSize, parallel.worldSize));
      return all.cpu().toTypedArray() as Int32Array;
    });
    this.evalSeconds += (performance.now() - started) / 1000;
    const pairs = concatenate(outputs);
    const predictions = pairs.filter((_, i) => i % 2 === 0);
    const labels = pairs.filter((_, i) => i % 2 === 1);
    const { manyThreshold: many, fewThreshold: few } = this.config.data;
    return evaluate(predictions, labels, this.data.classCounts, { many, few });
  }

  async run(): Promise<Summary> {
    const { evalEvery } = this.config.train;
    this.parallel?.broadcastState(this.model);
    const epochs = this.epochs;
    if (this.rank === 0) {
      this.dir.appendEnvironment({
        startedAt: new Date().toISOString(),
        firstEpoch: this.meta.epoch + 1,
        ...describeEnvironment(this.config.train.device, this.parallel?.worldSize ?? 1),
        ...(this.pretrained === null ? {} : { pretrained: this.pretrained }),
      });
    }
    const counts = this.data.classCounts;
    this.log(
      `scatter: ${this.data.train.length} training images in ${counts.length} classes (${Math.max(...counts)} to ` +
        `${Math.min(...counts)} per class), ${this.data.test.length} test images; ${this.stepsPerEpoch} steps per epoch; run ${this.dir.root}`,
    );
    const { method, from } = this.config.decoupled;
    if (method !== null) this.log(`scatter: ${method} on stage 1 ${from}`);
    if (this.pretrained !== null) this.log(`scatter: starting from pretrained ${this.pretrained.file} (sha256 ${this.pretrained.sha256})`);
    let latest: Evaluation | null = null;
    for (let epoch = this.meta.epoch; epoch < epochs; epoch++) {
      const started = performance.now();
      const record: Record<string, unknown> = { epoch: epoch + 1, ...(await this.fitEpoch(epoch)) };
      this.meta.trainSeconds += (performance.now() - started) / 1000;
      if ((epoch + 1) % evalEvery === 0 || epoch + 1 === epochs) {
        latest = await this.evaluateModel();
        Object.assign(record, { top1: latest.top1, many: latest.many, medium: latest.medium, few: latest.few });
        this.log(
          `epoch ${epoch + 1}: top-1 ${(latest.top1 * 100).toFixed(2)}% (many ${percent(latest.many)}, medium ` +
            `${percent(latest.medium)}, few ${percent(latest.few)})`,
        );
      }
      record.seconds = Number(((performance.now() - started) / 1000).toFixed(2));
      this.meta.epoch = epoch + 1;
      const improved = latest !== null && record.top1 !== undefined && latest.top1 > this.meta.bestTop1;
      if (improved) {
        this.meta.bestTop1 = latest!.top1;
        this.meta.bestEpoch = epoch + 1;
      }
      if (this.rank === 0) this.commitEpoch({ metrics: record, batchCovariance: this.covarianceRecords }, improved);
      this.covarianceRecords = [];
    }
    latest ??= await this.evaluateModel();
    const summary = this.summary(latest);
    if (this.rank === 0) this.dir.writeSummary(summary);
    this.log(
      `scatter: top-1 ${(summary.top1 * 100).toFixed(2)}% after ${epochs} epochs in ${formatDuration(summary.timings.trainSeconds)}`,
    );
    return summary;
  }

  summary(result: Evaluation): Summary {
    const summary: Summary = {
      top1: result.top1,
      many: result.many,
      medium: result.medium,
      few: result.few,
      perClass: result.perClass,
      classCounts: this.data.classCounts,
      bestTop1: this.meta.bestTop1,
      bestEpoch: this.meta.bestEpoch,
      epochs: this.epochs,
      worldSize: this.parallel?.worldSize ?? 1,
      timings: {
        trainSeconds: round(this.meta.trainSeconds),
        evalSeconds: round(this.evalSeconds),
        secondsPerEpoch: round(this.meta.trainSeconds / Math.max(this.meta.epoch, 1)),
      },
      confusion: result.confusion,
    };
    const { method, from, checkpoint } = this.config.decoupled;
    if (method === null || from === null) return summary;
    const classifier = this.model.classifier;
    const tau = classifier instanceof TauNormalizedClassifier ? { tau: classifier.tau } : {};
    return { ...summary, decoupled: { method, from, checkpoint, ...tau } };
  }

  async close(): Promise<void> {
    await this.trainBatches.close();
    await this.testBatches.close();
  }
}

function concatenate(parts: readonly Int32Array[]): Int32Array {
  const whole = new Int32Array(parts.reduce((length, part) => length + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.length;
  }
  return whole;
}

function percent(value: number | null): string {
  return value === null ? '-' : `${(value * 100).toFixed(1)}%`;
}

function round(seconds: number): number {
  return Number(seconds.toFixed(2));
}
