// `scatter analyze`: a trained run's test-set features (before and after the neck), their diagnostics,
// the classifier's conditioning and coupling, per-class results, and where the predictions go with post-hoc logit
// adjustment, written to the run's analysis.json.
import { existsSync } from 'node:fs';
import path from 'node:path';

import { CosineLinear, Linear } from '../nn/index.js';
import * as torch from '../torch/index.js';
import { lossConfig } from '../train/config.js';
import type { RunDir } from '../train/run-dir.js';
import { testLoader } from '../train/setup.js';
import { writeFileAtomic } from '../util/files.js';
import {
  type FeatureDiagnostics,
  classWeightNorms,
  classifierHessianCondition,
  correlationMatrix,
  describeFeatures,
  gradientCoupling,
} from './diagnostics.js';
import { type PosthocAdjustment, posthocAdjustment } from './posthoc.js';
import { mean } from './seed-statistics.js';
import { collectOverBatches, evaluateOnRun, loadTrainedRun } from './trained-run.js';

export interface Analysis {
  checkpoint: string;
  classCounts: number[];
  perClassAccuracy: number[];
  top1: number;
  confusion: number[][];
  /** Diagnostics of the pooled features, and of the neck's output where the model has a neck. */
  features: { beforeNeck: FeatureDiagnostics; afterNeck: FeatureDiagnostics | null };
  /** Channel correlation matrices (d x d), for heatmaps, to 4 decimals. */
  correlation: { beforeNeck: number[][]; afterNeck: number[][] | null };
  classifier: {
    kind: 'linear' | 'cosine' | 'other';
    weightNorms: number[] | null;
    /** Condition number of the mean cross-entropy's Hessian in the weights (linear classifiers; null above maxHessianSize). */
    hessianCondition: number | null;
    /** Mean |cosine| between the classes' weight gradients. */
    gradientCoupling: number;
  };
  /** From the run's batch-covariance.jsonl (train.recordCovarianceEvery), per sampler; null when not recorded. */
  batchCovariance: BatchCovarianceSummary[] | null;
  /**
   * Where the predictions go, and post-hoc logit adjustment of the raw logits over a grid of tau (posthoc.ts);
   * absent from analyses written before it existed.
   */
  posthoc?: PosthocAdjustment;
}

/**
 * How steady the training batches' feature covariance was under one sampler (docs/paper.md, claim 4: B3RS and BET are
 * meant to stop batch imbalance from shaking it): the trace's mean; its coefficient of variation over the
 * recorded batches (which includes the drift of the features over training); its batch-to-batch noise
 * (von Neumann's successive-difference estimate of the standard deviation, relative to the mean: slow drift
 * cancels between neighbouring records, so this compares samplers without the drift); the median condition
 * number (null: most batches' covariance was singular), which depends on the batch size too (a covariance
 * estimated from more items is better conditioned), hence the median batch size beside it (null: not recorded);
 * the mean |correlation|.
 */
export interface BatchCovarianceSummary {
  sampler: string;
  batches: number;
  traceMean: number;
  traceVariation: number;
  traceBatchNoise: number;
  medianCondition: number | null;
  medianBatchSize: number | null;
  meanAbsCorrelation: number;
}

interface BatchCovarianceRecord {
  sampler: string;
  trace: number;
  condition: number | null;
  batchSize?: number;
  meanAbsCorrelation: number;
}

/** The lower median of values already sorted. */
function lowerMedian(sorted: readonly number[]): number {
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** The summary of batch-covariance.jsonl per sampler, in order of first appearance. */
export function summarizeBatchCovariance(records: readonly BatchCovarianceRecord[]): BatchCovarianceSummary[] {
  const bySampler = new Map<string, BatchCovarianceRecord[]>();
  for (const record of records) bySampler.set(record.sampler, [...(bySampler.get(record.sampler) ?? []), record]);
  return [...bySampler].map(([sampler, group]) => {
    const traces = group.map((record) => record.trace);
    const traceMean = mean(traces);
    const spread = Math.sqrt(mean(traces.map((trace) => (trace - traceMean) ** 2)));
    const steps = traces.slice(1).map((trace, i) => (trace - traces[i]!) ** 2);
    const noise = steps.length === 0 ? 0 : Math.sqrt(mean(steps) / 2);
    const relative = (value: number): number => (traceMean === 0 ? 0 : value / traceMean);
    // A singular covariance counts as infinitely ill-conditioned: it sorts last.
    const conditions = group.map((record) => record.condition ?? Infinity).sort((a, b) => a - b);
    const median = lowerMedian(conditions);
    const sizes = group.flatMap((record) => (record.batchSize === undefined ? [] : [record.batchSize])).sort((a, b) => a - b);
    return {
      sampler,
      batches: group.length,
      traceMean,
      traceVariation: relative(spread),
      traceBatchNoise: relative(noise),
      medianCondition: Number.isFinite(median) ? median : null,
      medianBatchSize: sizes.length === 0 ? null : lowerMedian(sizes),
      meanAbsCorrelation: mean(group.map((record) => record.meanAbsCorrelation)),
    };
  });
}

/** The summary of a run's batch-covariance.jsonl; null when the run recorded none. */
export function summarizeRunBatchCovariance(dir: RunDir): BatchCovarianceSummary[] | null {
  if (!existsSync(dir.batchCovarianceFile)) return null;
  return summarizeBatchCovariance(dir.readBatchCovariance() as unknown as BatchCovarianceRecord[]);
}

export interface AnalyzeOptions {
  checkpoint?: 'best' | 'last';
  /** The Hessian is (C d) x (C d); above this size its condition number is skipped (eigvalsh is cubic). */
  maxHessianSize?: number;
}

/** The file `analyzeRun` writes into the run directory. */
export const ANALYSIS_FILE = 'analysis.json';

/**
 * JSON with the infinities kept as the strings "Infinity" (a singular matrix's condition number) and
 * "-Infinity" (its Gaussian entropy), not null.
 */
export function analysisJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => (item === Infinity ? 'Infinity' : item === -Infinity ? '-Infinity' : item));
}

