// Float64 finite-difference checks of autograd over every differentiable op family scatter exposes.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { torch } from '../../src/index.js';

type Fn = (...inputs: torch.Tensor[]) => torch.Tensor;

// SCATTER_TEST_DEVICE=cuda runs the same checks on a GPU.
const device = process.env.SCATTER_TEST_DEVICE ?? 'cpu';
const float64 = { dtype: 'float64', device } as const;
const int64 = { dtype: 'int64', device } as const;

function leaf(shape: number[], transform?: (t: torch.Tensor) => torch.Tensor): torch.Tensor {
  const base = torch.randn(shape, float64);
  const value = transform ? torch.noGrad(() => transform(base)) : base;
  return value.requiresGrad_(true);
}

function check(name: string, fn: Fn, inputs: () => torch.Tensor[]): void {
  test(`gradcheck: ${name}`, () => {
    torch.manualSeed(1234);
    const result = torch.gradcheck(fn, inputs());
    assert.ok(result.ok, `${name}: worst element ${JSON.stringify(result.worst)} exceeds tolerance by ${result.worstExcess}`);
  });
}

// Symmetric positive-definite matrices from any square input, so linalg's preconditions hold under perturbation.
const spd = (a: torch.Tensor): torch.Tensor => a.matmul(a.t()).add(torch.eye(a.shape[0]!, float64).mul(a.shape[0]!));
const symmetric = (a: torch.Tensor): torch.Tensor => a.add(a.t()).div(2);

