// The tensor API: creation, dtypes, views, indexing, math, reductions, in-place ops, autograd, seeds.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { torch } from '../../src/index.js';

const t = (data: Parameters<typeof torch.tensor>[0], dtype: torch.Dtype = 'float32') => torch.tensor(data, { dtype });

test('README example: matmul, sum, backward gives x.grad = 2 * x.sum(0) broadcast', () => {
  torch.manualSeed(0);
  const x = torch.randn([8, 4], { dtype: 'float64', requiresGrad: true });
  const loss = x.matmul(x.transpose(0, 1)).sum();
  loss.backward();
  const expected = x.detach().sum({ dim: 0, keepdim: true }).mul(2).expand([8, 4]);
  assert.ok(x.grad!.allclose(expected));
  assert.match(loss.gradFn ?? '', /^SumBackward/);
});

test('creation from nested arrays, typed arrays and factories', () => {
  assert.deepEqual(
    t([
      [1, 2],
      [3, 4],
    ]).tolist(),
    [
      [1, 2],
      [3, 4],
    ],
  );
  assert.deepEqual(torch.tensor([true, false]).dtype, 'bool');
  assert.deepEqual(torch.tensor(new Int32Array([5, 6, 7]), { shape: [3] }).toArray(), [5, 6, 7]);
  assert.deepEqual(torch.fromTypedArray(new Float64Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] }).shape, [2, 3]);
  assert.deepEqual(torch.zeros([2, 3]).toArray(), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(torch.ones([2], { dtype: 'int32' }).toTypedArray(), new Int32Array([1, 1]));
  assert.deepEqual(torch.full([2], 2.5, { dtype: 'float64' }).toArray(), [2.5, 2.5]);
  assert.deepEqual(torch.empty([3, 1]).shape, [3, 1]);
  assert.deepEqual(torch.arange(4).toArray(), [0, 1, 2, 3]);
  assert.equal(torch.arange(4).dtype, 'int64');
  assert.deepEqual(torch.arange(1, 2, 0.25, { dtype: 'float32' }).toArray(), [1, 1.25, 1.5, 1.75]);
  assert.deepEqual(torch.linspace(0, 1, 5).toArray(), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(torch.eye(2).tolist(), [
    [1, 0],
    [0, 1],
  ]);
  const r = torch.rand([1000]);
  assert.ok(r.min().item() >= 0 && r.max().item() < 1);
  const ints = torch.randint(3, 7, [1000]);
  assert.equal(ints.dtype, 'int64');
  assert.ok(ints.min().item() === 3 && ints.max().item() === 6);
  assert.deepEqual(torch.randperm(6).sort().values.toArray(), [0, 1, 2, 3, 4, 5]);
  const like = torch.randn([2, 3], { dtype: 'float64' });
  for (const made of [
    torch.zerosLike(like),
    torch.onesLike(like),
    torch.fullLike(like, 3),
    torch.emptyLike(like),
    torch.randLike(like),
    torch.randnLike(like),
  ]) {
    assert.deepEqual([made.shape, made.dtype], [[2, 3], 'float64']);
  }
  assert.throws(() => torch.tensor([[1, 2], [3]]), /ragged/);
});

test('dtypes: every dtype round-trips through to(), half types through bits', () => {
  const base = t([1.5, -2, 3]);
  for (const dtype of torch.DTYPES) {
    const converted = base.to(dtype);
    assert.equal(converted.dtype, dtype);
    assert.equal(converted.size(), 3);
  }
  assert.deepEqual(base.to('bfloat16').toArray(), [1.5, -2, 3]);
  assert.deepEqual(base.to('float16').toTypedArray(), new Uint16Array([0x3e00, 0xc000, 0x4200]));
  assert.deepEqual(base.to('int64').toTypedArray(), new BigInt64Array([1n, -2n, 3n]));
  assert.deepEqual(base.to('bool').toArray(), [1, 1, 1]);
  assert.equal(t([1, 2]).add(2).dtype, 'float32', 'a number does not promote a float32 tensor');
  assert.equal(torch.arange(3).add(0.5).dtype, 'float32', 'a fractional number makes an int tensor float (default dtype)');
});

