// The operator call's direct paths (native/src/convert.cc toArgument, ops.cc callOp): each must give what
// the schema-driven conversion gives, and anything off the path must still reach it and its errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { torch } from '../../src/index.js';
import { native } from '../../src/torch/native.js';

const call = torch.callOp as (key: string, ...args: unknown[]) => unknown;

test('numbers where a tensor is expected are wrapped numbers: they do not promote the tensor', () => {
  const f32 = torch.tensor([1, 2]);
  const i64 = torch.tensor([1, 2], { dtype: 'int64' });
  const u8 = torch.tensor([250, 3], { dtype: 'uint8' });
  assert.equal(f32.add(2).dtype, 'float32');
  assert.equal(f32.mul(0.5).dtype, 'float32');
  assert.equal(i64.add(2).dtype, 'int64', 'an integral number acts as a Python int');
  assert.deepEqual(i64.mul(3).toArray(), [3, 6]);
  assert.equal(i64.mul(2.5).dtype, 'float32', 'a fraction makes an integer tensor floating, in the default dtype');
  assert.deepEqual(i64.mul(2.5).toArray(), [2.5, 5]);
  assert.deepEqual(u8.add(10).toArray(), [4, 13], 'uint8 stays uint8 and wraps, as in PyTorch');
  assert.equal(torch.tensor([1], { dtype: 'float64' }).add(1e-20).item(), 1 + 1e-20);
  assert.equal(f32.add(2 ** 60).dtype, 'float32', 'an integer beyond 2^53 is a float scalar');
  // A number as the tensor argument itself: a 0-d wrapped number meets the other operand's dtype.
  assert.deepEqual((call('mul.Tensor', 2, f32) as torch.Tensor).toArray(), [2, 4]);
  assert.equal((call('mul.Tensor', 2, f32) as torch.Tensor).dtype, 'float32');
  assert.equal((call('add.Tensor', f32, true) as torch.Tensor).dtype, 'float32', 'a boolean goes through the general conversion');
  const big = call('add.Tensor', i64, 5n) as torch.Tensor;
  assert.equal(big.dtype, 'int64', 'so does a BigInt');
  assert.deepEqual(big.toArray(), [6, 7]);
});

test('scalars, ints, floats and booleans take the values the schema says', () => {
  const x = torch.tensor([1, 2, 3, 4]);
  assert.deepEqual(x.add(x, 2).toArray(), [3, 6, 9, 12], 'alpha as a Scalar');
  assert.deepEqual(x.add(x, 0.5).toArray(), [1.5, 3, 4.5, 6]);
  assert.deepEqual(x.select(0, -1).toArray(), [4], 'a negative int');
  assert.deepEqual(x.select(0, true as unknown as number).toArray(), [2], 'a boolean where an int is expected is 1, as before');
  assert.deepEqual(x.view([2, 2]).sum({ dim: 1, keepdim: true }).shape, [2, 1], 'a bool');
  assert.equal(torch.nn.functional.dropout(x, 0, true).sum().item(), 10, 'a float (p = 0)');
  assert.deepEqual(torch.tensor([2], { dtype: 'float64' }).pow(0.5).toArray(), [Math.SQRT2]);
});

test('int[2] from one number equals the pair; Tensor? from null, undefined or a tensor', () => {
  const image = torch.arange(0, 36).reshape([1, 1, 6, 6]).float();
  const kernel = torch.ones([1, 1, 3, 3]);
  const one = torch.conv2d(image, kernel, null, { stride: 2, padding: 1 });
  const pair = torch.conv2d(image, kernel, null, { stride: [2, 2], padding: [1, 1] });
  assert.deepEqual(one.shape, [1, 1, 3, 3]);
  assert.deepEqual(one.toArray(), pair.toArray());
  const bias = torch.tensor([10]);
  const biased = call('conv2d', image, kernel, bias, 2, 1) as torch.Tensor;
  assert.deepEqual(
    biased.toArray(),
    one.toArray().map((v) => v + 10),
  );
  const unbiased = call('conv2d', image, kernel, undefined, 2, 1, undefined, undefined) as torch.Tensor;
  assert.deepEqual(unbiased.toArray(), one.toArray(), 'undefined takes the default (no bias, dilation 1, groups 1)');
  const asymmetric = torch.conv2d(image, kernel, null, { stride: [1, 2] });
  assert.deepEqual(asymmetric.shape, [1, 1, 4, 2]);
});

