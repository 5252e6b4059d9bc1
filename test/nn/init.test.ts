// Initialisation: PyTorch's fan and gain formulas, and the statistics of what each function draws.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { torch } from '../../src/index.js';
import * as nn from '../../src/nn/index.js';

const { init } = nn;

function stats(tensor: torch.Tensor): { mean: number; std: number; min: number; max: number } {
  return torch.scope(() => ({
    mean: tensor.mean().item(),
    std: tensor.std().item(),
    min: tensor.min().item(),
    max: tensor.max().item(),
  }));
}

test('fans count the receptive field; fewer than 2 dims is an error', () => {
  assert.deepEqual(init.calculateFanInAndFanOut(torch.empty([64, 16, 3, 5])), { fanIn: 16 * 15, fanOut: 64 * 15 });
  assert.deepEqual(init.calculateFanInAndFanOut(torch.empty([10, 7])), { fanIn: 7, fanOut: 10 });
  assert.throws(() => init.calculateFanInAndFanOut(torch.empty([5])), /at least 2 dims, got shape \[5\]/);
  assert.throws(() => init.kaimingNormal_(torch.empty([4, 4]), { mode: 'fan_avg' as 'fan_in' }), /unknown fan mode 'fan_avg'/);
});

test("gains are PyTorch's", () => {
  assert.equal(init.calculateGain('relu'), Math.SQRT2);
  assert.equal(init.calculateGain('tanh'), 5 / 3);
  assert.equal(init.calculateGain('conv2d'), 1);
  assert.equal(init.calculateGain('selu'), 0.75);
  assert.equal(init.calculateGain('leaky_relu'), Math.sqrt(2 / (1 + 0.01 ** 2)));
  assert.ok(Math.abs(init.calculateGain('leaky_relu', Math.sqrt(5)) - Math.sqrt(1 / 3)) < 1e-15);
  assert.throws(() => init.calculateGain('swish' as 'relu'), /unknown nonlinearity 'swish'/);
});

test('kaiming and xavier draws have the intended spread and bounds', () => {
  torch.manualSeed(0);
  const shape = [256, 128, 3, 3]; // fan_in 1152, fan_out 2304, 294,912 draws
  const fanIn = 128 * 9;
  const fanOut = 256 * 9;
  const close = (actual: number, expected: number, what: string): void =>
    assert.ok(Math.abs(actual - expected) < 0.01 * expected, `${what}: ${actual} vs ${expected}`);

  const kaimingNormal = stats(init.kaimingNormal_(torch.empty(shape), { mode: 'fan_out', nonlinearity: 'relu' }));
  close(kaimingNormal.std, Math.sqrt(2 / fanOut), 'kaiming normal std');
  assert.ok(Math.abs(kaimingNormal.mean) < 1e-3);

  const bound = 1 / Math.sqrt(fanIn); // a = sqrt(5), the default of conv and linear layers
  const kaimingUniform = stats(init.kaimingUniform_(torch.empty(shape), { a: Math.sqrt(5) }));
  assert.ok(kaimingUniform.min >= -bound && kaimingUniform.max <= bound);
  assert.ok(kaimingUniform.max > 0.99 * bound);
  close(kaimingUniform.std, bound / Math.sqrt(3), 'kaiming uniform std');

  close(stats(init.xavierNormal_(torch.empty(shape), 2)).std, 2 * Math.sqrt(2 / (fanIn + fanOut)), 'xavier normal std');
  const xavierBound = Math.sqrt(6 / (fanIn + fanOut));
  const xavierUniform = stats(init.xavierUniform_(torch.empty(shape)));
  assert.ok(xavierUniform.min >= -xavierBound && xavierUniform.max <= xavierBound && xavierUniform.max > 0.99 * xavierBound);
});

test('constant, zeros and ones fill in place without recording for autograd', () => {
  const weight = torch.randn([3, 4], { requiresGrad: true });
  assert.equal(init.constant_(weight, 0.25), weight);
  assert.deepEqual(weight.toArray(), new Array(12).fill(0.25));
  assert.ok(weight.isLeaf && weight.requiresGrad);
  init.zeros_(weight);
  assert.equal(weight.abs().sum().item(), 0);
  init.ones_(weight);
  assert.equal(weight.sum().item(), 12);
  const uniform = stats(init.uniform_(torch.empty([10000]), -2, -1));
  assert.ok(uniform.min >= -2 && uniform.max <= -1);
  assert.ok(Math.abs(stats(init.normal_(torch.empty([10000]), 5, 0.1)).mean - 5) < 0.01);
});

test("layers start from PyTorch's defaults: conv/linear weights and biases within 1/sqrt(fan_in), batch norm 1 and 0", () => {
  torch.manualSeed(1);
  const conv = new nn.Conv2d(8, 16, 3);
  const bound = 1 / Math.sqrt(8 * 9);
  for (const tensor of [conv.weight, conv.bias!]) {
    const { min, max } = stats(tensor);
    assert.ok(min >= -bound && max <= bound && max > 0.5 * bound);
  }
  const linear = new nn.Linear(50, 10);
  assert.ok(stats(linear.bias!).max <= 1 / Math.sqrt(50));
  const norm = new nn.BatchNorm2d(5);
  assert.deepEqual(norm.weight!.toArray(), [1, 1, 1, 1, 1]);
  assert.deepEqual(norm.bias!.toArray(), [0, 0, 0, 0, 0]);
  assert.deepEqual(norm.runningVar!.toArray(), [1, 1, 1, 1, 1]);
  const cosine = new nn.CosineLinear(6, 4);
  assert.deepEqual(cosine.weight.shape, [6, 4], 'LDAM-DRW layout: one column per class');
  for (const norm2 of cosine.weight.norm(2, { dim: 0 }).toArray()) assert.ok(Math.abs(norm2 - 1) < 1e-5);
});
