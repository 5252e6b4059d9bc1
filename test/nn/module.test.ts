// Module semantics: names, modes, state dicts (through safetensors files), strict loading, dtype moves,
// gradients, parameter groups, and the call() scope.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { torch } from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import { temporaryDir } from '../helpers/python.js';

type Tensor = torch.Tensor;

/** A small net with nesting, buffers, a parameter-free layer and a bias-free conv. */
class Net extends nn.Module {
  readonly features = this.registerModule(
    'features',
    new nn.Sequential(new nn.Conv2d(3, 4, 3, { padding: 1, bias: false }), new nn.BatchNorm2d(4), new nn.ReLU()),
  );
  readonly head = this.registerModule('head', new nn.Sequential(new nn.Dropout(0.5), new nn.Linear(4, 2)));
  readonly scale = this.registerParameter('scale', torch.ones([1]));

  forward(input: Tensor): Tensor {
    const pooled = torch.nn.functional.adaptiveAvgPool2d(this.features.call(input), 1).flatten(1);
    return this.head.call(pooled).mul(this.scale);
  }
}

function makeNet(seed: number): Net {
  torch.manualSeed(seed);
  return new Net();
}

test('parameters, buffers and modules have dotted names in registration order', () => {
  const net = makeNet(0);
  assert.deepEqual(
    [...net.namedParameters().keys()],
    ['scale', 'features.0.weight', 'features.1.weight', 'features.1.bias', 'head.1.weight', 'head.1.bias'],
  );
  assert.deepEqual([...net.namedBuffers().keys()], ['features.1.running_mean', 'features.1.running_var', 'features.1.num_batches_tracked']);
  assert.deepEqual([...net.namedModules().keys()], ['', 'features', 'features.0', 'features.1', 'features.2', 'head', 'head.0', 'head.1']);
  assert.deepEqual(Object.keys(net.stateDict()), [
    'scale',
    'features.0.weight',
    'features.1.weight',
    'features.1.bias',
    'features.1.running_mean',
    'features.1.running_var',
    'features.1.num_batches_tracked',
    'head.1.weight',
    'head.1.bias',
  ]);
  assert.equal(net.getParameter('head.1.bias'), (net.head.at(1) as nn.Linear).bias);
  assert.equal(net.getBuffer('features.1.running_var').shape[0], 4);
  assert.ok(net.getSubmodule('features.0') instanceof nn.Conv2d);
  assert.throws(() => net.getParameter('head.2.weight'), /Net has no parameter 'head.2.weight' \(no module '2'\)/);
  assert.throws(() => net.getParameter('features.1.running_mean'), /no parameter 'features.1.running_mean'/);
  assert.equal(net.numParameters(), 1 + 4 * 3 * 9 + 4 + 4 + 2 * 4 + 2);
  for (const tensor of net.parameters()) assert.ok(tensor.requiresGrad && tensor.isLeaf);
});

test('registration rejects dotted, empty and clashing names; a shared module is walked once', () => {
  class Bad extends nn.Module {
    forward(input: Tensor): Tensor {
      return input;
    }

    register(name: string, kind: 'parameter' | 'buffer'): void {
      if (kind === 'parameter') this.registerParameter(name, torch.zeros([1]));
      else this.registerBuffer(name, torch.zeros([1]));
    }
  }
  const bad = new Bad();
  assert.throws(() => bad.register('a.b', 'parameter'), /parameter name 'a.b' must be non-empty and contain no '.'/);
  assert.throws(() => bad.register('', 'buffer'), /buffer name '' must be non-empty/);
  bad.register('w', 'parameter');
  assert.throws(() => bad.register('w', 'buffer'), /cannot register buffer 'w': a parameter has that name/);
  assert.throws(() => bad.registerModule('w', new nn.Identity()), /cannot register module 'w'/);

  const shared = new nn.Linear(2, 2);
  const twice = new nn.Sequential(shared, shared);
  assert.deepEqual([...twice.namedParameters().keys()], ['0.weight', '0.bias']);
  assert.deepEqual(Object.keys(twice.stateDict()), ['0.weight', '0.bias', '1.weight', '1.bias']);
});

