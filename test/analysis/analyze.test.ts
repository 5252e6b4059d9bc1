// `analyzeRun` on small trained runs: what analysis.json holds, with and without a neck; post-hoc adjustment by hand.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { analysisJson, analyzeRun, parseAnalysisJson, summarizeBatchCovariance } from '../../src/analysis/analyze.js';
import { POSTHOC_TAUS, posthocAdjustment } from '../../src/analysis/posthoc.js';
import { collectOverBatches, loadTrainedRun } from '../../src/analysis/trained-run.js';
import { torch } from '../../src/index.js';
import { InferencePass } from '../../src/train/inference.js';
import { RunDir } from '../../src/train/run-dir.js';
import { testLoader } from '../../src/train/setup.js';
import { evaluateRun } from '../../src/train/commands.js';
import { temporaryDir } from '../helpers/python.js';
import { trainTinyRun, writeBatchCovariance, writeTinyCifar } from '../helpers/runs.js';

const work = temporaryDir('analyze');
const root = writeTinyCifar(work);

function trainRun(name: string, neck: 'identity' | 'whitening'): Promise<string> {
  return trainTinyRun(path.join(work, name), root, { model: { neck } });
}

test('analysis.json holds features before and after the neck, the classifier diagnostics and per-class results', async () => {
  const out = await trainRun('whitened', 'whitening');
  const analysis = await analyzeRun(out);
  assert.ok(existsSync(path.join(out, 'analysis.json')));
  assert.deepEqual(JSON.parse(readFileSync(path.join(out, 'analysis.json'), 'utf8')).top1, analysis.top1);
  assert.equal(analysis.perClassAccuracy.length, 10);
  assert.equal(analysis.correlation.beforeNeck.length, 64);
  assert.ok(analysis.features.afterNeck !== null && analysis.correlation.afterNeck !== null);
  // (Whether whitening decorrelates the test features is the experiment's question, not this test's: after
  // 2 epochs of tiny data the running whitening matrix is still mostly its initial identity blend.)
  assert.notEqual(analysis.features.afterNeck.meanAbsCorrelation, analysis.features.beforeNeck.meanAbsCorrelation);
  assert.equal(analysis.correlation.afterNeck.length, 64);
  assert.ok(analysis.correlation.afterNeck.flat().every((value) => Math.abs(value * 1e4 - Math.round(value * 1e4)) < 1e-6));
  // The compact record: the same values, JSON without indentation, no checkpoints.
  const record = path.join(work, 'record');
  const copied = new RunDir(out).copyRecord(record);
  assert.ok(copied.includes('summary.json') && copied.includes('analysis.json') && !copied.some((file) => file.includes('checkpoint')));
  for (const file of ['summary.json', 'analysis.json']) {
    const [original, kept] = [readFileSync(path.join(out, file), 'utf8'), readFileSync(path.join(record, file), 'utf8')];
    assert.deepEqual(JSON.parse(kept), JSON.parse(original), file);
    assert.equal(kept.trimEnd().includes('\n'), false, `${file} is one line`);
  }
  assert.equal(analysis.classifier.kind, 'linear');
  assert.equal(analysis.classifier.weightNorms?.length, 10);
  assert.ok(analysis.classifier.gradientCoupling >= 0 && analysis.classifier.gradientCoupling <= 1);
  // Post-hoc adjustment over the tau grid: tau 0 is the run's own evaluation (plain CE), shares sum to 1.
  assert.deepEqual(
    analysis.posthoc?.rows.map((row) => row.tau),
    [...POSTHOC_TAUS],
  );
  assert.equal(analysis.posthoc?.rows[0]?.top1, analysis.top1);
  for (const { predictedShare } of analysis.posthoc!.rows) {
    assert.ok(Math.abs(predictedShare.many + predictedShare.medium + predictedShare.few - 1) < 1e-9);
  }
});

test('a run without a neck has no after-neck diagnostics', async () => {
  const analysis = await analyzeRun(await trainRun('plain', 'identity'));
  assert.equal(analysis.features.afterNeck, null);
  assert.ok(analysis.features.beforeNeck.effectiveRank >= 1);
});

