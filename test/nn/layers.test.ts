// Layer behaviour: shapes, modes, options, and the errors for inputs a layer cannot take.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { torch } from '../../src/index.js';
import * as nn from '../../src/nn/index.js';

test('Conv2d and Linear reject inputs of the wrong shape with the shape they expect', () => {
  const conv = new nn.Conv2d(3, 8, 3, { stride: 2 });
  assert.throws(
    () => conv.call(torch.zeros([2, 1, 8, 8])),
    /Conv2d\(3, 8, kernel 3x3\): expected input of shape \(N, 3, H, W\), got \[2, 1, 8, 8\]/,
  );
  assert.throws(() => conv.call(torch.zeros([3, 8, 8])), /got \[3, 8, 8\]/);
  assert.deepEqual(conv.call(torch.zeros([2, 3, 9, 9])).shape, [2, 8, 4, 4]);
  assert.throws(() => new nn.Conv2d(6, 8, 3, { groups: 4 }), /divisible by groups \(4\)/);
  assert.equal(new nn.Conv2d(3, 8, 3, { bias: false }).bias, null);

  const linear = new nn.Linear(5, 2);
  assert.throws(
    () => linear.call(torch.zeros([4, 6])),
    /Linear\(5, 2\): expected input with 5 features in its last dim, got shape \[4, 6\]/,
  );
  assert.deepEqual(linear.call(torch.zeros([3, 4, 5])).shape, [3, 4, 2]);
});

test('CosineLinear gives scaled cosines between inputs and class columns', () => {
  const layer = new nn.CosineLinear(3, 2, { scale: 10 });
  torch.noGrad(() =>
    layer.weight.copy_(
      torch.tensor([
        [2, 0],
        [0, 0],
        [0, -3],
      ]),
    ),
  );
  const logits = layer.call(
    torch.tensor([
      [1, 0, 0],
      [1, 0, 1],
      [0, 5, 0],
    ]),
  );
  const expected = [
    [10, 0],
    [10 / Math.SQRT2, -10 / Math.SQRT2],
    [0, 0],
  ].flat();
  logits.toArray().forEach((value, i) => assert.ok(Math.abs(value - expected[i]!) < 1e-5, `${value} vs ${expected[i]}`));
  assert.throws(() => layer.call(torch.zeros([2, 4])), /CosineLinear\(3, 2\): expected input with 3 features/);
  assert.throws(() => layer.call(torch.zeros([3])), /expected input of shape \(N, 3\)/);
});

test('BatchNorm normalises with batch statistics in training and running statistics in evaluation', () => {
  const norm = new nn.BatchNorm1d(2, { momentum: 0.5 });
  const x = torch.tensor([
    [1, 10],
    [3, 30],
  ]);
  assert.deepEqual(
    norm
      .call(x)
      .toArray()
      .map((v) => Math.round(v * 1e4) / 1e4),
    [-1, -1, 1, 1],
  );
  // Running statistics moved half way to the batch's (unbiased variance 2 and 200).
  assert.deepEqual(norm.runningMean!.toArray(), [1, 10]);
  assert.deepEqual(norm.runningVar!.toArray(), [1.5, 100.5]);
  norm.eval();
  const evaluated = norm.call(torch.tensor([[1, 10]])).toArray();
  assert.ok(Math.abs(evaluated[0]!) < 1e-6 && Math.abs(evaluated[1]!) < 1e-6, 'x - running mean = 0');

  assert.throws(
    () => new nn.BatchNorm2d(4).call(torch.zeros([2, 3, 5, 5])),
    /BatchNorm2d\(4\): expected input of shape \(N, 4, H, W\), got \[2, 3, 5, 5\]/,
  );
  assert.throws(() => new nn.BatchNorm1d(4).call(torch.zeros([2, 4, 1, 1])), /\(N, 4\) or \(N, 4, L\)/);
  assert.throws(() => new nn.BatchNorm1d(4).call(torch.zeros([1, 4])), /more than 1 value per channel/);
  assert.deepEqual(new nn.BatchNorm1d(4).eval().call(torch.zeros([1, 4])).shape, [1, 4], 'evaluation takes a batch of 1');
});

test('BatchNorm options: no affine parameters; no running statistics (batch statistics in evaluation too)', () => {
  const plain = new nn.BatchNorm2d(3, { affine: false });
  assert.deepEqual([...plain.namedParameters().keys()], []);
  assert.equal(plain.weight, null);
  const untracked = new nn.BatchNorm2d(3, { trackRunningStats: false });
  assert.deepEqual([...untracked.namedBuffers().keys()], []);
  untracked.eval();
  torch.manualSeed(0);
  const y = untracked.call(torch.randn([4, 3, 2, 2]).mul(5).add(2));
  assert.ok(Math.abs(y.mean().item()) < 1e-5 && Math.abs(y.var({ correction: 0 }).item() - 1) < 1e-3);
});

test('Dropout drops in training only; Sequential, pooling and Flatten compose', () => {
  torch.manualSeed(0);
  const dropout = new nn.Dropout(0.5);
  const kept = dropout.call(torch.ones([1000])).toArray();
  assert.ok(kept.every((v) => v === 0 || v === 2));
  assert.ok(kept.filter((v) => v === 0).length > 400 && kept.filter((v) => v === 0).length < 600);
  dropout.eval();
  assert.deepEqual(dropout.call(torch.ones([4])).toArray(), [1, 1, 1, 1]);
  assert.throws(() => new nn.Dropout(1.5), /p must be in \[0, 1\]/);

  const net = new nn.Sequential(new nn.MaxPool2d(2), new nn.ReLU(), new nn.AdaptiveAvgPool2d(1), new nn.Flatten(), new nn.Identity());
  assert.equal(net.length, 5);
  assert.ok(net.at(-1) instanceof nn.Identity);
  assert.throws(() => net.at(5), /Sequential.at\(5\): it has 5 modules/);
  const x = torch.tensor([
    [
      [
        [1, -2, 3, 4],
        [5, 6, -7, 8],
        [-1, -1, -1, -1],
        [-1, -1, -1, -2],
      ],
    ],
  ]);
  // max pool: [[6, 8], [-1, -1]], relu: [[6, 8], [0, 0]], mean 3.5.
  assert.deepEqual(net.call(x).tolist(), [[3.5]]);
});