/** Reads what analysisJson wrote, with the infinities numbers again. */
export function parseAnalysisJson(text: string): Analysis {
  return JSON.parse(text, (_key, item: unknown) => (item === 'Infinity' ? Infinity : item === '-Infinity' ? -Infinity : item)) as Analysis;
}

/**
 * A correlation matrix for the report's heatmaps, to 4 decimals: at 17 significant digits two 64 x 64 matrices were
 * nine tenths of a record's analysis.json (the diagnostics are computed from the full values, not from these).
 */
function heatmapValues(matrix: torch.Tensor): number[][] {
  return (matrix.tolist() as number[][]).map((row) => row.map((value) => Math.round(value * 1e4) / 1e4));
}

/** Analyses a run's best (or last) checkpoint on its test split and writes DIR/analysis.json. */
export async function analyzeRun(runDirectory: string, options: AnalyzeOptions = {}): Promise<Analysis> {
  const { dir, config, data, model, checkpoint: file, inference } = loadTrainedRun(runDirectory, options.checkpoint ?? 'best');

  const hasNeck = config.model.neck !== 'identity';
  // Predictions through the trainer's inference pass (autocast and post-hoc logit adjustment included), so that
  // analysis.json's accuracies are summary.json's for the same checkpoint.
  const [x, z, raw, p, predictions, y] = await collectOverBatches(testLoader(config, data), (images, labels) => {
    const { features, embedding, logits, predictions: predicted } = inference.forward(inference.input(images));
    return [features.double(), embedding.double(), logits.float(), torch.softmax(logits.double(), 1), predicted, labels] as const;
  });

  return torch.scope(() => {
    const labels = y.toArray();
    const result = evaluateOnRun({ config, data }, predictions.toArray(), labels);
    const loss = lossConfig(config);
    // LDAM's cosine logits are scaled by its s before the softmax: adjusted in the softmax's units.
    const logitScale = loss.name === 'ldam' ? (loss.ldamScale ?? 30) : 1;
    const { manyThreshold: many, fewThreshold: few } = config.data;
    const classifier = model.classifier;
    const kind = classifier instanceof Linear ? 'linear' : classifier instanceof CosineLinear ? 'cosine' : 'other';
    const weight = kind === 'linear' ? (classifier as Linear).weight : kind === 'cosine' ? (classifier as CosineLinear).weight.t() : null;
    const hessianSize = data.classCounts.length * z.shape[1]!;
    const analysis: Analysis = {
      checkpoint: path.relative(runDirectory, file),
      classCounts: data.classCounts,
      perClassAccuracy: result.perClass,
      top1: result.top1,
      confusion: result.confusion,
      features: { beforeNeck: describeFeatures(x), afterNeck: hasNeck ? describeFeatures(z) : null },
      correlation: { beforeNeck: heatmapValues(correlationMatrix(x)), afterNeck: hasNeck ? heatmapValues(correlationMatrix(z)) : null },
      classifier: {
        kind,
        weightNorms: weight === null ? null : classWeightNorms(weight.double()),
        hessianCondition: kind === 'linear' && hessianSize <= (options.maxHessianSize ?? 2048) ? classifierHessianCondition(z, p) : null,
        gradientCoupling: gradientCoupling(z, p, y),
      },
      batchCovariance: summarizeRunBatchCovariance(dir),
      posthoc: posthocAdjustment(raw, labels, data.classCounts, { many, few }, logitScale),
    };
    writeFileAtomic(path.join(dir.root, ANALYSIS_FILE), `${analysisJson(analysis)}\n`);
    return analysis;
  });
}
