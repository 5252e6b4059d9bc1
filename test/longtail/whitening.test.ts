// Channel whitening: what a training batch comes out as (ZCA, groups, Newton-Schulz), its gradient, the
// running statistics and evaluation, degenerate batches, state dicts, the necks' factory, the native node
// against the TypeScript layer, and the same on cuda (where there is a GPU).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { models, torch } from '../../src/index.js';
import { BatchNormNeck, ChannelWhitening, createNeck } from '../../src/longtail/index.js';
import type { ChannelWhiteningOptions, WhiteningImplementation } from '../../src/longtail/index.js';
import * as nn from '../../src/nn/index.js';
import { assertClose } from '../helpers/compare.js';
import { temporaryDir } from '../helpers/python.js';

type Tensor = torch.Tensor;

const EPS = 0.1;

/**
 * Features with strongly correlated channels and a non-zero mean: independent channels of standard
 * deviation 0.02 to 3 (variances from below eps to 9), rotated by a random orthogonal matrix.
 */
function correlatedBatch(batch: number, features: number, seed: number, dtype: torch.Dtype = 'float32'): Tensor {
  torch.manualSeed(seed);
  return torch.scope(() => {
    const rotation = torch.linalg.qr(torch.randn([features, features], { dtype })).Q;
    const scales = torch.linspace(0.02, 3, features, { dtype });
    return torch.randn([batch, features], { dtype }).mul(scales).matmul(rotation).add(3);
  });
}

/** The biased covariance of the rows of x (the layer's S without eps), in float64. */
function batchCovariance(x: Tensor): Tensor {
  return torch.scope(() => {
    const centred = x
      .detach()
      .double()
      .sub(x.detach().double().mean({ dim: 0 }));
    return centred.t().mm(centred).div(x.shape[0]!);
  });
}

/** U f(lambda) U^T for the symmetric matrix s = U diag(lambda) U^T. */
function spectralMap(s: Tensor, f: (eigenvalue: number) => number): Tensor {
  return torch.scope(() => {
    const { eigenvalues, eigenvectors } = torch.linalg.eigh(s);
    const mapped = torch.tensor(eigenvalues.toArray().map(f), { dtype: 'float64' });
    return eigenvectors.mul(mapped.unsqueeze(0)).mm(eigenvectors.t());
  });
}

/** What ZCA with eps makes of covariance S: (S + eps I)^-1/2 S (S + eps I)^-1/2 = U diag(l / (l + eps)) U^T. */
function zcaOutputCovariance(s: Tensor, eps = EPS): Tensor {
  return spectralMap(s, (eigenvalue) => eigenvalue / (eigenvalue + eps));
}

/** (S + eps I)^-1/2, computed independently of the layer. */
function zcaMatrix(s: Tensor, eps = EPS): Tensor {
  return spectralMap(s, (eigenvalue) => 1 / Math.sqrt(eigenvalue + eps));
}

function maxAbsDifference(a: Tensor, b: Tensor): number {
  return torch.scope(() => a.detach().double().sub(b.detach().double()).abs().max().item());
}

/** Block i of a square matrix cut into blocks of size g along the diagonal. */
function diagonalBlock(matrix: Tensor, i: number, g: number): Tensor {
  return matrix.narrow(0, i * g, g).narrow(1, i * g, g);
}

function trainingOutput(options: ChannelWhiteningOptions, x: Tensor): Tensor {
  return new ChannelWhitening(x.shape[1]!, options).to(x.dtype).call(x);
}

test('zca: a training batch comes out centred with covariance (S + eps I)^-1/2 S (S + eps I)^-1/2', () => {
  const x = correlatedBatch(128, 16, 0);
  for (const decompositionDtype of ['float64', 'float32'] as const) {
    const y = trainingOutput({ decompositionDtype }, x);
    assert.ok(maxAbsDifference(y.mean({ dim: 0 }), torch.zeros([16])) < 1e-5, `${decompositionDtype}: mean 0`);
    const error = maxAbsDifference(batchCovariance(y), zcaOutputCovariance(batchCovariance(x)));
    assert.ok(error < 1e-4, `${decompositionDtype}: covariance off by ${error}`);
  }
  // The eps term is really there: directions of variance 4e-4 to 1e-2 come out well below 1.
  assert.ok(maxAbsDifference(batchCovariance(trainingOutput({}, x)), torch.eye(16)) > 1e-2);
  assert.ok(maxAbsDifference(batchCovariance(trainingOutput({ eps: 1e-9 }, x.double())), torch.eye(16)) < 1e-4, 'identity with eps ~ 0');
});

