// Each long-tail loss against its formula, computed here independently with plain JavaScript arithmetic
// on small logits (4 samples, 3 classes with counts 100, 10, 1), float64 gradient checks, and the mixed-target
// loss of every loss against torch (test/python/mixed_loss.py).
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import { torch } from '../../src/index.js';
import { type LossConfig, classBalancedWeights, createLoss, ldamMargins, logPrior, mixedLoss } from '../../src/longtail/losses.js';
import { assertClose } from '../helpers/compare.js';
import { pythonTorchMissing, runPython, temporaryDir } from '../helpers/python.js';

const LOGITS = [
  [2.0, 0.5, -1.0],
  [0.1, 1.2, 0.3],
  [-0.5, 0.2, 1.5],
  [1.0, -1.0, 0.0],
];
const LABELS = [0, 1, 2, 1];
const COUNTS = [100, 10, 1];
const TOTAL = 111;

// ---- the reference arithmetic ----

function logSoftmax(row: readonly number[]): number[] {
  const largest = Math.max(...row);
  const logSumExp = largest + Math.log(row.reduce((sum, value) => sum + Math.exp(value - largest), 0));
  return row.map((value) => value - logSumExp);
}

/** -log p_y of each sample. */
function perSampleCe(rows: readonly number[][], labels = LABELS): number[] {
  return rows.map((row, i) => -logSoftmax(row)[labels[i]!]!);
}

/** PyTorch's weighted mean: sum w_y CE / sum w_y. */
function weightedCe(rows: readonly number[][], weights = COUNTS.map(() => 1)): number {
  const losses = perSampleCe(rows);
  const sampleWeights = LABELS.map((label) => weights[label]!);
  return losses.reduce((sum, loss, i) => sum + sampleWeights[i]! * loss, 0) / sampleWeights.reduce((a, b) => a + b, 0);
}

/** mean of w_y (1 - p_y)^gamma CE. */
function focal(rows: readonly number[][], gamma: number, weights = COUNTS.map(() => 1)): number {
  const losses = perSampleCe(rows);
  return losses.reduce((sum, loss, i) => sum + weights[LABELS[i]!]! * (1 - Math.exp(-loss)) ** gamma * loss, 0) / losses.length;
}

const shiftRows = (rows: readonly number[][], offsets: readonly number[]): number[][] =>
  rows.map((row) => row.map((value, c) => value + offsets[c]!));

// Computed by hand (Python floats) from the formulas, not from the code under test.
const CB_WEIGHTS_099 = [0.04223746876318659, 0.28004361300256353, 2.67771891823425];
const CB_WEIGHTS_09999 = [0.027158721622260334, 0.2703688739931705, 2.7024724043845696];
const LDAM_MARGINS = [0.15811388300841897, 0.28117066259517454, 0.5];

// ---- running the code under test ----

function logitsTensor(rows: readonly number[][] = LOGITS, dtype: 'float64' | 'float32' = 'float64'): torch.Tensor {
  return torch.tensor(rows as number[][], { dtype });
}

const labelsTensor = (): torch.Tensor => torch.tensor(LABELS, { dtype: 'int64' });

function lossValue(config: LossConfig, epoch = 0, counts = COUNTS): number {
  const loss = createLoss(config, counts);
  return torch.scope(() => loss.compute(logitsTensor(), labelsTensor(), { epoch }).item());
}

function assertNear(actual: number, expected: number, label: string, tolerance = 1e-12): void {
  assert.ok(Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected)), `${label}: ${actual} != ${expected}`);
}

function assertAllNear(actual: readonly number[], expected: readonly number[], label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  actual.forEach((value, i) => assertNear(value, expected[i]!, `${label}[${i}]`));
}

// ---- the losses ----

