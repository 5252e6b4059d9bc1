// Layers against Python PyTorch: the same seed gives the same initial weights (PyTorch's default
// initialisations draw the same numbers in the same order), torch.nn.init's functions fill the same
// values, and the layers compute the same outputs and running statistics.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { torch } from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import { pythonTorchMissing, runPython, temporaryDir } from '../helpers/python.js';
import { assertClose } from '../helpers/compare.js';

const SEED = 11;

test('layers match PyTorch: seeded initialisation, init functions, forward, batch-norm statistics', (t) => {
  const missing = pythonTorchMissing();
  if (missing) return t.skip(missing);
  torch.manualSeed(SEED);
  const layers = {
    conv: new nn.Conv2d(4, 6, 3, { stride: 2, padding: 1 }),
    grouped: new nn.Conv2d(6, 8, [3, 1], { padding: [1, 0], groups: 2, bias: false }),
    linear: new nn.Linear(20, 7),
    cosine: new nn.CosineLinear(20, 7, { scale: 16 }),
    bn2d: new nn.BatchNorm2d(8),
    bn1d: new nn.BatchNorm1d(7, { momentum: null }),
  };
  const initial: Record<string, torch.Tensor> = {};
  for (const [name, layer] of Object.entries(layers)) {
    for (const [key, tensor] of Object.entries(layer.stateDict())) initial[`init.${name}.${key}`] = tensor.clone();
  }
  const shape = [16, 8, 3, 3];
  const fills: Record<string, torch.Tensor> = {
    'fill.kaiming_normal': nn.init.kaimingNormal_(torch.empty(shape), { mode: 'fan_out', nonlinearity: 'relu' }),
    'fill.kaiming_uniform': nn.init.kaimingUniform_(torch.empty(shape), { a: 0.2 }),
    'fill.xavier_uniform': nn.init.xavierUniform_(torch.empty(shape), 2),
    'fill.xavier_normal': nn.init.xavierNormal_(torch.empty(shape), 0.5),
  };

  const image = torch.randn([3, 4, 9, 7]);
  const vector = torch.randn([5, 20]);
  const dir = temporaryDir('nn-layers');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  torch.safetensors.saveFile({ image, vector }, path.join(dir, 'in.safetensors'));

  const outputs: Record<string, torch.Tensor> = {};
  const hidden = layers.grouped.call(layers.conv.call(image));
  outputs.conv = hidden;
  outputs['bn2d.train1'] = layers.bn2d.call(hidden);
  outputs['bn2d.train2'] = layers.bn2d.call(hidden.mul(2).add(1));
  layers.bn2d.eval();
  outputs['bn2d.eval'] = layers.bn2d.call(hidden);
  const projected = layers.linear.call(vector);
  outputs.linear = projected;
  outputs.cosine = layers.cosine.call(vector);
  outputs['bn1d.train1'] = layers.bn1d.call(projected);
  outputs['bn1d.train2'] = layers.bn1d.call(projected.sub(3));
  layers.bn1d.eval();
  outputs['bn1d.eval'] = layers.bn1d.call(projected);
  for (const name of ['bn2d', 'bn1d'] as const) {
    for (const [key, tensor] of Object.entries(layers[name].stateDict())) outputs[`after.${name}.${key}`] = tensor;
  }

  runPython('nn_layers_parity.py', [path.join(dir, 'in.safetensors'), path.join(dir, 'out.safetensors'), String(SEED)]);
  const reference = torch.safetensors.loadFile(path.join(dir, 'out.safetensors')).tensors;
  for (const [name, tensor] of Object.entries({ ...initial, ...fills })) assertClose(tensor, reference[name], 0, name);
  for (const [name, tensor] of Object.entries(outputs)) assertClose(tensor, reference[name], 1e-5, name);
});