test('zca in groups whitens each block of channels on its own: block identity, blocks still correlated', () => {
  const x = correlatedBatch(128, 16, 1);
  const layer = new ChannelWhitening(16, { groupSize: 4 });
  assert.deepEqual(layer.runningWhitening.shape, [4, 4, 4]);
  const outputCovariance = batchCovariance(layer.call(x));
  const inputCovariance = batchCovariance(x);
  for (let group = 0; group < 4; group++) {
    const error = maxAbsDifference(
      diagonalBlock(outputCovariance, group, 4),
      zcaOutputCovariance(diagonalBlock(inputCovariance, group, 4)),
    );
    assert.ok(error < 1e-4, `group ${group}: covariance off by ${error}`);
  }
  const crossBlock = outputCovariance.narrow(0, 0, 4).narrow(1, 4, 12);
  assert.ok(crossBlock.abs().max().item() > 0.1, 'channels of different groups are not decorrelated');
});

test('newton-schulz: the covariance is the iteration polynomial of the spectrum; more iterations reach ZCA', () => {
  const x = correlatedBatch(128, 8, 2, 'float64');
  const s = batchCovariance(x);
  const trace = s.diagonal().sum().item() + 8 * EPS;
  for (const iterations of [3, 5, 10]) {
    // P_T(nu) for one eigenvalue nu of S_N = (S + eps I) / tr: the scalar form of the matrix iteration.
    const polynomial = (nu: number): number => {
      let p = 1;
      for (let k = 0; k < iterations; k++) p = 1.5 * p - 0.5 * p ** 3 * nu;
      return p;
    };
    const expected = spectralMap(s, (eigenvalue) => (eigenvalue * polynomial((eigenvalue + EPS) / trace) ** 2) / trace);
    const error = maxAbsDifference(batchCovariance(trainingOutput({ method: 'newton-schulz', iterations }, x)), expected);
    assert.ok(error < 1e-6, `T = ${iterations}: covariance off by ${error}`);
  }
  // Stated tolerance: on channels of similar variance, 10 iterations whiten as ZCA does to 1e-3.
  const similar = torch
    .randn([128, 8])
    .mul(torch.linspace(1, 2, 8))
    .add(1);
  const gap = maxAbsDifference(trainingOutput({ method: 'newton-schulz', iterations: 10 }, similar), trainingOutput({}, similar));
  assert.ok(gap < 1e-3, `newton-schulz (10) vs zca: ${gap}`);
  // And the iteration stays stable far past convergence on an ill-conditioned batch (the coupled form).
  const converged = trainingOutput({ method: 'newton-schulz', iterations: 40 }, correlatedBatch(128, 16, 3));
  assert.ok(converged.isfinite().all().item(), 'finite after 40 iterations');
});

test('float64 gradcheck, native node and typescript layer: zca (whole, groups, tied eigenvalues, affine), newton-schulz, evaluation', () => {
  for (const implementation of ['native', 'typescript'] as const) gradcheckLayer(implementation);
});

function gradcheckLayer(implementation: WhiteningImplementation): void {
  torch.manualSeed(3);
  const cases: { label: string; options: ChannelWhiteningOptions; x: Tensor; evaluation?: boolean }[] = [
    { label: 'zca', options: {}, x: torch.randn([6, 4], { dtype: 'float64' }) },
    { label: 'zca groups', options: { groupSize: 3 }, x: torch.randn([5, 6], { dtype: 'float64' }) },
    // Two dead channels: eigenvalues eps, eps; back-propagating through eigh itself gives NaN here.
    {
      label: 'zca dead channels',
      options: {},
      x: torch.randn([6, 4], { dtype: 'float64' }).mul(torch.tensor([1, 0, 1, 0], { dtype: 'float64' })),
    },
    // Batch 3 < 5 channels: the null space's eigenvalues are all eps.
    { label: 'zca batch < channels', options: {}, x: torch.randn([3, 5], { dtype: 'float64' }) },
    { label: 'zca affine', options: { affine: true }, x: torch.randn([6, 4], { dtype: 'float64' }) },
    { label: 'newton-schulz', options: { method: 'newton-schulz' }, x: torch.randn([6, 4], { dtype: 'float64' }) },
    {
      label: 'newton-schulz groups',
      options: { method: 'newton-schulz', groupSize: 2, iterations: 3 },
      x: torch.randn([5, 4], { dtype: 'float64' }),
    },
    { label: 'evaluation', options: { groupSize: 2 }, x: torch.randn([3, 4], { dtype: 'float64' }), evaluation: true },
  ];
  for (const { label, options, x, evaluation } of cases) {
    const layer = new ChannelWhitening(x.shape[1]!, { ...options, implementation }).to('float64');
    if (evaluation) {
      layer.call(torch.randn([16, x.shape[1]!], { dtype: 'float64' }));
      layer.eval();
    }
    if (layer.affine)
      torch.noGrad(() => {
        layer.weight!.normal_();
        layer.bias!.normal_();
      });
    const inputs = [x.requiresGrad_(true), ...layer.parameters()];
    const result = torch.gradcheck((input) => layer.forward(input!), inputs);
    assert.ok(result.ok, `${implementation}, ${label}: ${JSON.stringify(result.worst)}`);
  }
}