test('a non-persistent buffer is walked and moved but left out of the state dict', () => {
  class Cached extends nn.Module {
    constructor() {
      super();
      this.registerBuffer('kept', torch.zeros([2]));
      this.registerBuffer('cache', torch.zeros([2]), { persistent: false });
    }

    forward(input: Tensor): Tensor {
      return input.add(this.getBuffer('cache'));
    }
  }
  const cached = new Cached();
  assert.deepEqual([...cached.namedBuffers().keys()], ['kept', 'cache']);
  assert.deepEqual(Object.keys(cached.stateDict()), ['kept']);
  assert.deepEqual(cached.loadStateDict({ kept: torch.ones([2]) }), { missingKeys: [], unexpectedKeys: [] });
  cached.to('float64');
  assert.equal(cached.getBuffer('cache').dtype, 'float64');
});

test('train() and eval() reach every module; eval disables dropout and uses running statistics', () => {
  const net = makeNet(1);
  const x = torch.randn([4, 3, 6, 6]);
  assert.ok([...net.namedModules().values()].every((module) => module.training));
  assert.equal(net.eval(), net);
  assert.ok([...net.namedModules().values()].every((module) => !module.training));
  const first = net.call(x);
  const second = net.call(x);
  assert.ok(first.equal(second), 'evaluation is deterministic');
  assert.equal(net.getBuffer('features.1.num_batches_tracked').item(), 0, 'eval does not count batches');
  net.train();
  assert.ok(net.getSubmodule('head.0').training);
  net.call(x);
  assert.equal(net.getBuffer('features.1.num_batches_tracked').item(), 1);
  assert.ok(!net.getBuffer('features.1.running_mean').equal(torch.zeros([4])), 'training moved the running mean');
});

test('a state dict survives a safetensors file: loading restores outputs in place, keeping tensor identity', (t) => {
  const source = makeNet(2);
  source.call(torch.randn([4, 3, 6, 6])); // moves the running statistics
  source.eval();
  const dir = temporaryDir('module');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'net.safetensors');
  torch.safetensors.saveFile(source.stateDict(), file);

  const target = makeNet(3).eval();
  const x = torch.randn([2, 3, 6, 6]);
  assert.ok(!target.call(x).allclose(source.call(x)), 'different seeds give different nets');
  const weightBefore = target.getParameter('head.1.weight');
  const result = target.loadStateDict(torch.safetensors.loadFile(file).tensors);
  assert.deepEqual(result, { missingKeys: [], unexpectedKeys: [] });
  assert.ok(target.call(x).equal(source.call(x)));
  assert.equal(target.getParameter('head.1.weight'), weightBefore, 'copied in place');
  assert.ok(weightBefore.requiresGrad && weightBefore.isLeaf);
  assert.equal(target.getBuffer('features.1.num_batches_tracked').item(), 1);

  // stateDict() hands out handles: disposing them leaves the module whole.
  for (const tensor of Object.values(target.stateDict())) tensor.dispose();
  assert.ok(target.call(x).equal(source.call(x)));
});

test('strict loading names missing and unexpected keys and shape mismatches, and copies nothing', () => {
  const net = makeNet(4);
  const state = makeNet(5).stateDict();
  const before = net.getParameter('scale').clone();
  const { 'head.1.bias': _dropped, ...withoutBias } = state;
  assert.throws(
    () => net.loadStateDict({ ...withoutBias, extra: torch.zeros([1]) }),
    /loadStateDict\(Net\): missing keys: head\.1\.bias; unexpected keys: extra/,
  );
  assert.throws(
    () => net.loadStateDict({ ...state, 'head.1.weight': torch.zeros([3, 4]) }),
    /shape mismatch for head\.1\.weight: checkpoint has shape \[3, 4\], module has \[2, 4\]/,
  );
  assert.throws(
    () => net.loadStateDict({ ...withoutBias, 'head.1.weight': torch.zeros([3, 4]) }, { strict: false }),
    /shape mismatch/,
    'shapes are checked even when not strict',
  );
  assert.ok(net.getParameter('scale').equal(before), 'a failed load copies nothing');

  const loose = net.loadStateDict(new Map([...Object.entries(withoutBias), ['extra', torch.zeros([1])]]), { strict: false });
  assert.deepEqual(loose, { missingKeys: ['head.1.bias'], unexpectedKeys: ['extra'] });
  assert.ok(net.getParameter('head.1.weight').equal(state['head.1.weight']!));
});