test('devices: cpu works, cuda is reported unavailable cleanly on a CPU libtorch', () => {
  assert.equal(t([1]).device, 'cpu');
  if (!torch.cuda.isAvailable()) {
    assert.equal(torch.cuda.deviceCount(), 0);
    assert.throws(() => torch.zeros([2], { device: 'cuda' }), /unavailable/);
    assert.throws(() => t([1]).cuda(), /unavailable/);
  }
});

test('memory formats: channels-last and contiguous', () => {
  const x = torch.randn([2, 3, 4, 5]);
  const cl = x.contiguous('channelsLast');
  assert.ok(cl.isContiguous('channelsLast'));
  assert.ok(!cl.isContiguous());
  assert.deepEqual(cl.stride(), [60, 1, 15, 3]);
  assert.ok(cl.equal(x));
  assert.ok(x.to({ memoryFormat: 'channelsLast' }).isContiguous('channelsLast'));
});

test('views and shape ops', () => {
  const x = torch.arange(6).reshape([2, 3]);
  assert.deepEqual(x.view([3, 2]).tolist(), [
    [0, 1],
    [2, 3],
    [4, 5],
  ]);
  assert.ok(x.view([6]).sharesStorageWith(x));
  assert.deepEqual(x.permute([1, 0]).tolist(), [
    [0, 3],
    [1, 4],
    [2, 5],
  ]);
  assert.deepEqual(x.t().shape, [3, 2]);
  assert.deepEqual(x.flatten().shape, [6]);
  assert.deepEqual(x.unsqueeze(0).shape, [1, 2, 3]);
  assert.deepEqual(x.unsqueeze(0).squeeze().shape, [2, 3]);
  assert.deepEqual(x.unsqueeze(1).squeeze(1).shape, [2, 3]);
  assert.deepEqual(t([1, 2]).unsqueeze(1).expand([2, 3]).tolist(), [
    [1, 1, 1],
    [2, 2, 2],
  ]);
  assert.deepEqual(x.narrow(1, 1, 2).tolist(), [
    [1, 2],
    [4, 5],
  ]);
  assert.deepEqual(x.slice(1, 0, undefined, 2).tolist(), [
    [0, 2],
    [3, 5],
  ]);
  assert.deepEqual(x.slice(1, -1).tolist(), [[2], [5]]);
  assert.deepEqual(x.select(0, 1).toArray(), [3, 4, 5]);
  assert.deepEqual(x.flip(1).tolist(), [
    [2, 1, 0],
    [5, 4, 3],
  ]);
  assert.deepEqual(x.roll(1, 1).tolist(), [
    [2, 0, 1],
    [5, 3, 4],
  ]);
  assert.deepEqual(torch.cat([x, x], 0).shape, [4, 3]);
  assert.deepEqual(torch.stack([x, x], 2).shape, [2, 3, 2]);
  assert.deepEqual(
    x.chunk(3, 1).map((c) => c.shape),
    [
      [2, 1],
      [2, 1],
      [2, 1],
    ],
  );
  assert.deepEqual(
    torch
      .arange(5)
      .split(2)
      .map((c) => c.toArray()),
    [[0, 1], [2, 3], [4]],
  );
  assert.deepEqual(
    torch
      .arange(5)
      .split([1, 4])
      .map((c) => c.size()),
    [1, 4],
  );
  assert.deepEqual(torch.nn.functional.pad(t([[1, 2]]), [1, 1], 'constant', 9).tolist(), [[9, 1, 2, 9]]);
  assert.deepEqual(x.repeat([1, 2]).shape, [2, 6]);
  assert.deepEqual(x.unflatten(1, [3, 1]).shape, [2, 3, 1]);
});