test('running statistics are exponential moving averages of the batch mean and W (or of S + eps I)', () => {
  const momentum = 0.3;
  // In float64, so that the comparison sees the averaging rule rather than float32 rounding.
  const batches = [correlatedBatch(32, 6, 4, 'float64'), correlatedBatch(32, 6, 5, 'float64').mul(2)];
  const mean = (x: Tensor): Tensor => x.mean({ dim: 0 });
  const regularised = (x: Tensor): Tensor => batchCovariance(x).add(torch.eye(6, { dtype: 'float64' }).mul(EPS));
  const identity = torch.eye(6, { dtype: 'float64' });
  const expectedMean = mean(batches[0]!)
    .mul(momentum * (1 - momentum))
    .add(mean(batches[1]!).mul(momentum));
  const average = (first: Tensor, second: Tensor): Tensor =>
    identity
      .mul((1 - momentum) ** 2)
      .add(first.mul(momentum * (1 - momentum)))
      .add(second.mul(momentum));

  const byWhitening = new ChannelWhitening(6, { momentum }).to('float64');
  const byCovariance = new ChannelWhitening(6, { momentum, runningStats: 'covariance' }).to('float64');
  for (const layer of [byWhitening, byCovariance]) {
    for (const x of batches) layer.call(x);
    assert.equal(layer.numBatchesTracked.item(), 2);
    assertClose(layer.runningMean, expectedMean, 1e-12, `${layer.runningStats}: running mean`);
  }
  const expectedWhitening = average(zcaMatrix(batchCovariance(batches[0]!)), zcaMatrix(batchCovariance(batches[1]!)));
  assertClose(byWhitening.runningWhitening.squeeze(0), expectedWhitening, 1e-9, 'EMA of W');
  const expectedCovariance = average(regularised(batches[0]!), regularised(batches[1]!));
  assertClose(byCovariance.runningCovariance!.squeeze(0), expectedCovariance, 1e-12, 'EMA of S + eps I');
  assertClose(byCovariance.runningWhitening.squeeze(0), zcaMatrix(expectedCovariance, 0), 1e-9, 'W of the averaged S');
  assert.equal(byWhitening.runningCovariance, null);
});

test('evaluation uses the running statistics: (x - running_mean) @ running_whitening, then the affine map', () => {
  const layer = new ChannelWhitening(8, { groupSize: 4, momentum: 0.5, affine: true });
  torch.noGrad(() => {
    layer.weight!.copy_(torch.linspace(0.5, 2, 8));
    layer.bias!.copy_(torch.linspace(-1, 1, 8));
  });
  for (let step = 0; step < 3; step++) layer.call(correlatedBatch(64, 8, 10 + step));
  layer.eval();
  const before = Object.fromEntries(Object.entries(layer.stateDict()).map(([name, tensor]) => [name, tensor.clone()]));
  const x = correlatedBatch(5, 8, 20);
  const blocks = Array.from({ length: layer.groups }, (_, group) => layer.runningWhitening.select(0, group));
  const whitening = torch.op('block_diag', blocks);
  const expected = x.sub(layer.runningMean).mm(whitening).mul(layer.weight!).add(layer.bias!);
  assert.ok(maxAbsDifference(layer.call(x), expected) < 1e-5);
  for (const [name, tensor] of Object.entries(layer.stateDict())) assert.ok(tensor.equal(before[name]!), `${name} unchanged in evaluation`);
  assert.deepEqual(layer.call(x.narrow(0, 0, 1)).shape, [1, 8], 'evaluation takes a batch of 1');
});

test('population statistics replace the running ones: the population comes out whitened in evaluation', () => {
  for (const runningStats of ['whitening', 'covariance'] as const) {
    const layer = new ChannelWhitening(8, { groupSize: 4, runningStats });
    layer.call(correlatedBatch(64, 8, 30));
    layer.eval();
    const population = correlatedBatch(2000, 8, 31, 'float64');
    layer.setPopulationStatistics(population);
    assert.ok(maxAbsDifference(layer.runningMean, population.mean({ dim: 0 })) < 1e-5, `${runningStats}: running mean is the population's`);
    const out = layer.call(population.float());
    assert.ok(maxAbsDifference(out.mean({ dim: 0 }), torch.zeros([8])) < 1e-4, `${runningStats}: centred`);
    const covariance = batchCovariance(out);
    for (let group = 0; group < layer.groups; group++) {
      const expected = zcaOutputCovariance(diagonalBlock(batchCovariance(population), group, 4));
      assert.ok(maxAbsDifference(diagonalBlock(covariance, group, 4), expected) < 1e-4, `${runningStats}: group ${group} white`);
    }
    if (runningStats === 'covariance')
      assert.ok(
        maxAbsDifference(
          layer.runningCovariance!.select(0, 0),
          diagonalBlock(batchCovariance(population), 0, 4).add(torch.eye(4, { dtype: 'float64' }).mul(EPS)),
        ) < 1e-5,
      );
    assert.equal(Number(layer.numBatchesTracked.item()), 1, 'a population is not a batch');
  }
  assert.throws(
    () => new ChannelWhitening(8).setPopulationStatistics(torch.zeros([1, 8])),
    /population statistics need features \(N >= 2, 8\), got \[1, 8\]/,
  );
});