test("analysis scores the checkpoint as the trainer's evaluation does, post-hoc logit adjustment included", async () => {
  const out = await trainTinyRun(path.join(work, 'posthoc'), root, { loss: { name: 'ce', posthocTau: 1 } });
  // A classifier with zero weights and bias favouring class 0: every image scores [1, 0, ..., 0], so plain
  // argmax says class 0 while the adjustment (minus log prior) moves every prediction to a rarest class.
  const file = path.join(out, 'checkpoints', 'best.safetensors');
  const { tensors, metadata } = torch.safetensors.loadFile(file);
  tensors['model.linear.weight']!.zero_();
  tensors['model.linear.bias']!.copy_(torch.tensor([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
  torch.safetensors.saveFile(tensors, file, metadata);
  const summary = await evaluateRun(out, { checkpoint: 'best' });
  const analysis = await analyzeRun(out, { checkpoint: 'best' });
  assert.deepEqual(summary.perClass, [0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
  assert.deepEqual(analysis.perClassAccuracy, summary.perClass);
  assert.equal(analysis.top1, summary.top1);
  // The grid reads the raw logits: tau 0 predicts class 0 everywhere (all in its group), tau 1 is the run's evaluation.
  const [raw, one] = [analysis.posthoc!.rows[0]!, analysis.posthoc!.rows.find((row) => row.tau === 1)!];
  assert.deepEqual(Object.values(raw.predictedShare).sort(), [0, 0, 1]);
  assert.equal(one.top1, summary.top1);
});

test('post-hoc adjustment by hand: tau moves predictions to rarer classes; a logit scale is tau divided by it', () => {
  // Classes of 200 (many), 50 (medium) and 10 (few) images; log priors -0.262, -1.648, -3.258.
  const counts = [200, 50, 10];
  const thresholds = { many: 100, few: 20 };
  const logits = torch.tensor([
    [2, 1, 0],
    [1, 0.5, 0],
    [0.1, 0, 0],
    [3, 0, 0],
  ]);
  const labels = [0, 1, 2, 2];
  const { rows } = posthocAdjustment(logits, labels, counts, thresholds, 1, [0, 1]);
  // tau 0: argmax 0, 0, 0, 0. tau 1: scores + [0.262, 1.648, 3.258]: 2, 2, 2, and 0 (3.262 against 3.258).
  assert.deepEqual(rows[0], { tau: 0, top1: 0.25, many: 1, medium: 0, few: 0, predictedShare: { many: 1, medium: 0, few: 0 } });
  assert.deepEqual(rows[1], { tau: 1, top1: 0.25, many: 0, medium: 0, few: 0.5, predictedShare: { many: 0.25, medium: 0, few: 0.75 } });
  const scaled = posthocAdjustment(logits.div(30), labels, counts, thresholds, 30, [0, 1]);
  assert.deepEqual(scaled.rows, rows);
  assert.equal(scaled.logitScale, 30);
});

test('a bfloat16 channels-last run is analysed through the same inference pass as it was evaluated: equal predictions', async () => {
  const out = await trainTinyRun(path.join(work, 'bf16'), root, {
    model: { neck: 'whitening' },
    train: { precision: 'bfloat16', channelsLast: true },
  });
  const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as {
    perClass: number[];
    top1: number;
    confusion: number[][];
  };
  // summary.json holds the evaluation of the last epoch: analyse that checkpoint.
  const analysis = await analyzeRun(out, { checkpoint: 'last' });
  assert.deepEqual(analysis.confusion, summary.confusion);
  assert.deepEqual(analysis.perClassAccuracy, summary.perClass);
  assert.equal(analysis.top1, summary.top1);
  // The pass runs the backbone in bfloat16 as the evaluation did: its logits are not float32's.
  const trained = loadTrainedRun(out, 'last');
  const logitsOf = async (pass: InferencePass): Promise<torch.Tensor> =>
    (await collectOverBatches(testLoader(trained.config, trained.data), (images) => [pass.forward(pass.input(images)).logits] as const))[0];
  const float32 = new InferencePass(trained.model, { ...trained.inference.options, precision: 'float32' });
  const [ours, theirs] = [await logitsOf(trained.inference), await logitsOf(float32)];
  assert.ok(!ours.equal(theirs), 'analysis runs the backbone in bfloat16, as training evaluated it');
  const gap = ours.sub(theirs).abs().max().item();
  assert.ok(gap < 0.25 * theirs.abs().max().item(), `and only rounding separates the two (largest gap ${gap})`);
});

test('the recorded batch covariances are summarised per sampler: trace mean and variation, median condition', async () => {
  const records = [
    { sampler: 'instance', trace: 8, condition: 100, batchSize: 160, meanAbsCorrelation: 0.4 },
    { sampler: 'b3rs', trace: 10, condition: null, meanAbsCorrelation: 0.2 },
    { sampler: 'instance', trace: 12, condition: 300, batchSize: 128, meanAbsCorrelation: 0.6 },
    { sampler: 'instance', trace: 10, condition: null, batchSize: 128, meanAbsCorrelation: 0.5 },
  ];
  const [instance, b3rs] = summarizeBatchCovariance(records);
  // Traces 8, 12, 10: mean 10, population standard deviation sqrt(8/3), successive differences 4 and -2:
  // noise sqrt((16 + 4) / 2 / 2) = sqrt(5); conditions 100, 300, singular: median 300; batch sizes 160, 128, 128:
  // median 128 (the b3rs record has none: null).
  const rounded = (value: number): number => Number(value.toFixed(6));
  assert.deepEqual(
    {
      ...instance!,
      traceVariation: rounded(instance!.traceVariation),
      traceBatchNoise: rounded(instance!.traceBatchNoise),
      meanAbsCorrelation: rounded(instance!.meanAbsCorrelation),
    },
    {
      sampler: 'instance',
      batches: 3,
      traceMean: 10,
      traceVariation: rounded(Math.sqrt(8 / 3) / 10),
      traceBatchNoise: rounded(Math.sqrt(5) / 10),
      medianCondition: 300,
      medianBatchSize: 128,
      meanAbsCorrelation: 0.5,
    },
  );
  assert.deepEqual(b3rs, {
    sampler: 'b3rs',
    batches: 1,
    traceMean: 10,
    traceVariation: 0,
    traceBatchNoise: 0,
    medianCondition: null,
    medianBatchSize: null,
    meanAbsCorrelation: 0.2,
  });
  // A slow drift (10 -> 20 over 101 records) without batch noise: the variation sees it (about 0.19), the batch
  // noise only its step of 0.1 (0.1 / sqrt 2 / 15).
  const [drifting] = summarizeBatchCovariance(
    Array.from({ length: 101 }, (_, i) => ({ sampler: 'instance', trace: 10 + i / 10, condition: 10, meanAbsCorrelation: 0 })),
  );
  assert.ok(drifting!.traceVariation > 0.19);
  assert.equal(rounded(drifting!.traceBatchNoise), rounded(0.1 / Math.SQRT2 / 15));
  const out = await trainRun('recorded', 'identity');
  assert.equal((await analyzeRun(out)).batchCovariance, null);
  writeBatchCovariance(out);
  const analysis = await analyzeRun(out);
  assert.deepEqual(
    analysis.batchCovariance?.map((summary) => [summary.sampler, summary.batches]),
    [
      ['instance', 9],
      ['b3rs', 3],
    ],
  );
});

test('analysis JSON keeps both infinities (a singular covariance: condition Infinity, entropy -Infinity)', () => {
  const value = { covarianceCondition: Infinity, gaussianEntropy: -Infinity, effectiveRank: 4.5, missing: null };
  const text = analysisJson(value);
  assert.match(text, /"covarianceCondition":"Infinity","gaussianEntropy":"-Infinity"/);
  assert.deepEqual(parseAnalysisJson(text), value);
});