test('indexing: integer and boolean tensors, gather, scatter, maskedFill, where, indexPut_', () => {
  const x = torch.arange(12).reshape([3, 4]);
  const rows = torch.tensor([2, 0], { dtype: 'int64' });
  assert.deepEqual(x.index([rows]).tolist(), [
    [8, 9, 10, 11],
    [0, 1, 2, 3],
  ]);
  assert.deepEqual(x.index([rows, torch.tensor([1, 3], { dtype: 'int64' })]).toArray(), [9, 3]);
  assert.deepEqual(x.index([x.gt(8)]).toArray(), [9, 10, 11]);
  assert.deepEqual(x.indexSelect(1, torch.tensor([3, 0], { dtype: 'int64' })).tolist(), [
    [3, 0],
    [7, 4],
    [11, 8],
  ]);
  const index = torch.tensor([[1], [0], [3]], { dtype: 'int64' });
  assert.deepEqual(x.gather(1, index).toArray(), [1, 4, 11]);
  assert.deepEqual(torch.zeros([3, 4]).scatter(1, index, 1).sum({ dim: 1 }).toArray(), [1, 1, 1]);
  assert.deepEqual(
    torch
      .zeros([2])
      .scatterAdd(0, torch.tensor([0, 0, 1], { dtype: 'int64' }), t([1, 2, 3]))
      .toArray(),
    [3, 3],
  );
  assert.deepEqual(
    t([1, -1, 2])
      .maskedFill(t([1, -1, 2]).lt(0), 0)
      .toArray(),
    [1, 0, 2],
  );
  assert.deepEqual(torch.where(t([1, -1]).gt(0), 10, t([5, 6])).toArray(), [10, 6]);
  const y = torch.zeros([4]);
  y.indexPut_([torch.tensor([1, 1, 3], { dtype: 'int64' })], t([1, 2, 5]), true);
  assert.deepEqual(y.toArray(), [0, 3, 0, 5]);
});

test('arithmetic, comparisons and logic with broadcasting', () => {
  const a = t([[1], [2]]);
  const b = t([10, 20, 30]);
  assert.deepEqual(a.add(b).tolist(), [
    [11, 21, 31],
    [12, 22, 32],
  ]);
  assert.deepEqual(b.sub(a, 2).tolist(), [
    [8, 18, 28],
    [6, 16, 26],
  ]);
  assert.deepEqual(b.div(4).toArray(), [2.5, 5, 7.5]);
  assert.deepEqual(b.div(4, 'floor').toArray(), [2, 5, 7]);
  assert.deepEqual(t([2, 3]).pow(2).toArray(), [4, 9]);
  assert.deepEqual(t([4, 9]).sqrt().toArray(), [2, 3]);
  assert.deepEqual(t([4]).rsqrt().toArray(), [0.5]);
  assert.ok(Math.abs(t([1]).exp().item() - Math.E) < 1e-6);
  assert.ok(Math.abs(t([Math.E]).log().item() - 1) < 1e-6);
  assert.deepEqual(t([-2, 3]).abs().toArray(), [2, 3]);
  assert.deepEqual(t([-2, 0, 3]).sign().toArray(), [-1, 0, 1]);
  assert.deepEqual(t([-2, 0.5, 3]).clamp(-1, 1).toArray(), [-1, 0.5, 1]);
  assert.deepEqual(t([-2, 0.5, 3]).clamp(null, 1).toArray(), [-2, 0.5, 1]);
  assert.deepEqual(
    t([1, 5])
      .maximum(t([3, 2]))
      .toArray(),
    [3, 5],
  );
  assert.deepEqual(torch.minimum(t([1, 5]), 2).toArray(), [1, 2]);
  assert.deepEqual(t([1, 2, 3]).eq(2).toArray(), [0, 1, 0]);
  assert.deepEqual(
    t([1, 2, 3])
      .ge(t([3, 2, 1]))
      .toArray(),
    [0, 1, 1],
  );
  const p = t([1, 0, 1]).bool();
  const q = t([1, 1, 0]).bool();
  assert.deepEqual(p.logicalAnd(q).toArray(), [1, 0, 0]);
  assert.deepEqual(p.logicalOr(q).toArray(), [1, 1, 1]);
  assert.deepEqual(p.logicalXor(q).toArray(), [0, 1, 1]);
  assert.deepEqual(p.logicalNot().toArray(), [0, 1, 0]);
  assert.ok(t([1, NaN]).isnan().any().item());
});