test('ce is the mean cross-entropy, with label smoothing (1 - e) CE + e mean_c(-log p_c)', () => {
  assertNear(lossValue({ name: 'ce' }), weightedCe(LOGITS), 'ce');
  const smoothing = 0.1;
  const smoothed = LOGITS.map((row, i) => {
    const logP = logSoftmax(row);
    return (1 - smoothing) * -logP[LABELS[i]!]! + (smoothing / 3) * logP.reduce((sum, value) => sum - value, 0);
  });
  assertNear(lossValue({ name: 'ce', labelSmoothing: smoothing }), smoothed.reduce((a, b) => a + b) / smoothed.length, 'smoothed ce');
});

test('focal with gamma 0 is cross-entropy; gamma 2 is mean (1 - p)^2 CE', () => {
  assertNear(lossValue({ name: 'focal', focalGamma: 0 }), lossValue({ name: 'ce' }), 'gamma 0 vs ce');
  assertNear(lossValue({ name: 'focal', focalGamma: 2 }), focal(LOGITS, 2), 'gamma 2');
  assert.ok(Math.abs(focal(LOGITS, 2) - weightedCe(LOGITS)) > 0.1, 'gamma 2 must differ from CE for the test to mean anything');
});

test('focal with gamma < 1 keeps a finite gradient where p rounds to 1', () => {
  const logits = torch.tensor(
    [
      [100, 0, 0],
      [0, 1, 0],
    ],
    { dtype: 'float64', requiresGrad: true },
  );
  const loss = createLoss({ name: 'focal', focalGamma: 0.5 }, COUNTS);
  torch.scope(() => loss.compute(logits, torch.tensor([0, 1], { dtype: 'int64' }), { epoch: 0 }).backward());
  assert.ok(logits.grad!.isfinite().all().item(), `gradient ${String(logits.grad!.toArray())}`);
});

test('class-balanced weights (1 - beta) / (1 - beta^n), summing to C', () => {
  assertAllNear(classBalancedWeights(COUNTS, 0.99), CB_WEIGHTS_099, 'beta 0.99');
  assertAllNear(classBalancedWeights(COUNTS, 0.9999), CB_WEIGHTS_09999, 'beta 0.9999');
  assertAllNear(classBalancedWeights(COUNTS, 0), [1, 1, 1], 'beta 0');
});

test('cb-ce is weighted cross-entropy; cb-focal weights each sample of the focal loss', () => {
  assertNear(lossValue({ name: 'cb-ce', cbBeta: 0.99 }), weightedCe(LOGITS, CB_WEIGHTS_099), 'cb-ce');
  assertNear(lossValue({ name: 'cb-focal', cbBeta: 0.99, focalGamma: 2 }), focal(LOGITS, 2, CB_WEIGHTS_099), 'cb-focal');
  assertNear(lossValue({ name: 'cb-ce' }), weightedCe(LOGITS, CB_WEIGHTS_09999), 'cb-ce with the default beta');
});

test('LDAM: margins n^(-1/4) scaled to 0.5, subtracted from the true logit, times s', () => {
  assertAllNear(ldamMargins(COUNTS, 0.5), LDAM_MARGINS, 'margins');
  const withMargins = (scale: number): number[][] =>
    LOGITS.map((row, i) => row.map((value, c) => scale * (c === LABELS[i] ? value - LDAM_MARGINS[c]! : value)));
  assertNear(lossValue({ name: 'ldam' }), weightedCe(withMargins(30)), 'ldam, s 30');
  assertNear(lossValue({ name: 'ldam', ldamScale: 2 }), weightedCe(withMargins(2)), 'ldam, s 2');
  const halfMargins = LOGITS.map((row, i) => row.map((value, c) => 30 * (c === LABELS[i] ? value - LDAM_MARGINS[c]! / 2 : value)));
  assertNear(lossValue({ name: 'ldam', ldamMaxMargin: 0.25 }), weightedCe(halfMargins), 'ldam, max margin 0.25');
});