test('lists of tensors, with null for a whole dim, and tuples of results', () => {
  const a = torch.tensor([1, 2]);
  const b = torch.tensor([3, 4]);
  assert.deepEqual(torch.cat([a, b]).toArray(), [1, 2, 3, 4]);
  assert.deepEqual(torch.stack([a, b], 1).shape, [2, 2]);
  const m = torch.arange(0, 6).reshape([2, 3]);
  assert.deepEqual(m.index([null, torch.tensor([2, 0], { dtype: 'int64' })]).toArray(), [2, 0, 5, 3]);
  const { values, indices } = torch.tensor([3, 1, 2]).sort();
  assert.deepEqual(values.toArray(), [1, 2, 3]);
  assert.deepEqual(indices.toArray(), [1, 2, 0]);
  assert.throws(() => torch.cat([a, 'b' as unknown as torch.Tensor]), /aten::cat: argument 'tensors' \(Tensor\[\]\): expected a tensor/);
});

test('an in-place call returns nothing and makes no handle', () => {
  const x = torch.tensor([1, 2]);
  const before = torch.memory().liveTensors;
  assert.equal(native.callOpDiscarding(native.findOp('aten::add_', 'Tensor'), x.handle, 3, 1), undefined);
  assert.equal(torch.memory().liveTensors, before);
  assert.deepEqual(x.toArray(), [4, 5]);
  assert.equal(x.mul_(2), x);
  assert.deepEqual(x.toArray(), [8, 10]);
});

test('a wrong value names the operator and the argument; the call path stays usable', () => {
  const x = torch.ones([2]);
  assert.throws(() => call('add.Tensor', x, 'two'), /aten::add: argument 'other' \(Tensor\): expected a tensor/);
  assert.throws(() => call('add.Tensor', x, x, 'one'), /aten::add: argument 'alpha' \(Scalar\): expected a number/);
  assert.throws(() => call('select.int', x, 0.5, 0), /aten::select: argument 'dim' \(int\): expected an integer, got 0\.5/);
  assert.throws(() => call('select.int', x, Number.NaN, 0), /aten::select: argument 'dim' \(int\): expected an integer/);
  assert.throws(() => call('sum.dim_IntList', x, null, 1), /aten::sum: argument 'keepdim' \(bool\): expected a boolean/);
  assert.throws(() => call('dropout', x, 'half', true), /aten::dropout: argument 'p' \(float\): expected a number/);
  assert.throws(() => call('conv2d', x, x, x, 1.5), /aten::conv2d: argument 'stride' \(int\[\]\): expected an integer, got 1\.5/);
  assert.throws(() => call('conv2d', torch.ones([1, 1, 2, 2]), 1), Error, 'a wrapped number as the weight: libtorch refuses it');
  const disposed = torch.ones([2]);
  const handle = disposed.handle;
  disposed.dispose();
  assert.throws(
    () => native.callOp(native.findOp('aten::add', 'Tensor'), x.handle, handle),
    /argument 'other' \(Tensor\): the tensor was disposed/,
  );
  assert.throws(() => native.shape(handle), /shape: the tensor was disposed/);
  assert.throws(() => native.callOp(1e9, x.handle), /unknown op id/);
  assert.deepEqual(x.add(1).toArray(), [2, 2]);
});

test('a handle is recognised only while its tensor lives, across slot reuse', () => {
  const first = torch.ones([1]);
  const stale = first.handle;
  first.dispose();
  const second = torch.zeros([1]); // most likely reuses the freed slot, with a new generation
  assert.throws(() => native.shape(stale), /disposed/);
  assert.deepEqual(native.shape(second.handle), [1]);
});
