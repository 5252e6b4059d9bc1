// Parity with Python PyTorch: a small conv net's forward, loss, gradients and batch-norm running
// statistics through scatter equal those of python3-torch on the same inputs and weights.
import path from 'node:path';
import { test } from 'node:test';

import { torch } from '../../src/index.js';
import { assertClose } from '../helpers/compare.js';
import { pythonTorchMissing, runPython, temporaryDir } from '../helpers/python.js';

type Params = Record<string, torch.Tensor>;

function makeParams(): Params {
  torch.manualSeed(7);
  const p: Params = {
    'conv1.weight': torch.randn([8, 3, 3, 3]).mul(0.3),
    'bn1.weight': torch.rand([8]).add(0.5),
    'bn1.bias': torch.randn([8]).mul(0.1),
    'bn1.running_mean': torch.zeros([8]),
    'bn1.running_var': torch.ones([8]),
    'conv2.weight': torch.randn([16, 4, 3, 3]).mul(0.2),
    'bn2.weight': torch.rand([16]).add(0.5),
    'bn2.bias': torch.randn([16]).mul(0.1),
    'bn2.running_mean': torch.zeros([16]),
    'bn2.running_var': torch.ones([16]),
    'fc.weight': torch.randn([10, 16]).mul(0.3),
    'fc.bias': torch.randn([10]).mul(0.1),
    class_weights: torch.rand([10]).add(0.5),
  };
  return p;
}

function forward(p: Params, x: torch.Tensor, target: torch.Tensor): { logits: torch.Tensor; loss: torch.Tensor } {
  let h = torch.conv2d(x, p['conv1.weight']!, null, { padding: 1 });
  h = torch.batchNorm(h, p['bn1.running_mean']!, p['bn1.running_var']!, { weight: p['bn1.weight']!, bias: p['bn1.bias']!, training: true });
  h = torch.maxPool2d(torch.relu(h), 2);
  h = torch.conv2d(h, p['conv2.weight']!, null, { stride: 2, padding: 1, groups: 2 });
  h = torch.batchNorm(h, p['bn2.running_mean']!, p['bn2.running_var']!, { weight: p['bn2.weight']!, bias: p['bn2.bias']!, training: true });
  h = torch.nn.functional.adaptiveAvgPool2d(torch.nn.functional.gelu(h), 1).flatten(1);
  const logits = torch.nn.functional.linear(h, p['fc.weight']!, p['fc.bias']!);
  const loss = torch.nn.functional.crossEntropy(logits, target, { weight: p.class_weights!, labelSmoothing: 0.1 });
  return { logits, loss };
}

test('a conv net matches Python PyTorch: forward, loss, gradients, running statistics (1e-5 relative)', (t) => {
  const missing = pythonTorchMissing();
  if (missing) return t.skip(missing);
  const dir = temporaryDir('parity');
  const params = makeParams();
  const x = torch.randn([6, 3, 12, 12]);
  const target = torch.tensor([0, 3, 9, 1, 3, 7], { dtype: 'int64' });
  torch.safetensors.saveFile({ ...params, input: x, target }, path.join(dir, 'in.safetensors'));

  const trainable = Object.keys(params).filter((name) => !name.includes('running') && name !== 'class_weights');
  for (const name of trainable) params[name]!.requiresGrad_(true);
  const { logits, loss } = forward(params, x, target);
  loss.backward();

  runPython('convnet_parity.py', [path.join(dir, 'in.safetensors'), path.join(dir, 'out.safetensors')]);
  const reference = torch.safetensors.loadFile(path.join(dir, 'out.safetensors')).tensors;

  const compared: [string, torch.Tensor][] = [
    ['logits', logits],
    ['loss', loss.reshape([1])],
  ];
  for (const name of trainable) compared.push([`grad.${name}`, params[name]!.grad!]);
  for (const name of ['bn1.running_mean', 'bn1.running_var', 'bn2.running_mean', 'bn2.running_var']) compared.push([name, params[name]!]);
  for (const [name, actual] of compared) {
    assertClose(actual, reference[name], 1e-5, name);
  }
});