test('to(dtype) casts floating parameters, gradients and buffers (not the batch counter) in place', () => {
  const net = makeNet(6);
  const weight = net.getParameter('features.0.weight');
  const expected = weight.to('float64');
  net
    .call(torch.randn([2, 3, 4, 4]))
    .sum()
    .backward();
  net.to('float64');
  assert.equal(net.getParameter('features.0.weight'), weight, 'the same tensor, its data swapped');
  assert.equal(weight.dtype, 'float64');
  assert.ok(weight.equal(expected));
  assert.ok(weight.requiresGrad && weight.isLeaf);
  assert.equal(weight.grad?.dtype, 'float64', 'gradients move with their parameters');
  assert.equal(net.getBuffer('features.1.running_mean').dtype, 'float64');
  assert.equal(net.getBuffer('features.1.num_batches_tracked').dtype, 'int64');
  net.zeroGrad();
  net
    .call(torch.randn([2, 3, 4, 4], { dtype: 'float64' }))
    .sum()
    .backward();
  assert.equal(net.scale.grad?.dtype, 'float64', 'a parameter held in a field trains on');
  net.to('float32');
  assert.equal(net.scale.dtype, 'float32');
});

test('zeroGrad drops gradients; requiresGrad_ freezes; weightDecayGroups splits weights from the rest', () => {
  const net = makeNet(7);
  net
    .call(torch.randn([2, 3, 4, 4]))
    .sum()
    .backward();
  assert.ok(net.parameters().every((tensor) => tensor.grad !== null));
  net.zeroGrad();
  assert.ok(net.parameters().every((tensor) => tensor.grad === null));

  const [decayed, undecayed] = nn.weightDecayGroups(net, 5e-4);
  assert.deepEqual(decayed.params, [net.getParameter('features.0.weight'), net.getParameter('head.1.weight')]);
  assert.equal(decayed.weightDecay, 5e-4);
  assert.equal(undecayed.params.length, 4);
  assert.equal(undecayed.weightDecay, 0);

  net.features.requiresGrad_(false);
  assert.equal(net.numParameters({ trainableOnly: true }), 1 + 2 * 4 + 2);
  assert.equal(nn.weightDecayGroups(net, 1)[0].params.length, 1, 'frozen parameters are left out');
});

test('call() keeps only the output: intermediates are freed, in training and without gradients', () => {
  const net = makeNet(8);
  const x = torch.randn([2, 3, 5, 5]);
  for (const run of [() => net.call(x), () => torch.noGrad(() => net.call(x))]) {
    const before = torch.memory().liveTensors;
    const y = run();
    assert.equal(torch.memory().liveTensors, before + 1);
    y.dispose();
  }
});

test('modules may take several inputs and return structures: call() scopes those too', () => {
  class Pair extends nn.Module<[Tensor, Tensor], { sum: Tensor; product: Tensor }> {
    forward(a: Tensor, b: Tensor): { sum: Tensor; product: Tensor } {
      const doubled = a.mul(2);
      return { sum: doubled.add(b), product: doubled.mul(b) };
    }
  }
  const before = torch.memory().liveTensors;
  const { sum, product } = new Pair().call(torch.ones([2]), torch.full([2], 3));
  assert.deepEqual(sum.toArray(), [5, 5]);
  assert.deepEqual(product.toArray(), [6, 6]);
  assert.equal(torch.memory().liveTensors, before + 4, 'two inputs and two outputs');
});

test('toChannelsLast stores conv weights NHWC in place and leaves the outputs unchanged', () => {
  torch.manualSeed(3);
  const model = new nn.Sequential(new nn.Conv2d(3, 8, 3, { padding: 1 }), new nn.BatchNorm2d(8), new nn.ReLU(), new nn.Conv2d(8, 4, 3));
  const input = torch.randn([2, 3, 9, 9]);
  const before = model.call(input);
  const weight = model.getParameter('0.weight');
  model.toChannelsLast();
  assert.equal(model.getParameter('0.weight'), weight, 'the parameter keeps its identity');
  assert.ok(weight.isContiguous('channelsLast') && !weight.isContiguous());
  assert.ok(model.getParameter('1.weight').isContiguous(), '1-D tensors are left alone');
  const after = model.call(input.contiguous('channelsLast'));
  assert.ok(after.sub(before).abs().max().item() < 1e-5);
});