check(
  'conv2d (stride, padding, dilation, groups, bias)',
  (x, w, b) => torch.conv2d(x!, w!, b!, { stride: 2, padding: 1, dilation: 1, groups: 2 }),
  () => [leaf([2, 4, 5, 5]), leaf([4, 2, 3, 3]), leaf([4])],
);
check(
  'conv2d dilation 2',
  (x, w) => torch.conv2d(x!, w!, null, { padding: 2, dilation: 2 }),
  () => [leaf([1, 2, 5, 5]), leaf([2, 2, 3, 3])],
);
check(
  'batchNorm in training mode',
  (x, w, b) => torch.batchNorm(x!, null, null, { weight: w!, bias: b!, training: true }),
  () => [leaf([4, 3, 2, 2]), leaf([3]), leaf([3])],
);
check(
  'batchNorm in eval mode',
  (x, w) => {
    const mean = torch.zeros([3], float64).add(0.1);
    const variance = torch.ones([3], float64).mul(1.5);
    return torch.batchNorm(x!, mean, variance, { weight: w!, training: false });
  },
  () => [leaf([4, 3, 2, 2]), leaf([3])],
);
check(
  'layerNorm',
  (x, w, b) => torch.layerNorm(x!, [4], { weight: w!, bias: b! }),
  () => [leaf([3, 4]), leaf([4]), leaf([4])],
);
check(
  'linear',
  (x, w, b) => torch.nn.functional.linear(x!, w!, b!),
  () => [leaf([5, 4]), leaf([3, 4]), leaf([3])],
);
check(
  'linalg.eigh (ZCA matrix U diag(lambda^-1/2) U^T, sign-invariant)',
  (a) => {
    const { eigenvalues, eigenvectors } = torch.linalg.eigh(symmetric(a!));
    return eigenvectors.mul(eigenvalues.rsqrt().unsqueeze(0)).matmul(eigenvectors.t());
  },
  () => [leaf([4, 4], spd)],
);
check(
  'linalg.eigh eigenvalues',
  (a) => torch.linalg.eigh(symmetric(a!)).eigenvalues,
  () => [leaf([4, 4], spd)],
);
check(
  'linalg.svd (U diag(S^2) U^T and S)',
  (a) => {
    const { U, S } = torch.linalg.svd(a!);
    return torch.cat([U.mul(S.square().unsqueeze(0)).matmul(U.t()).flatten(), S]);
  },
  () => [leaf([4, 3])],
);
check(
  'linalg.cholesky',
  (a) => torch.linalg.cholesky(symmetric(a!)),
  () => [leaf([4, 4], spd)],
);
check(
  'linalg.inv',
  (a) => torch.linalg.inv(a!),
  () => [leaf([3, 3], spd)],
);
check(
  'linalg.solve',
  (a, b) => torch.linalg.solve(a!, b!),
  () => [leaf([3, 3], spd), leaf([3, 2])],
);
check(
  'linalg.slogdet',
  (a) => torch.linalg.slogdet(a!).logabsdet,
  () => [leaf([3, 3], spd)],
);
check(
  'logSoftmax and softmax',
  (x) => torch.cat([torch.logSoftmax(x!, 1).flatten(), torch.softmax(x!, 0).flatten()]),
  () => [leaf([3, 5])],
);
check(
  'crossEntropy (class weights, label smoothing)',
  (x) =>
    torch.nn.functional.crossEntropy(x!, torch.tensor([0, 2, 4], int64), {
      weight: torch.tensor([1, 2, 0.5, 1, 3], float64),
      labelSmoothing: 0.1,
    }),
  () => [leaf([3, 5])],
);
check(
  'crossEntropy (no reduction) and nllLoss (sum)',
  (x) =>
    torch.cat([
      torch.nn.functional.crossEntropy(x!, torch.tensor([1, 0, 3], int64), { reduction: 'none' }),
      torch.nn.functional.nllLoss(torch.logSoftmax(x!, 1), torch.tensor([1, 0, 3], int64), { reduction: 'sum' }).reshape([1]),
    ]),
  () => [leaf([3, 4])],
);
check(
  'elementwise: exp log sqrt rsqrt pow div sigmoid tanh gelu',
  (x, y) =>
    torch.cat([
      x!.exp(),
      y!.log(),
      y!.sqrt(),
      y!.rsqrt(),
      y!.pow(1.7),
      x!.pow(2),
      x!.div(y!),
      x!.mul(y!).sub(x!),
      torch.sigmoid(x!),
      x!.tanh(),
      torch.nn.functional.gelu(x!),
      y!.pow(x!),
    ]),
  () => [leaf([6]), leaf([6], (t) => t.abs().add(0.5))],
);
check(
  'elementwise with kinks away from the kink: abs relu clamp maximum',
  (x) => torch.cat([x!.abs(), torch.relu(x!), x!.clamp(-0.5, 0.5), x!.maximum(0.25)]),
  () => [leaf([8], (t) => t.add(t.sign().mul(0.05)))],
);
check(
  'reductions: sum mean var std prod logsumexp norm max cumsum',
  (x) =>
    torch.cat([
      x!.sum({ dim: 1 }),
      x!.mean({ dim: 0 }),
      x!.var({ dim: 1 }),
      x!.std({ dim: 0, correction: 0 }),
      x!.prod({ dim: 1 }),
      x!.logsumexp(1),
      x!.norm(2, { dim: 1 }),
      x!.max(1).values,
      x!.cumsum(1).flatten(),
      x!.sum().reshape([1]),
    ]),
  () => [leaf([3, 4])],
);
check(
  'matmul, mm, bmm, outer, einsum',
  (a, b, c) =>
    torch.cat([
      a!.matmul(b!).flatten(),
      a!.mm(b!).flatten(),
      c!.bmm(c!.transpose(1, 2)).flatten(),
      a!.select(0, 0).outer(b!.select(1, 0)).flatten(),
      torch.einsum('ij,jk->ik', a!, b!).flatten(),
    ]),
  () => [leaf([2, 3]), leaf([3, 2]), leaf([2, 2, 3])],
);
check(
  'pooling and interpolation: maxPool2d avgPool2d adaptiveAvgPool2d interpolate',
  (x) =>
    torch.cat([
      torch.maxPool2d(x!, 2).flatten(),
      torch.nn.functional.avgPool2d(x!, 2, { stride: 1, padding: 1 }).flatten(),
      torch.nn.functional.adaptiveAvgPool2d(x!, 1).flatten(),
      torch.nn.functional.interpolate(x!, { size: 6, mode: 'bilinear' }).flatten(),
    ]),
  () => [leaf([1, 2, 4, 4])],
);
check(
  'indexing: gather scatterAdd indexSelect index where maskedFill pad',
  (x) => {
    const index = torch.tensor(
      [
        [0, 2],
        [1, 1],
      ],
      int64,
    );
    const mask = x!.gt(0);
    return torch.cat([
      x!.gather(1, index).flatten(),
      torch
        .zerosLike(x!)
        .scatterAdd(1, index, x!.narrow(1, 0, 2))
        .flatten(),
      x!.indexSelect(0, torch.tensor([1, 0], int64)).flatten(),
      x!.index([null, torch.tensor([2, 0], int64)]).flatten(),
      torch.where(mask, x!, x!.mul(3)).flatten(),
      x!.maskedFill(mask, 0).flatten(),
      torch.nn.functional.pad(x!, [1, 2]).flatten(),
    ]);
  },
  () => [leaf([2, 3], (t) => t.add(t.sign().mul(0.05)))],
);
check(
  'views: reshape permute transpose expand slice flip roll stack chunk',
  (x) =>
    torch.cat([
      x!.reshape([6]),
      x!.permute([1, 0]).flatten(),
      x!.transpose(0, 1).flatten(),
      x!.unsqueeze(0).expand([2, 2, 3]).flatten(),
      x!.slice(1, 0, 3, 2).flatten(),
      x!.flip([0]).flatten(),
      x!.roll(1, 1).flatten(),
      torch.stack([x!, x!], 1).flatten(),
      ...x!.chunk(3, 1).map((c) => c.flatten()),
    ]),
  () => [leaf([2, 3])],
);

test('gradcheck fails on a wrong gradient (x.detach() * x has gradient x from autograd, 2x in truth)', () => {
  const result = torch.gradcheck((x) => x!.detach().mul(x!), [leaf([4])]);
  assert.equal(result.ok, false);
  assert.ok(result.worst !== null && Math.abs(result.worst.numeric - 2 * result.worst.analytic) < 1e-4);
});
