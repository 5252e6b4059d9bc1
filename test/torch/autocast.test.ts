// torch.autocast on the CPU: products and convolutions run in bfloat16 inside, float32 outside, the
// state nests and is restored after an exception, and gradients reach float32 leaves in float32.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { torch } from '../../src/index.js';

test('inside autocast matmul and conv2d run in bfloat16, outside in float32', () => {
  torch.manualSeed(0);
  const a = torch.randn([32, 32]);
  const x = torch.randn([2, 3, 8, 8]);
  const w = torch.randn([4, 3, 3, 3]);
  const [product, conv] = torch.autocast('cpu', {}, () => [a.matmul(a), torch.conv2d(x, w, null, { padding: 1 })]);
  assert.equal(product!.dtype, 'bfloat16');
  assert.equal(conv!.dtype, 'bfloat16');
  assert.equal(a.matmul(a).dtype, 'float32');
  // bfloat16 keeps 8 bits of mantissa: the result is close to float32's, not equal.
  const exact = torch.conv2d(x, w, null, { padding: 1 });
  const error = conv!.float().sub(exact).norm().item() / exact.norm().item();
  assert.ok(error > 0 && error < 2e-2, `relative error ${error}`);
});

test('autocast regions nest, enabled: false switches it off inside, and an exception restores the state', () => {
  const a = torch.randn([8, 8]);
  torch.autocast('cpu', {}, () => {
    assert.equal(torch.autocast('cpu', { enabled: false }, () => a.matmul(a)).dtype, 'float32');
    assert.equal(a.matmul(a).dtype, 'bfloat16');
  });
  assert.throws(
    () =>
      torch.autocast('cpu', {}, () => {
        throw new Error('inside');
      }),
    /inside/,
  );
  assert.equal(a.matmul(a).dtype, 'float32');
});

test('gradients through an autocast region reach float32 leaves as float32', () => {
  const x = torch.randn([4, 3, 6, 6]).requiresGrad_();
  const w = torch.randn([5, 3, 3, 3]).requiresGrad_();
  torch
    .autocast('cpu', {}, () => torch.conv2d(x, w, null, { padding: 1 }))
    .float()
    .square()
    .sum()
    .backward();
  assert.equal(x.grad!.dtype, 'float32');
  assert.equal(w.grad!.dtype, 'float32');
  assert.ok(Number.isFinite(w.grad!.norm().item()) && w.grad!.norm().item() > 0);
});
