// Decoupled training's pieces on small inputs: the held-out split, what each method freezes and trains,
// tau-normalisation against its formula, and the choice of tau on a case worked out by hand.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { InMemoryDataset, splitHoldout } from '../../src/data/index.js';
import {
  LearnableWeightScaling,
  TauNormalizedClassifier,
  decoupleClassifier,
  meanPerClassAccuracy,
  selectTau,
  trainClassifierOnly,
} from '../../src/longtail/decoupled.js';
import { type ImageClassifier, createModel } from '../../src/models/index.js';
import { Linear } from '../../src/nn/index.js';
import { SGD } from '../../src/optim/index.js';
import { torch } from '../../src/index.js';

type Tensor = torch.Tensor;

function labelledDataset(labels: number[], numClasses: number): InMemoryDataset {
  return new InMemoryDataset(
    new Uint8Array(labels.length),
    [1, 1, 1],
    Int32Array.from(labels),
    Array.from({ length: numClasses }, (_, c) => `c${c}`),
  );
}

/** A small ResNet-32 whose batch-norm statistics have moved off their initial values, as after stage 1. */
function stage1Model(): ImageClassifier {
  torch.manualSeed(0);
  const model = createModel('resnet32', { numClasses: 3, inChannels: 1 });
  torch.noGrad(() =>
    model
      .train()
      .call(torch.randn([8, 1, 8, 8]))
      .dispose(),
  );
  return model;
}

function snapshot(model: ImageClassifier): Map<string, Tensor> {
  return new Map(Object.entries(model.stateDict()).map(([name, tensor]) => [name, tensor.clone()]));
}

/** A few SGD steps on what the model leaves trainable, in the second stage's mode. */
function trainSecondStage(model: ImageClassifier): void {
  const optimizer = new SGD(
    model.parameters().filter((tensor) => tensor.requiresGrad),
    { lr: 0.5, momentum: 0.9 },
  );
  const labels = torch.tensor([0, 1, 2, 0, 1, 2, 2, 2], { dtype: 'int64' });
  for (let step = 0; step < 3; step++) {
    trainClassifierOnly(model);
    torch.scope(() => {
      torch.nn.functional.crossEntropy(model.call(torch.randn([8, 1, 8, 8])), labels).backward();
      optimizer.step();
      optimizer.zeroGrad();
    });
  }
}

function changedKeys(before: Map<string, Tensor>, after: Map<string, Tensor>): string[] {
  return [...after]
    .filter(([name, tensor]) => !tensor.equal(before.get(name)!))
    .map(([name]) => name)
    .sort();
}

test('splitHoldout: the last items of every class, at least one kept; disjoint, complete, deterministic', () => {
  const labels = [0, 1, 0, 2, 0, 1, 0, 3, 1, 0];
  const dataset = labelledDataset(labels, 4);
  const { train, holdout } = splitHoldout(dataset, 2);
  // class 0 at 0 2 4 6 9, class 1 at 1 5 8, class 2 at 3 (its only item), class 3 at 7 (its only item)
  assert.deepEqual(Array.from(holdout.indices), [5, 6, 8, 9]);
  assert.deepEqual(Array.from(train.indices), [0, 1, 2, 3, 4, 7]);
  assert.deepEqual(Array.from(holdout.labels), [1, 0, 1, 0]);
  const again = splitHoldout(dataset, 2);
  assert.deepEqual(
    [Array.from(again.train.indices), Array.from(again.holdout.indices)],
    [Array.from(train.indices), Array.from(holdout.indices)],
  );
  // More than a class has: all but one of it.
  assert.deepEqual(Array.from(splitHoldout(dataset, 10).train.indices), [0, 1, 3, 7]);
  assert.throws(() => splitHoldout(dataset, 0), /integer >= 1/);
});

test('cRT: a new classifier is the only thing that trains; the representation and its batch-norm statistics stay bit-identical', () => {
  const model = stage1Model();
  const stage1 = snapshot(model);
  decoupleClassifier(model, 'crt');
  assert.deepEqual(
    [...model.namedParameters()].filter(([, tensor]) => tensor.requiresGrad).map(([name]) => name),
    ['linear.weight', 'linear.bias'],
  );
  assert.deepEqual(changedKeys(stage1, snapshot(model)), ['linear.bias', 'linear.weight'], 're-initialised');
  const reinitialised = snapshot(model);
  trainSecondStage(model);
  assert.deepEqual(changedKeys(reinitialised, snapshot(model)), ['linear.bias', 'linear.weight'], 'trained');
});