test('reductions', () => {
  const x = t(
    [
      [1, 2, 3],
      [4, 5, 6],
    ],
    'float64',
  );
  assert.equal(x.sum().item(), 21);
  assert.deepEqual(x.sum({ dim: 0 }).toArray(), [5, 7, 9]);
  assert.deepEqual(x.sum({ dim: 1, keepdim: true }).shape, [2, 1]);
  assert.deepEqual(x.mean({ dim: 1 }).toArray(), [2, 5]);
  assert.deepEqual(x.var({ dim: 1 }).toArray(), [1, 1]);
  assert.deepEqual(x.var({ dim: 1, correction: 0 }).toArray(), [2 / 3, 2 / 3]);
  assert.ok(x.std({ dim: 0 }).allclose(torch.full([3], Math.SQRT2 * 1.5, { dtype: 'float64' })));
  assert.equal(x.prod().item(), 720);
  assert.deepEqual(x.prod({ dim: 0 }).toArray(), [4, 10, 18]);
  assert.equal(x.max().item(), 6);
  assert.deepEqual(x.max(1).indices.toArray(), [2, 2]);
  assert.deepEqual(x.min(0).values.toArray(), [1, 2, 3]);
  assert.equal(x.argmax().item(), 5);
  assert.deepEqual(x.argmin(1).toArray(), [0, 0]);
  const top = t([3, 1, 4, 1, 5]).topk(2);
  assert.deepEqual(
    [top.values.toArray(), top.indices.toArray()],
    [
      [5, 4],
      [4, 2],
    ],
  );
  assert.deepEqual(t([3, 1, 2]).sort({ descending: true }).values.toArray(), [3, 2, 1]);
  assert.deepEqual(t([3, 1, 2]).argsort().toArray(), [1, 2, 0]);
  assert.ok(Math.abs(x.logsumexp(1).select(0, 0).item() - Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3))) < 1e-12);
  assert.deepEqual(x.cumsum(1).tolist(), [
    [1, 3, 6],
    [4, 9, 15],
  ]);
  assert.equal(t([3, 4], 'float64').norm().item(), 5);
  assert.equal(t([3, -4], 'float64').norm(1).item(), 7);
  assert.equal(t([3, -4], 'float64').norm(Infinity).item(), 4);
  assert.ok(t([1, 1]).bool().all().item());
});

test('products: matmul, mm, bmm, outer, dot, einsum', () => {
  const a = t([
    [1, 2],
    [3, 4],
  ]);
  assert.deepEqual(a.matmul(a).tolist(), [
    [7, 10],
    [15, 22],
  ]);
  assert.deepEqual(a.mm(torch.eye(2)).tolist(), [
    [1, 2],
    [3, 4],
  ]);
  assert.deepEqual(torch.stack([a, a]).bmm(torch.stack([a, a])).shape, [2, 2, 2]);
  assert.deepEqual(
    t([1, 2])
      .outer(t([3, 4]))
      .tolist(),
    [
      [3, 4],
      [6, 8],
    ],
  );
  assert.equal(
    t([1, 2])
      .dot(t([3, 4]))
      .item(),
    11,
  );
  assert.deepEqual(torch.einsum('ij,jk->ik', a, a).tolist(), [
    [7, 10],
    [15, 22],
  ]);
  assert.deepEqual(torch.einsum('ii->', a).item(), 5);
});

