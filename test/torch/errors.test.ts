// Bad input from JavaScript becomes a JS Error with libtorch's message; the process stays usable.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { torch } from '../../src/index.js';

function stillWorks(): void {
  assert.deepEqual(torch.ones([2]).add(1).toArray(), [2, 2]);
}

test('a shape mismatch throws with both shapes named', () => {
  assert.throws(() => torch.ones([2, 3]).matmul(torch.ones([2, 3])), /shapes cannot be multiplied \(2x3 and 2x3\)/);
  assert.throws(() => torch.ones([2]).add(torch.ones([3])), /size of tensor a \(2\) must match the size of tensor b \(3\)/);
  assert.throws(() => torch.ones([6]).view([4, 2]), /shape '\[4, 2\]' is invalid for input of size 6/);
  stillWorks();
});

test('a wrong dtype throws', () => {
  assert.throws(() => torch.ones([3]).indexSelect(0, torch.ones([1])), /index_select\(\): Expected dtype int(32 or int)?64 for index/);
  assert.throws(
    () => torch.nn.functional.crossEntropy(torch.ones([2, 3]), torch.ones([2], { dtype: 'int32' })),
    /expected scalar type Long but found Int/,
  );
  assert.throws(() => torch.ones([2], { dtype: 'int64' }).requiresGrad_(), /floating point/);
  assert.throws(() => torch.ones([2], { dtype: 'complex64' as torch.Dtype }), /unknown dtype 'complex64'/);
  stillWorks();
});

test('an out-of-range index throws', () => {
  assert.throws(() => torch.ones([3]).select(0, 5), /select\(\): index 5 out of range for tensor of size \[3\] at dimension 0/);
  assert.throws(() => torch.ones([3]).indexSelect(0, torch.tensor([7], { dtype: 'int64' })), /out of range/);
  assert.throws(() => torch.ones([3]).index([torch.tensor([3], { dtype: 'int64' })]), /index 3 is out of bounds/);
  assert.throws(() => torch.ones([2, 2]).transpose(0, 2), /Dimension out of range/);
  assert.throws(() => torch.ones([3]).size(4), /size\(4\): tensor has 1 dims/);
  stillWorks();
});

test('an allocation too large to satisfy throws instead of killing the process', () => {
  assert.throws(() => torch.empty([1e7, 1e7]), /can't allocate memory|not enough memory|out of memory/);
  assert.throws(() => torch.zeros([1e6, 1e6, 1e6]), /.+/);
  stillWorks();
});

test('malformed arguments are type errors, not crashes', () => {
  const call = torch.callOp as (key: string, ...args: unknown[]) => unknown;
  assert.throws(() => call('add.Tensor', 'a string', 1), /argument 'self' \(Tensor\): expected a tensor/);
  assert.throws(() => call('add.Tensor', {}, 1), /expected a tensor/);
  assert.throws(() => torch.zeros([2.5]), /expected an integer, got 2\.5/);
  assert.throws(() => torch.zeros([-1]), /negative/);
  assert.throws(() => torch.zeros([NaN]), /expected an integer/);
  assert.throws(() => call('no_such_operator'), /libtorch has no operator aten::no_such_operator/);
  assert.throws(() => call('relu', torch.ones([1]), 1, 2), /takes 1 arguments, got 3/);
  assert.throws(
    () => torch.conv2d(torch.ones([1, 1, 4, 4]), torch.ones([1, 1, 3, 3]), null, { stride: 'x' as unknown as number }),
    /argument 'stride' \(int\[\]\): expected an array/,
  );
  assert.throws(() => torch.fromTypedArray(new Float32Array(3), { shape: [2, 2] }), /needs 16 bytes, got 12/);
  stillWorks();
});

test('a disposed tensor cannot be used, and disposing twice is harmless', () => {
  const x = torch.ones([2]);
  x.dispose();
  x.dispose();
  assert.equal(x.isDisposed, true);
  assert.throws(() => x.add(1), /disposed/);
  assert.equal(String(x), 'tensor(<disposed>)');
  stillWorks();
});

test('autograd misuse throws', () => {
  const leaf = torch.ones([2], { dtype: 'float64', requiresGrad: true });
  assert.throws(() => leaf.add_(1), /leaf Variable that requires grad/);
  assert.throws(() => torch.grad(torch.ones([2], { dtype: 'float64', requiresGrad: true }).sum(), leaf), /not have been used in the graph/);
  assert.throws(() => {
    leaf.grad = torch.ones([3], { dtype: 'float64' });
  }, /does not match/);
  stillWorks();
});
