// The direct (unboxed) calls of the hottest operators (native/src/direct.cc) against the boxed call that every
// other operator takes: the same kernels, so the same results bit for bit, the same gradients, the same
// in-place effects, errors and live-tensor counts. native.setDirectCalls(false) forces the boxed call.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { torch } from '../../src/index.js';
import { native } from '../../src/torch/native.js';

type Tensor = torch.Tensor;
const call = torch.callOp as (key: string, ...args: unknown[]) => unknown;

/** The operators that have a direct call; on a libtorch whose signature for one of them has a type direct.cc
 * does not read, that one silently stays boxed: this list says so. */
const DIRECT = [
  'conv2d',
  'batch_norm',
  'relu',
  'relu_',
  'add.Tensor',
  'add_.Tensor',
  'add_.Scalar',
  'mul.Tensor',
  'mul_.Tensor',
  'linear',
  'sum.dim_IntList',
];

function opId(key: string): number {
  const dot = key.indexOf('.');
  return native.findOp(`aten::${dot < 0 ? key : key.slice(0, dot)}`, dot < 0 ? '' : key.slice(dot + 1));
}

/** body's value with the boxed call forced, then with direct calls; each from fresh inputs made by body. */
function bothPaths<T>(body: () => T): { boxed: T; direct: T } {
  native.setDirectCalls(false);
  try {
    torch.manualSeed(7);
    const boxed = body();
    native.setDirectCalls(true);
    torch.manualSeed(7);
    return { boxed, direct: body() };
  } finally {
    native.setDirectCalls(true);
  }
}

function assertIdentical(direct: Tensor | null, boxed: Tensor | null, what: string): void {
  if (direct === null || boxed === null) {
    assert.equal(direct, boxed, what);
    return;
  }
  assert.equal(direct.dtype, boxed.dtype, `${what}: dtype`);
  assert.deepEqual(direct.shape, boxed.shape, `${what}: shape`);
  assert.ok(direct.equal(boxed), `${what}: values bit for bit`);
}

/** An operator's output and its inputs' gradients (leaves made by `inputs`), by one path. */
function forwardBackward(inputs: () => Tensor[], body: (xs: Tensor[]) => Tensor): Tensor[] {
  const xs = inputs().map((x) => x.requiresGrad_());
  const out = body(xs);
  out.backward(torch.randLike(out));
  return [out.detach(), ...xs.map((x) => x.grad!)];
}

test('every listed operator has a direct call', () => {
  for (const key of DIRECT) assert.ok(native.hasDirectCall(opId(key)), key);
  assert.equal(native.hasDirectCall(opId('sub.Tensor')), false, 'the rest are boxed');
});

test('out-of-place operators: the same outputs and gradients by both paths', () => {
  const f = torch.nn.functional;
  const cases: [string, () => Tensor[], (xs: Tensor[]) => Tensor][] = [
    [
      'conv2d, bias, stride and padding as numbers',
      () => [torch.randn([2, 3, 7, 6]), torch.randn([4, 3, 3, 3]), torch.randn([4])],
      ([x, w, b]) => f.conv2d(x!, w!, b!, { stride: 2, padding: 1 }),
    ],
    [
      'conv2d, no bias, pairs, dilation, groups',
      () => [torch.randn([1, 4, 9, 8]), torch.randn([6, 2, 3, 2])],
      ([x, w]) => f.conv2d(x!, w!, null, { stride: [1, 2], padding: [2, 0], dilation: [2, 1], groups: 2 }),
    ],
    [
      'batch_norm, training',
      () => [torch.randn([4, 3, 5, 5]), torch.randn([3]), torch.randn([3])],
      ([x, w, b]) => f.batchNorm(x!, torch.zeros([3]), torch.ones([3]), { weight: w!, bias: b!, training: true }),
    ],
    [
      'batch_norm, evaluation, no affine',
      () => [torch.randn([4, 3, 5])],
      ([x]) => f.batchNorm(x!, torch.randn([3]), torch.rand([3]).add(0.5), { training: false, eps: 1e-3 }),
    ],
    ['relu', () => [torch.randn([3, 4])], ([x]) => f.relu(x!)],
    ['add, alpha', () => [torch.randn([3, 4]), torch.randn([4])], ([x, y]) => x!.add(y!, 0.5)],
    ['add, a wrapped number', () => [torch.randn([3, 4])], ([x]) => x!.add(2)],
    ['mul', () => [torch.randn([3, 1]), torch.randn([3, 4])], ([x, y]) => x!.mul(y!)],
    ['mul, a wrapped number', () => [torch.randn([3, 4])], ([x]) => x!.mul(2.5)],
    ['linear', () => [torch.randn([5, 3]), torch.randn([2, 3]), torch.randn([2])], ([x, w, b]) => f.linear(x!, w!, b!)],
    ['linear, no bias', () => [torch.randn([5, 3]), torch.randn([2, 3])], ([x, w]) => f.linear(x!, w!)],
    ['sum over all', () => [torch.randn([3, 4])], ([x]) => x!.sum()],
    ['sum over dims, keepdim', () => [torch.randn([3, 4, 2])], ([x]) => x!.sum({ dim: [0, 2], keepdim: true })],
  ];
  for (const [name, inputs, body] of cases) {
    const { boxed, direct } = bothPaths(() => forwardBackward(inputs, body));
    direct.forEach((tensor, i) => assertIdentical(tensor, boxed[i]!, `${name}: ${i === 0 ? 'output' : `gradient ${i}`}`));
  }
});