test('logit-adjusted loss is CE on logits + tau log prior; balanced softmax on logits + log n', () => {
  const prior = COUNTS.map((count) => Math.log(count / TOTAL));
  assertAllNear(logPrior(COUNTS), prior, 'log prior');
  assertNear(lossValue({ name: 'la' }), weightedCe(shiftRows(LOGITS, prior)), 'la, tau 1');
  assertNear(
    lossValue({ name: 'la', laTau: 1.5 }),
    weightedCe(
      shiftRows(
        LOGITS,
        prior.map((value) => 1.5 * value),
      ),
    ),
    'la, tau 1.5',
  );
  const bsce = lossValue({ name: 'bsce' });
  assertNear(bsce, weightedCe(shiftRows(LOGITS, COUNTS.map(Math.log))), 'bsce');
  // Softmax ignores a constant shift: log n and log prior differ by log N.
  assertNear(bsce, lossValue({ name: 'la', laTau: 1 }), 'bsce equals la with tau 1', 1e-9);
});

test('post-hoc adjustment: ce trains on raw logits and evaluates logits - tau log prior', () => {
  const tau = 0.7;
  const loss = createLoss({ name: 'ce', posthocTau: tau }, COUNTS);
  const adjusted = torch.scope(() => loss.adjustForEval!(logitsTensor()).tolist()) as number[][];
  const expected = shiftRows(
    LOGITS,
    COUNTS.map((count) => -tau * Math.log(count / TOTAL)),
  );
  adjusted.forEach((row, i) => assertAllNear(row, expected[i]!, `adjusted row ${i}`));
  assertNear(lossValue({ name: 'ce', posthocTau: tau }), weightedCe(LOGITS), 'training loss unchanged');
  assert.equal(createLoss({ name: 'ce' }, COUNTS).adjustForEval, undefined);
  assert.equal(createLoss({ name: 'ce', posthocTau: null }, COUNTS).adjustForEval, undefined);
  assert.throws(() => createLoss({ name: 'la', posthocTau: 1 }, COUNTS), /posthocTau applies to 'ce' only/);
});

test('DRW switches the weights on exactly at startEpoch', () => {
  const drw = { startEpoch: 3, beta: 0.9999 };
  const withMargins = LOGITS.map((row, i) => row.map((value, c) => 30 * (c === LABELS[i] ? value - LDAM_MARGINS[c]! : value)));
  const ldam = createLoss({ name: 'ldam', drw }, COUNTS);
  const at = (epoch: number): number => torch.scope(() => ldam.compute(logitsTensor(), labelsTensor(), { epoch }).item());
  assertNear(at(0), weightedCe(withMargins), 'ldam, epoch 0');
  assertNear(at(2), weightedCe(withMargins), 'ldam, epoch 2');
  assertNear(at(3), weightedCe(withMargins, CB_WEIGHTS_09999), 'ldam, epoch 3');
  assertNear(at(50), weightedCe(withMargins, CB_WEIGHTS_09999), 'ldam, epoch 50');
  assert.notEqual(at(2), at(3));

  assertNear(lossValue({ name: 'ce', drw }, 2), weightedCe(LOGITS), 'ce before');
  assertNear(lossValue({ name: 'ce', drw }, 3), weightedCe(LOGITS, CB_WEIGHTS_09999), 'ce from startEpoch');
  assertNear(lossValue({ name: 'focal', focalGamma: 1, drw }, 2), focal(LOGITS, 1), 'focal before');
  assertNear(lossValue({ name: 'focal', focalGamma: 1, drw }, 3), focal(LOGITS, 1, CB_WEIGHTS_09999), 'focal from startEpoch');
  assertNear(lossValue({ name: 'ce', drw: { startEpoch: 0 } }, 0), weightedCe(LOGITS, CB_WEIGHTS_09999), 'default beta 0.9999');
});