test('a batch smaller than the channel count, with dead channels, gives finite outputs and gradients', () => {
  torch.manualSeed(6);
  const dead = torch.tensor(Array.from({ length: 64 }, (_, channel) => ([3, 17, 40, 41].includes(channel) ? 0 : 1)));
  const x = torch.randn([8, 64]).relu().mul(dead).requiresGrad_(true);
  const layer = new ChannelWhitening(64);
  const y = layer.call(x);
  y.mul(torch.randnLike(y)).sum().backward();
  assert.ok(y.isfinite().all().item() && x.grad!.isfinite().all().item(), 'finite');
  assert.ok(layer.runningWhitening.isfinite().all().item(), 'finite running whitening');
  // What the batch spans is whitened (7 directions of variance >> eps), the rest stays 0.
  assert.ok(maxAbsDifference(batchCovariance(y), zcaOutputCovariance(batchCovariance(x))) < 1e-4);
});

test('inputs and options it cannot take are errors that say why', () => {
  assert.throws(
    () => new ChannelWhitening(4).call(torch.zeros([1, 4])),
    /ChannelWhitening: batch statistics need more than 1 value per channel, got input \[1, 4\]/,
  );
  assert.throws(
    () => new ChannelWhitening(4).call(torch.zeros([3, 5])),
    /ChannelWhitening\(4\): expected input of shape \(N, 4\), got \[3, 5\]/,
  );
  assert.throws(() => new ChannelWhitening(4).call(torch.zeros([3, 4, 1])), /expected input of shape \(N, 4\)/);
  assert.throws(() => new ChannelWhitening(96, { groupSize: 64 }), /groupSize 64 does not divide numFeatures 96/);
  assert.throws(() => new ChannelWhitening(100), /groupSize 64 does not divide numFeatures 100/);
  assert.throws(() => new ChannelWhitening(8, { method: 'svd' as 'zca' }), /method must be one of zca, newton-schulz, got 'svd'/);
  assert.throws(() => new ChannelWhitening(8, { eps: 0 }), /eps must be positive/);
  assert.throws(() => new ChannelWhitening(8, { iterations: 0 }), /iterations must be a positive integer/);
  assert.throws(
    () => new ChannelWhitening(8, { implementation: 'python' as 'native' }),
    /implementation must be one of native, typescript, got 'python'/,
  );
  assert.throws(
    () => new ChannelWhitening(4, { implementation: 'typescript' }).call(torch.zeros([1, 4])),
    /batch statistics need more than 1 value per channel, got input \[1, 4\]/,
  );
  assert.equal(new ChannelWhitening(2048).groupSize, 64, 'wide features default to groups of 64');
  assert.equal(new ChannelWhitening(48).groupSize, 48, 'narrow features are whitened whole');
});