test('batch norm updates its running statistics the same by both paths', () => {
  const { boxed, direct } = bothPaths(() => {
    const mean = torch.randn([3]);
    const variance = torch.rand([3]).add(0.5);
    torch.nn.functional.batchNorm(torch.randn([8, 3, 4, 4]), mean, variance, { training: true, momentum: 0.3 });
    return [mean, variance];
  });
  assertIdentical(direct[0]!, boxed[0]!, 'running mean');
  assertIdentical(direct[1]!, boxed[1]!, 'running variance');
});

test('in-place operators: the same effect; callOp returns the same tensor, callOpDiscarding nothing', () => {
  const { boxed, direct } = bothPaths(() => {
    const x = torch.randn([3, 4]);
    const [y, z] = [torch.randn([4]), torch.randn([3, 1])];
    const counter = torch.zeros([], { dtype: 'int64' });
    const before = torch.memory().liveTensors;
    x.add_(y, 2).mul_(z).mul_(3);
    native.callOpDiscarding(opId('relu_'), x.handle);
    assert.equal(native.callOpDiscarding(opId('add_.Scalar'), counter.handle, 1n), undefined);
    assert.equal(torch.memory().liveTensors, before, 'no handle made');
    const returned = call('add_.Scalar', counter, 2) as Tensor;
    assert.ok(native.sameStorage(returned.handle, counter.handle), 'the result is self');
    returned.dispose();
    return [x, counter];
  });
  assertIdentical(direct[0]!, boxed[0]!, 'add_, mul_, relu_');
  assert.equal(direct[1]!.item(), 3);
  assertIdentical(direct[1]!, boxed[1]!, 'add_.Scalar');
});

test('arguments off the direct forms, and kernel errors, give what the boxed call gives', () => {
  const x = torch.ones([2]);
  const image = torch.ones([1, 1, 4, 4]);
  const errorOf = (body: () => unknown): string => {
    try {
      body();
    } catch (error) {
      return (error as Error).message;
    }
    return 'no error';
  };
  const disposed = torch.ones([2]);
  const stale = disposed.handle;
  disposed.dispose();
  const messages = bothPaths(() => [
    errorOf(() => call('add.Tensor', x, 'two', 1)),
    errorOf(() => call('add.Tensor', x, x, 'one')),
    errorOf(() => call('conv2d', image, torch.ones([1, 1, 2, 2]), null, 1.5, 0, 1, 1)),
    errorOf(() => call('conv2d', image, torch.ones([1, 2, 2, 2]), null, 1, 0, 1, 1)),
    errorOf(() => native.callOp(opId('relu'), stale)),
    errorOf(() => call('sum.dim_IntList', x, null, 1, undefined)),
  ]);
  assert.deepEqual(messages.direct, messages.boxed);
  assert.match(messages.direct[3]!, /channels/, "a kernel error is libtorch's");
  // Off the direct forms but valid: a boolean and a BigInt where a tensor is expected, a dtype by name,
  // fewer arguments than the schema (defaults).
  const values = bothPaths(() => [
    call('add.Tensor', torch.tensor([1, 2]), true, 1) as Tensor,
    call('mul.Tensor', torch.tensor([1, 2], { dtype: 'int64' }), 5n) as Tensor,
    torch.tensor([1, 2]).sum({ dtype: 'float64' }),
    call('conv2d', image, torch.ones([1, 1, 2, 2])) as Tensor,
  ]);
  values.direct.forEach((tensor, i) => assertIdentical(tensor, values.boxed[i]!, `case ${i}`));
});

test('live tensors: a direct call makes one handle and a scope frees it', () => {
  const x = torch.randn([4]);
  const counts = bothPaths(() => {
    const before = torch.memory().liveTensors;
    const during = torch.scope(() => {
      x.add(1).mul(x).relu().sum();
      return torch.memory().liveTensors - before;
    });
    return [during, torch.memory().liveTensors - before];
  });
  assert.deepEqual(counts.direct, counts.boxed);
  assert.deepEqual(counts.direct, [4, 0]);
});