test('float32 logits get float32 class constants and the same value', () => {
  const loss = createLoss({ name: 'ldam', drw: { startEpoch: 0 } }, COUNTS);
  const { value32, dtype } = torch.scope(() => {
    const result = loss.compute(logitsTensor(LOGITS, 'float32'), labelsTensor(), { epoch: 1 });
    return { value32: result.item(), dtype: result.dtype };
  });
  assert.equal(dtype, 'float32');
  const value64 = torch.scope(() => loss.compute(logitsTensor(), labelsTensor(), { epoch: 1 }).item());
  assertNear(value32, value64, 'float32 vs float64', 1e-5);
});

test('compute leaves only its result behind', () => {
  const loss = createLoss({ name: 'cb-focal', focalGamma: 2 }, COUNTS);
  const logits = logitsTensor();
  const labels = labelsTensor();
  loss.compute(logits, labels, { epoch: 0 }).dispose(); // casts the class weights once
  const before = torch.memory().liveTensors;
  const result = loss.compute(logits, labels, { epoch: 0 });
  assert.equal(torch.memory().liveTensors, before + 1);
  result.dispose();
});

// ---- gradients ----

for (const config of [
  { name: 'ldam', drw: { startEpoch: 0 } },
  { name: 'cb-focal', focalGamma: 2, labelSmoothing: 0.1 },
  { name: 'la', laTau: 1.5 },
] satisfies LossConfig[]) {
  test(`gradcheck (float64): ${JSON.stringify(config)}`, () => {
    torch.manualSeed(7);
    const loss = createLoss(config, COUNTS);
    const labels = torch.tensor([0, 1, 2, 1, 0], { dtype: 'int64' });
    // Cosine-sized logits, as LDAM expects, so that s = 30 keeps the softmax away from saturation.
    const logits = torch.noGrad(() => torch.rand([5, 3], { dtype: 'float64' }).mul(2).sub(1)).requiresGrad_(true);
    const result = torch.gradcheck((x) => loss.compute(x!, labels, { epoch: 1 }), [logits]);
    assert.ok(result.ok, `worst ${JSON.stringify(result.worst)} exceeds tolerance by ${result.worstExcess}`);
  });
}

// ---- mixed targets ----

const MIXED_CASES: { id: string; epoch: number; config: LossConfig }[] = [
  { id: 'ce', epoch: 0, config: { name: 'ce' } },
  { id: 'ce-smoothed', epoch: 0, config: { name: 'ce', labelSmoothing: 0.1 } },
  { id: 'focal', epoch: 0, config: { name: 'focal', focalGamma: 2 } },
  { id: 'cb-ce', epoch: 0, config: { name: 'cb-ce', cbBeta: 0.99 } },
  { id: 'cb-focal', epoch: 0, config: { name: 'cb-focal', cbBeta: 0.99, focalGamma: 1, labelSmoothing: 0.05 } },
  { id: 'ldam-drw', epoch: 3, config: { name: 'ldam', drw: { startEpoch: 2, beta: 0.999 } } },
  { id: 'la', epoch: 0, config: { name: 'la', laTau: 1.5, labelSmoothing: 0.1 } },
  { id: 'bsce-drw-off', epoch: 1, config: { name: 'bsce', drw: { startEpoch: 2 } } },
  { id: 'bsce-drw-on', epoch: 2, config: { name: 'bsce', drw: { startEpoch: 2 } } },
];