test('state dicts: PyTorch-style buffer names, a safetensors round trip, and the neck of a ResNet-32', () => {
  const layer = new ChannelWhitening(8, { groupSize: 4, affine: true, runningStats: 'covariance' });
  assert.deepEqual(Object.keys(layer.stateDict()), [
    'weight',
    'bias',
    'running_mean',
    'running_whitening',
    'running_covariance',
    'num_batches_tracked',
  ]);
  assert.deepEqual(Object.keys(new ChannelWhitening(8).stateDict()), ['running_mean', 'running_whitening', 'num_batches_tracked']);
  for (let step = 0; step < 2; step++) layer.call(correlatedBatch(32, 8, 30 + step));

  const dir = temporaryDir('whitening');
  try {
    const file = path.join(dir, 'neck.safetensors');
    torch.safetensors.saveFile(layer.stateDict(), file);
    const restored = new ChannelWhitening(8, { groupSize: 4, affine: true, runningStats: 'covariance' });
    restored.loadStateDict(torch.safetensors.loadFile(file).tensors);
    assert.equal(restored.numBatchesTracked.item(), 2);
    const x = correlatedBatch(4, 8, 40);
    assert.ok(restored.eval().call(x).equal(layer.eval().call(x)), 'same evaluation output');
    assert.throws(
      () => new ChannelWhitening(8, { groupSize: 2 }).loadStateDict(layer.stateDict(), { strict: false }),
      /running_whitening: checkpoint has shape \[2, 4, 4\], module has \[4, 2, 2\]/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const model = models.createModel('resnet32', { numClasses: 10 });
  model.neck = createNeck('whitening', model.featureDim);
  assert.deepEqual(model.getBuffer('neck.running_whitening').shape, [1, 64, 64]);
  torch.manualSeed(7);
  const logits = model.call(torch.randn([4, 3, 32, 32]));
  assert.ok(logits.isfinite().all().item() && model.getBuffer('neck.num_batches_tracked').item() === 1);
  assert.deepEqual(model.eval().call(torch.randn([1, 3, 32, 32])).shape, [1, 10]);
});

test('createNeck builds identity, batch norm (per channel, no affine by default) and whitening; foreign options are errors', () => {
  assert.ok(createNeck('identity', 8) instanceof nn.Identity);
  const norm = createNeck('batchnorm', 8, { momentum: 0.2 });
  assert.ok(norm instanceof BatchNormNeck && norm.momentum === 0.2);
  assert.deepEqual([...norm.namedParameters().keys()], []);
  assert.equal(new BatchNormNeck(8, { affine: true }).numParameters(), 16);
  const y = norm.call(correlatedBatch(64, 8, 50));
  assert.ok(maxAbsDifference(y.mean({ dim: 0 }), torch.zeros([8])) < 1e-5);
  assert.ok(maxAbsDifference(y.var({ dim: 0, correction: 0 }), torch.ones([8])) < 1e-3);
  assert.ok(maxAbsDifference(batchCovariance(y), torch.eye(8)) > 0.1, 'batch norm does not decorrelate');

  const whitening = createNeck('whitening', 16, { groupSize: 8, method: 'newton-schulz' });
  assert.ok(whitening instanceof ChannelWhitening && whitening.groups === 2 && whitening.method === 'newton-schulz');
  assert.throws(
    () => createNeck('batchnorm', 8, { groupSize: 4, eps: 1e-3 }),
    /createNeck\('batchnorm'\): option 'groupSize' does not apply \(batchnorm takes eps, momentum, affine\)/,
  );
  assert.throws(() => createNeck('identity', 8, { eps: 1e-3 }), /option 'eps' does not apply \(identity takes no options\)/);
  assert.throws(() => createNeck('zca' as 'whitening', 8), /kind must be one of identity, batchnorm, whitening, got 'zca'/);
});

test('on cuda: the same outputs, gradients and running statistics as on the CPU, and a float64 gradcheck', (t) => {
  if (!torch.cuda.isAvailable()) return t.skip('no CUDA device here (the GPU checks, bench/gpu.sh, run this test on one)');
  const cases: { label: string; options: ChannelWhiteningOptions }[] = [
    { label: 'zca float64', options: {} },
    { label: 'zca float32', options: { decompositionDtype: 'float32' } },
    { label: 'zca groups, affine, covariance EMA', options: { groupSize: 4, affine: true, runningStats: 'covariance' } },
    { label: 'newton-schulz', options: { method: 'newton-schulz' } },
    { label: 'zca float64, typescript', options: { implementation: 'typescript' } },
  ];
  for (const { label, options } of cases) {
    const onCpu = new ChannelWhitening(16, options);
    const onCuda = new ChannelWhitening(16, options).to('cuda');
    for (let step = 0; step < 3; step++) {
      const x = correlatedBatch(128, 16, 60 + step);
      const upstream = torch.randnLike(x);
      const xCuda = x.to('cuda').requiresGrad_(true);
      const yCuda = onCuda.call(xCuda);
      yCuda.mul(upstream.to('cuda')).sum().backward();
      const xCpu = x.requiresGrad_(true);
      const yCpu = onCpu.call(xCpu);
      yCpu.mul(upstream).sum().backward();
      assertClose(yCuda.to('cpu'), yCpu, 1e-4, `${label}, step ${step}: output`);
      assertClose(xCuda.grad!.to('cpu'), xCpu.grad!, 1e-3, `${label}, step ${step}: input gradient`);
      // The training batch is whitened on the GPU: covariance (S + eps I)^-1/2 S (S + eps I)^-1/2.
      if (options.groupSize === undefined && options.method === undefined) {
        const error = maxAbsDifference(batchCovariance(yCuda.to('cpu')), zcaOutputCovariance(batchCovariance(x)));
        assert.ok(error < 1e-4, `${label}, step ${step}: covariance on cuda off by ${error}`);
      }
    }
    const cudaState = onCuda.stateDict();
    for (const [name, buffer] of Object.entries(onCpu.stateDict()))
      assertClose(cudaState[name]!.to('cpu'), buffer, 1e-4, `${label}: ${name}`);
    onCpu.eval();
    onCuda.eval();
    const x = correlatedBatch(128, 16, 70);
    assertClose(onCuda.call(x.to('cuda')).to('cpu'), onCpu.call(x), 1e-4, `${label}: evaluation output`);
  }
  for (const options of [{}, { method: 'newton-schulz' }] satisfies ChannelWhiteningOptions[]) {
    torch.manualSeed(9);
    const layer = new ChannelWhitening(4, options).to('float64').to('cuda');
    const input = torch.randn([6, 4], { dtype: 'float64', device: 'cuda' }).requiresGrad_(true);
    const result = torch.gradcheck((x) => layer.forward(x!), [input]);
    assert.ok(result.ok, `gradcheck on cuda (${options.method ?? 'zca'}): ${JSON.stringify(result.worst)}`);
  }
});

/** The native node and the TypeScript layer side by side: float64 cases for the equality tests. */
const IMPLEMENTATION_CASES: { label: string; options: ChannelWhiteningOptions; batch: number }[] = [
  { label: 'zca', options: {}, batch: 64 },
  { label: 'zca groups of 4, eps 1e-3', options: { groupSize: 4, eps: 1e-3 }, batch: 64 },
  { label: 'zca groups of 2, covariance EMA, affine', options: { groupSize: 2, runningStats: 'covariance', affine: true }, batch: 64 },
  // The null space of the batch has tied eigenvalues (all eps): the closed form's case.
  { label: 'zca batch 6 < 16 channels', options: {}, batch: 6 },
  { label: 'newton-schulz groups of 4', options: { method: 'newton-schulz', groupSize: 4 }, batch: 64 },
  {
    label: 'newton-schulz 9, covariance EMA, eps 1e-3',
    options: { method: 'newton-schulz', iterations: 9, runningStats: 'covariance', eps: 1e-3 },
    batch: 64,
  },
];

/**
 * Three training steps and an evaluation through both implementations on the same batches and upstream
 * gradients: outputs, input gradients and every buffer agree to `tolerance` (relative to each tensor's scale).
 */
function assertImplementationsAgree(
  label: string,
  options: ChannelWhiteningOptions,
  batch: number,
  dtype: torch.Dtype,
  device: torch.Device,
  tolerance: { output: number; gradient: number; buffers: number },
): void {
  const layers = (['native', 'typescript'] as const).map((implementation) =>
    new ChannelWhitening(16, { momentum: 0.3, ...options, implementation }).to(dtype).to(device),
  );
  const [native, typescript] = layers as [ChannelWhitening, ChannelWhitening];
  if (native.affine)
    for (const layer of layers)
      torch.noGrad(() => {
        layer.weight!.copy_(torch.linspace(0.5, 2, 16));
        layer.bias!.copy_(torch.linspace(-1, 1, 16));
      });
  const pass = (step: number, mode: string): void => {
    const x = correlatedBatch(batch, 16, 80 + step, dtype).to(device);
    const upstream = torch.randnLike(x);
    const [mine, theirs] = layers.map((layer) => {
      const input = x.detach().requiresGrad_(true);
      const output = layer.call(input);
      output.mul(upstream).sum().backward();
      return { output, grad: input.grad! };
    }) as [{ output: Tensor; grad: Tensor }, { output: Tensor; grad: Tensor }];
    // Without affine the output is the whitening's own: its node says which implementation made it.
    if (mode === 'training' && !native.affine) {
      assert.match(mine.output.gradFn ?? '', /TrainingWhitening/, `${label}: the native node ran`);
      assert.doesNotMatch(theirs.output.gradFn ?? '', /TrainingWhitening/, `${label}: the typescript layer ran`);
    }
    assertClose(mine.output, theirs.output, tolerance.output, `${label}, ${mode} ${step}: output`);
    assertClose(mine.grad, theirs.grad, tolerance.gradient, `${label}, ${mode} ${step}: input gradient`);
  };
  for (let step = 0; step < 3; step++) pass(step, 'training');
  const theirState = typescript.stateDict();
  for (const [name, buffer] of Object.entries(native.stateDict()))
    assertClose(buffer, theirState[name], tolerance.buffers, `${label}: ${name}`);
  assert.equal(Number(native.numBatchesTracked.item()), 3);
  for (const layer of layers) layer.eval();
  pass(3, 'evaluation');
}

test('native node and typescript layer agree in float64: outputs, input gradients, running statistics, evaluation', () => {
  const float64 = { output: 1e-6, gradient: 1e-6, buffers: 1e-6 };
  for (const { label, options, batch } of IMPLEMENTATION_CASES)
    assertImplementationsAgree(label, options, batch, 'float64', 'cpu', float64);
});

test('float32: the native layer agrees with the typescript one and whitens the batch, in either decomposition dtype', () => {
  const float32 = { output: 1e-5, gradient: 1e-4, buffers: 1e-5 };
  for (const decompositionDtype of ['float64', 'float32'] as const) {
    for (const method of ['zca', 'newton-schulz'] as const)
      assertImplementationsAgree(`${method} ${decompositionDtype}`, { method, decompositionDtype }, 128, 'float32', 'cpu', float32);
    const x = correlatedBatch(128, 16, 90);
    const y = new ChannelWhitening(16, { decompositionDtype }).call(x);
    const error = maxAbsDifference(batchCovariance(y), zcaOutputCovariance(batchCovariance(x)));
    assert.ok(error < 1e-4, `native ${decompositionDtype}: covariance off by ${error}`);
  }
});

test('the native node is differentiable once: a second derivative is an error that names the typescript layer', () => {
  torch.manualSeed(11);
  const x = torch.randn([8, 4], { dtype: 'float64' }).requiresGrad_(true);
  const secondDerivative = (implementation: WhiteningImplementation): Tensor => {
    const layer = new ChannelWhitening(4, { implementation }).to('float64');
    const [gradient] = torch.grad(layer.call(x).square().sum(), [x], { createGraph: true });
    return torch.grad(gradient!.square().sum(), [x])[0]!;
  };
  assert.ok(secondDerivative('typescript').isfinite().all().item(), 'typescript: a finite second derivative');
  assert.throws(() => secondDerivative('native'), /differentiable once; for higher derivatives use implementation 'typescript'/);
});

test('on cuda: native node and typescript layer agree in float64', (t) => {
  if (!torch.cuda.isAvailable()) return t.skip('no CUDA device here (the GPU checks, bench/gpu.sh, run this test on one)');
  const float64 = { output: 1e-6, gradient: 1e-6, buffers: 1e-6 };
  for (const { label, options, batch } of IMPLEMENTATION_CASES)
    assertImplementationsAgree(label, options, batch, 'float64', 'cuda', float64);
});

/**
 * Three training steps of one layer in parts (as a captured step runs it: torch.cuda.withPartBoundary, the host's
 * work run at the cut, the order a replay keeps) and of its twin in one piece, on the same batches and upstream
 * gradients: returns the largest difference of outputs, input gradients and buffers, and the cuts made.
 */
function inPartsAgainstWhole(
  options: ChannelWhiteningOptions,
  dtype: torch.Dtype,
  device: torch.Device,
): { difference: number; cuts: number } {
  const [inParts, whole] = [0, 1].map(() => new ChannelWhitening(16, { momentum: 0.3, ...options }).to(dtype).to(device)) as [
    ChannelWhitening,
    ChannelWhitening,
  ];
  let difference = 0;
  let cuts = 0;
  for (let step = 0; step < 3; step++) {
    const x = correlatedBatch(32, 16, 100 + step, dtype).to(device);
    const upstream = torch.randnLike(x);
    const pass = (layer: ChannelWhitening, parts: boolean): { output: Tensor; grad: Tensor } => {
      const input = x.detach().requiresGrad_(true);
      const forward = (): Tensor => layer.call(input);
      const output = parts
        ? torch.cuda.withPartBoundary((work) => {
            cuts += 1;
            work();
          }, forward)
        : forward();
      output.mul(upstream).sum().backward();
      return { output, grad: input.grad! };
    };
    const [mine, theirs] = [pass(inParts, true), pass(whole, false)];
    difference = Math.max(difference, maxAbsDifference(mine.output, theirs.output), maxAbsDifference(mine.grad, theirs.grad));
  }
  const theirState = whole.stateDict();
  for (const [name, buffer] of Object.entries(inParts.stateDict()))
    difference = Math.max(difference, maxAbsDifference(buffer, theirState[name]!));
  return { difference, cuts };
}

/** ZCA settings for the path in parts: whole and in groups, both implementations, both decomposition dtypes, affine. */
const IN_PARTS_CASES: { label: string; options: ChannelWhiteningOptions; dtype: torch.Dtype }[] = [
  { label: 'native zca', options: {}, dtype: 'float32' },
  {
    label: 'native zca groups of 4, float32 decomposition, affine',
    options: { groupSize: 4, decompositionDtype: 'float32', affine: true },
    dtype: 'float32',
  },
  { label: 'native zca float64', options: { groupSize: 8 }, dtype: 'float64' },
  { label: 'typescript zca', options: { implementation: 'typescript' }, dtype: 'float32' },
  {
    label: 'typescript zca groups of 4, float32 decomposition',
    options: { implementation: 'typescript', groupSize: 4, decompositionDtype: 'float32' },
    dtype: 'float32',
  },
];

test('in parts (a captured step): covariance, eigh at the cut, the whitening from it: the one-piece layer bit for bit', () => {
  for (const { label, options, dtype } of IN_PARTS_CASES) {
    const { difference, cuts } = inPartsAgainstWhole(options, dtype, 'cpu');
    assert.equal(cuts, 3, `${label}: one cut a training step`);
    assert.equal(difference, 0, `${label}: outputs, input gradients, buffers`);
  }
  // Nothing to move out: Newton-Schulz, and evaluation, make no cut.
  for (const layer of [new ChannelWhitening(16, { method: 'newton-schulz' }), new ChannelWhitening(16).eval()]) {
    let cuts = 0;
    torch.cuda.withPartBoundary(
      () => {
        cuts += 1;
      },
      () => layer.call(correlatedBatch(32, 16, 110)),
    );
    assert.equal(cuts, 0, `${layer.method}, training ${layer.training}: no cut`);
  }
});

test('in parts: what cannot be is an error that says why; hostStep outside a capture runs at once', () => {
  const covarianceEma = new ChannelWhitening(16, { runningStats: 'covariance' });
  assert.throws(
    () =>
      torch.cuda.withPartBoundary(
        (work) => work(),
        () => covarianceEma.call(correlatedBatch(32, 16, 120)),
      ),
    /runningStats 'covariance' with ZCA cannot be captured/,
  );
  assert.throws(
    () =>
      torch.cuda.withPartBoundary(
        () => {},
        () =>
          torch.cuda.withPartBoundary(
            () => {},
            () => 0,
          ),
      ),
    /a capture in parts is under way already/,
  );
  assert.equal(torch.cuda.capturingInParts(), false, 'the boundary is gone after an error');
  let ran = false;
  torch.cuda.hostStep(() => {
    ran = true;
  });
  assert.ok(ran, 'hostStep runs at once outside a capture');

  // The native node takes only a decomposition it would have made itself.
  const x = correlatedBatch(32, 16, 121);
  const layer = new ChannelWhitening(16, { groupSize: 8 });
  const state = {
    runningMean: layer.runningMean,
    runningWhitening: layer.runningWhitening,
    runningCovariance: null,
    numBatchesTracked: layer.numBatchesTracked,
  };
  const options = {
    training: true,
    groups: 2,
    eps: 0.1,
    method: 'zca',
    iterations: 5,
    decompositionDtype: 'float64',
    momentum: 0.1,
  } as const;
  const covariance = torch.nn.functional.channelWhiteningCovariance(x, { groups: 2, eps: 0.1 });
  assert.deepEqual(covariance.shape, [2, 8, 8]);
  const decomposition = torch.linalg.eigh(covariance.double());
  const whiten = (changes: object): Tensor => torch.nn.functional.channelWhitening(x, state, { ...options, decomposition, ...changes });
  assert.throws(() => whiten({ method: 'newton-schulz' }), /a given decomposition is for ZCA in training/);
  assert.throws(() => whiten({ training: false }), /a given decomposition is for ZCA in training/);
  assert.throws(() => whiten({ decompositionDtype: 'float32' }), /a given decomposition is in the decomposition dtype/);
  assert.throws(
    () => whiten({ groups: 4 }),
    /a given decomposition of 4 groups of 4 channels is \[4, 4\] eigenvalues and \[4, 4, 4\] eigenvectors, got \[2, 8\] and \[2, 8, 8\]/,
  );
  assert.throws(
    () =>
      torch.nn.functional.channelWhitening(
        x,
        { ...state, runningCovariance: torch.eye(8).repeat([2, 1, 1]) },
        { ...options, decomposition },
      ),
    /a given decomposition cannot serve runningStats 'covariance'/,
  );
  assert.throws(
    () => torch.nn.functional.channelWhiteningCovariance(x.narrow(0, 0, 1), { groups: 2, eps: 0.1 }),
    /channelWhiteningCovariance: batch statistics need more than 1 value per channel/,
  );
  assert.ok(whiten({}).isfinite().all().item(), 'the decomposition it would make is taken');
});

test('on cuda: in parts as in one piece, float64 (the eigh of the cut is the node’s own)', (t) => {
  if (!torch.cuda.isAvailable()) return t.skip('no CUDA device here (the GPU checks, bench/gpu.sh, run this test on one)');
  for (const { label, options } of IN_PARTS_CASES) {
    const { difference, cuts } = inPartsAgainstWhole(options, 'float64', 'cuda');
    assert.equal(cuts, 3, `${label}: one cut a training step`);
    assert.ok(difference <= 1e-9, `${label}: in parts and in one piece differ by ${difference}`);
  }
});