test('neural-network functionals', () => {
  const x = t([[-1, 0, 2]]);
  assert.deepEqual(torch.relu(x).toArray(), [0, 0, 2]);
  assert.ok(Math.abs(torch.sigmoid(t([0])).item() - 0.5) < 1e-7);
  assert.ok(Math.abs(torch.softmax(x, 1).sum().item() - 1) < 1e-6);
  assert.ok(torch.logSoftmax(x, 1).exp().allclose(torch.softmax(x, 1)));
  assert.ok(Math.abs(torch.nn.functional.gelu(t([1])).item() - 0.8413447) < 1e-6);
  const logits = t([
    [2, 0, 0],
    [0, 0, 3],
  ]);
  const target = torch.tensor([0, 2], { dtype: 'int64' });
  const byHand = -(Math.log(Math.exp(2) / (Math.exp(2) + 2)) + Math.log(Math.exp(3) / (Math.exp(3) + 2))) / 2;
  assert.ok(Math.abs(torch.nn.functional.crossEntropy(logits, target).item() - byHand) < 1e-6);
  assert.ok(Math.abs(torch.nn.functional.nllLoss(torch.logSoftmax(logits, 1), target).item() - byHand) < 1e-6);
  const weighted = torch.nn.functional.crossEntropy(logits, target, { weight: t([1, 1, 0]) });
  assert.ok(Math.abs(weighted.item() + Math.log(Math.exp(2) / (Math.exp(2) + 2))) < 1e-6);
  assert.deepEqual(torch.nn.functional.crossEntropy(logits, target, { reduction: 'none' }).shape, [2]);
  const img = torch.arange(16, undefined, 1, { dtype: 'float32' }).reshape([1, 1, 4, 4]);
  assert.deepEqual(torch.maxPool2d(img, 2).flatten().toArray(), [5, 7, 13, 15]);
  assert.deepEqual(torch.nn.functional.avgPool2d(img, 2).flatten().toArray(), [2.5, 4.5, 10.5, 12.5]);
  assert.equal(torch.nn.functional.adaptiveAvgPool2d(img, 1).item(), 7.5);
  assert.deepEqual(torch.nn.functional.interpolate(t([[[[1, 2]]]]), { scaleFactor: 2 }).shape, [1, 1, 2, 4]);
  assert.deepEqual(
    torch
      .conv2d(img, torch.ones([1, 1, 2, 2]), null, { stride: 2 })
      .flatten()
      .toArray(),
    [10, 18, 42, 50],
  );
  const dropped = torch.dropout(torch.ones([1000]), 0.5, true);
  const kept = dropped.gt(0).sum().item();
  assert.ok(kept > 400 && kept < 600 && dropped.max().item() === 2);
  assert.ok(torch.dropout(torch.ones([10]), 0.5, false).equal(torch.ones([10])));
  const running = { mean: torch.zeros([2]), var: torch.ones([2]) };
  const batch = t([
    [1, 10],
    [3, 30],
  ]);
  const normalised = torch.batchNorm(batch, running.mean, running.var, { training: true, momentum: 0.5 });
  assert.ok(normalised.mean({ dim: 0 }).abs().max().item() < 1e-6);
  assert.ok(running.mean.allclose(t([1, 10])), 'running mean moves half way to the batch mean');
  assert.ok(torch.layerNorm(batch, [2]).mean({ dim: 1 }).abs().max().item() < 1e-6);
  assert.deepEqual(
    torch.nn.functional
      .linear(
        t([[1, 2]]),
        t([
          [1, 1],
          [1, -1],
        ]),
        t([0, 10]),
      )
      .toArray(),
    [3, 9],
  );
});

test('linalg: eigh, svd, cholesky, inv, solve, slogdet reconstruct their inputs', () => {
  torch.manualSeed(3);
  const a = torch.randn([4, 4], { dtype: 'float64' });
  const s = a.matmul(a.t()).add(torch.eye(4, { dtype: 'float64' }));
  const { eigenvalues, eigenvectors } = torch.linalg.eigh(s);
  assert.ok(eigenvectors.mul(eigenvalues.unsqueeze(0)).matmul(eigenvectors.t()).allclose(s, 1e-10, 1e-10));
  const { U, S, Vh } = torch.linalg.svd(a);
  assert.ok(U.mul(S.unsqueeze(0)).matmul(Vh).allclose(a, 1e-10, 1e-10));
  const l = torch.linalg.cholesky(s);
  assert.ok(l.matmul(l.t()).allclose(s, 1e-10, 1e-10));
  assert.ok(
    torch.linalg
      .inv(s)
      .matmul(s)
      .allclose(torch.eye(4, { dtype: 'float64' }), 1e-10, 1e-10),
  );
  const b = torch.randn([4, 2], { dtype: 'float64' });
  assert.ok(s.matmul(torch.linalg.solve(s, b)).allclose(b, 1e-10, 1e-10));
  const { sign, logabsdet } = torch.linalg.slogdet(s);
  assert.ok(Math.abs(sign.item() * Math.exp(logabsdet.item()) - torch.linalg.det(s).item()) < 1e-8 * Math.exp(logabsdet.item()));
});