test('mixed targets: lam L(z, a) + (1 - lam) L(z, b) for every loss, against torch (values and gradients)', (t) => {
  const missing = pythonTorchMissing();
  if (missing) return t.skip(missing);
  torch.manualSeed(3);
  // Cosine-sized logits, as LDAM expects; partners b differ from a in most rows.
  const logits = torch.rand([8, 3], { dtype: 'float64' }).mul(2).sub(1);
  const a = torch.tensor([0, 1, 2, 1, 0, 0, 2, 1], { dtype: 'int64' });
  const b = torch.tensor([1, 1, 0, 2, 0, 2, 0, 0], { dtype: 'int64' });
  const lam = 0.37;
  const dir = temporaryDir('mixed-loss');
  torch.safetensors.saveFile({ logits, a, b }, path.join(dir, 'in.safetensors'));
  runPython('mixed_loss.py', [
    path.join(dir, 'in.safetensors'),
    path.join(dir, 'out.safetensors'),
    JSON.stringify({ counts: COUNTS, lam, cases: MIXED_CASES }),
  ]);
  const reference = torch.safetensors.loadFile(path.join(dir, 'out.safetensors')).tensors;
  for (const { id, epoch, config } of MIXED_CASES) {
    const input = logits.clone().requiresGrad_(true);
    const value = mixedLoss(createLoss(config, COUNTS), input, { a, b, lam }, { epoch });
    value.backward();
    // float64 on both sides; the sums run in other orders.
    assertClose(value, reference[id], 1e-12, `${id}: loss`);
    assertClose(input.grad, reference[`${id}.grad`], 1e-12, `${id}: gradient`);
    const soft = reference[`${id}.soft`];
    if (soft !== undefined) assertClose(value, soft, 1e-12, `${id}: PyTorch's cross-entropy of the mixed target`);
  }
  assert.ok(reference['ce-smoothed.soft'] && reference['la.soft'] === undefined, 'the soft-target comparison ran for ce only');
  assert.throws(() => mixedLoss(createLoss({ name: 'ce' }, COUNTS), logits, { a, b, lam: 1.5 }, { epoch: 0 }), /lam in \[0, 1\], got 1.5/);
});

// ---- bad input ----

test('a class with no images is named where a loss needs its count', () => {
  const counts = [100, 0, 1];
  for (const config of [
    { name: 'la' },
    { name: 'bsce' },
    { name: 'ldam' },
    { name: 'cb-ce' },
    { name: 'ce', drw: { startEpoch: 5 } },
    { name: 'ce', posthocTau: 1 },
  ] satisfies LossConfig[]) {
    assert.throws(() => createLoss(config, counts), /class 1 has 0 images/, JSON.stringify(config));
  }
  // Plain cross-entropy does not use the counts.
  assertNear(lossValue({ name: 'ce' }, 0, counts), weightedCe(LOGITS), 'ce with an empty class');
});

test('bad configs and inputs stop with a clear reason', () => {
  assert.throws(() => createLoss({ name: 'hinge' as LossConfig['name'] }, COUNTS), /unknown loss 'hinge'/);
  assert.throws(() => createLoss({ name: 'cb-ce', drw: { startEpoch: 1 } }, COUNTS), /drw would weight twice/);
  assert.throws(() => createLoss({ name: 'ce', drw: { startEpoch: 1, beta: 1 } }, COUNTS), /drw.beta must be in \[0, 1\)/);
  assert.throws(() => createLoss({ name: 'ce', drw: { startEpoch: -1 } }, COUNTS), /drw.startEpoch/);
  assert.throws(() => createLoss({ name: 'focal', focalGamma: -1 }, COUNTS), /focalGamma/);
  assert.throws(() => createLoss({ name: 'ldam', ldamScale: 0 }, COUNTS), /ldamScale/);
  assert.throws(() => createLoss({ name: 'ce' }, [100, 2.5]), /class 1's count/);
  assert.throws(() => createLoss({ name: 'ce' }, []), /classCounts is empty/);
  const loss = createLoss({ name: 'ce' }, COUNTS);
  assert.throws(
    () => torch.scope(() => loss.compute(torch.zeros([4, 5], { dtype: 'float64' }), labelsTensor(), { epoch: 0 })),
    /built for 3 classes: expected logits of shape \[N, 3\], got \[4, 5\]/,
  );
  assert.throws(() => torch.scope(() => loss.compute(logitsTensor(), torch.tensor([0, 1, 2, 1], { dtype: 'float64' }), { epoch: 0 })));
});