test('LWS: only the per-class scales train, and the logits are the stage-1 logits times them', () => {
  const model = stage1Model();
  const stage1Classifier = model.classifier;
  const input = torch.randn([4, 1, 8, 8]);
  const stage1Logits = torch.noGrad(() => model.eval().call(input));
  decoupleClassifier(model, 'lws');
  const lws = model.classifier;
  assert.ok(lws instanceof LearnableWeightScaling && lws.base === stage1Classifier);
  assert.deepEqual(
    [...model.namedParameters()].filter(([, tensor]) => tensor.requiresGrad).map(([name]) => name),
    ['linear.scales'],
  );
  const before = snapshot(model);
  trainSecondStage(model);
  assert.deepEqual(changedKeys(before, snapshot(model)), ['linear.scales']);
  const logits = torch.noGrad(() => model.eval().call(input));
  assert.ok(logits.equal(stage1Logits.mul(lws.scales.detach())));
});

test('tau-norm: x . w_c / ||w_c||^tau; tau = 0 with the bias kept is the stage-1 classifier exactly; nothing trains', () => {
  torch.manualSeed(1);
  const linear = new Linear(5, 4);
  const input = torch.randn([6, 5]);
  const kept = new TauNormalizedClassifier(linear, true);
  const dropped = new TauNormalizedClassifier(linear, false);
  assert.ok(kept.call(input).equal(linear.call(input)), 'tau 0, bias kept: bit-identical logits');
  assert.ok(dropped.call(input).equal(torch.nn.functional.linear(input, linear.weight)), 'tau 0, bias dropped: x . w_c');
  for (const tau of [0.5, 1, 2]) {
    dropped.tau = tau;
    const norms = linear.weight.norm(2, { dim: 1, keepdim: true });
    const expected = input.matmul(linear.weight.div(norms.pow(tau)).transpose(0, 1));
    assert.ok(dropped.call(input).allclose(expected, 1e-6, 1e-6), `tau ${tau}`);
  }
  assert.equal(dropped.tau, 2);
  const model = stage1Model();
  decoupleClassifier(model, 'tau-norm');
  assert.ok(model.classifier instanceof TauNormalizedClassifier && !model.classifier.keepBias);
  assert.equal(model.numParameters({ trainableOnly: true }), 0);
  const cosine = createModel('resnet32', { numClasses: 3, inChannels: 1, classifier: 'cosine' });
  assert.throws(() => decoupleClassifier(cosine, 'tau-norm'), /tau-norm needs a linear classifier/);
});

test('selectTau: the tau of the grid with the best held-out mean per-class accuracy, the smallest on a tie', () => {
  // A head class with a long vector and a tail class with a short one: tau = 0 calls the tail item head,
  // tau = 2 overcorrects and calls a head item tail, tau = 1 and 1.5 get all three right.
  const classifier = new TauNormalizedClassifier(new Linear(2, 2, { bias: false }), false);
  torch.noGrad(() =>
    classifier.base.weight.copy_(
      torch.tensor([
        [2, 0],
        [0, 0.5],
      ]),
    ),
  );
  const features = torch.tensor([
    [1, 0.2],
    [1, 0.3],
    [1, 1.2],
  ]);
  const labels = Int32Array.from([0, 0, 1]);
  const choice = selectTau(classifier, features, labels, [0, 2, 1.5, 1]);
  assert.deepEqual(choice.grid, [
    { tau: 0, accuracy: 0.5 },
    { tau: 2, accuracy: 0.75 },
    { tau: 1.5, accuracy: 1 },
    { tau: 1, accuracy: 1 },
  ]);
  assert.deepEqual([choice.tau, choice.accuracy, classifier.tau], [1, 1, 1]);
  assert.throws(() => selectTau(classifier, features, labels, []), /grid of tau is empty/);
});

test('meanPerClassAccuracy averages over the classes present', () => {
  assert.equal(meanPerClassAccuracy([0, 0, 0, 1, 2], [0, 0, 1, 1, 2]), (1 + 0.5 + 1) / 3);
  assert.throws(() => meanPerClassAccuracy([], []), /no items/);
});