test('autograd: gradient argument, retainGraph, grad(), noGrad and enableGrad, detach, zeroing', () => {
  const x = t([1, 2, 3], 'float64').requiresGrad_();
  const y = x.mul(x);
  y.backward(t([1, 1, 0], 'float64'), { retainGraph: true });
  assert.deepEqual(x.grad!.toArray(), [2, 4, 0]);
  y.backward(t([1, 1, 1], 'float64'));
  assert.deepEqual(x.grad!.toArray(), [4, 8, 6], 'gradients accumulate');
  assert.throws(() => y.backward(t([1, 1, 1], 'float64')), /backward through the graph a second time/);
  const [g] = torch.grad(x.pow(3).sum(), x);
  assert.deepEqual(g!.toArray(), [3, 12, 27]);
  const [gg] = torch.grad(torch.grad(x.pow(3).sum(), x, { createGraph: true })[0]!.sum(), x);
  assert.deepEqual(gg!.toArray(), [6, 12, 18], 'second derivative through createGraph');
  const inside = torch.noGrad(() => x.mul(2));
  assert.equal(inside.requiresGrad, false);
  assert.equal(torch.noGrad(() => torch.enableGrad(() => x.mul(2))).requiresGrad, true);
  assert.equal(torch.isGradEnabled(), true);
  assert.equal(x.detach().requiresGrad, false);
  assert.ok(x.isLeaf && !y.isLeaf);
  torch.zeroGrad([x], false);
  assert.deepEqual(x.grad!.toArray(), [0, 0, 0]);
  torch.zeroGrad([x]);
  assert.equal(x.grad, null);
  assert.throws(() => t([1]).backward(), /does not require grad/);
});

test('in-place ops used by optimizers', () => {
  const p = t([1, 2], 'float64');
  p.add_(t([1, 1], 'float64'), 0.5)
    .mul_(2)
    .sub_(1)
    .div_(2);
  assert.deepEqual(p.toArray(), [1, 2]);
  p.addcmul_(t([1, 2], 'float64'), t([3, 4], 'float64'), 0.5).addcdiv_(t([2, 2], 'float64'), t([1, 2], 'float64'), 1);
  assert.deepEqual(p.toArray(), [4.5, 7]);
  p.lerp_(t([6.5, 7], 'float64'), 0.5);
  assert.deepEqual(p.toArray(), [5.5, 7]);
  p.copy_(t([9, 9])).clamp_(null, 8);
  assert.deepEqual(p.toArray(), [8, 8]);
  p.fill_(3);
  assert.deepEqual(p.toArray(), [3, 3]);
  p.zero_();
  assert.deepEqual(p.toArray(), [0, 0]);
  const leaf = t([1, 2]).requiresGrad_();
  torch.noGrad(() => leaf.sub_(t([1, 1])));
  assert.deepEqual(leaf.toArray(), [0, 1]);
  const u = torch.empty([2000]).uniform_(-1, 1);
  assert.ok(u.min().item() >= -1 && u.max().item() <= 1);
  const n = torch.empty([20000], { dtype: 'float64' }).normal_(3, 2);
  assert.ok(Math.abs(n.mean().item() - 3) < 0.1 && Math.abs(n.std().item() - 2) < 0.1);
});

test('seeds: the same seed gives the same numbers; generator state restores exactly', () => {
  torch.manualSeed(42);
  const first = torch.randn([5]).toArray();
  torch.manualSeed(42);
  assert.deepEqual(torch.randn([5]).toArray(), first);
  const state = torch.getRngState();
  const next = torch.rand([3]).toArray();
  torch.setRngState(state);
  assert.deepEqual(torch.rand([3]).toArray(), next);
});

test('utilities: threads, item, toString, version', () => {
  const before = torch.getNumThreads();
  torch.setNumThreads(1);
  assert.equal(torch.getNumThreads(), 1);
  torch.setNumThreads(before);
  assert.equal(t([2.5]).item(), 2.5);
  assert.equal(String(t([[1, 2.5]])), 'tensor([[1, 2.5]], shape=[1, 2], dtype=float32)');
  assert.match(String(torch.zeros([2000])), /<2000 elements>/);
  assert.match(torch.version().libtorch, /^\d+\.\d+/);
});

test('numbers keep integer tensors integral, as Python scalars do', () => {
  const counter = torch.arange(3);
  counter.add_(1);
  assert.deepEqual([counter.dtype, counter.toArray()], ['int64', [1, 2, 3]]);
  assert.equal(torch.arange(3).mul(2).dtype, 'int64');
  assert.equal(torch.ones([1], { dtype: 'bfloat16' }).add(1).dtype, 'bfloat16');
  assert.equal(torch.ones([1], { dtype: 'float64' }).add(0.5).dtype, 'float64');
});
