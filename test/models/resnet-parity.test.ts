// The ImageNet ResNets against torchvision's (test/python/torchvision_resnet.py, its code trimmed): for a
// basic-block net (ResNet-10) and a grouped-bottleneck net (ResNeXt 32x4d blocks, one per stage), the same
// seed gives the same state dict, and the same training-mode forward, gradients and evaluation forward.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { torch } from '../../src/index.js';
import { ResNet, type ResNetOptions } from '../../src/models/index.js';
import { pythonTorchMissing, runPython, temporaryDir } from '../helpers/python.js';
import { assertClose } from '../helpers/compare.js';

const TOLERANCE = 1e-4;

const MODELS: { name: string; seed: number; options: ResNetOptions }[] = [
  { name: 'resnet10', seed: 5, options: { block: 'basic', layers: [1, 1, 1, 1], numClasses: 6 } },
  { name: 'resnext_small', seed: 6, options: { block: 'bottleneck', layers: [1, 1, 1, 1], groups: 32, widthPerGroup: 4, numClasses: 6 } },
];

test("ResNet-10 and ResNeXt bottlenecks match torchvision's: seeded init, forward (train, eval), gradients", (t) => {
  const missing = pythonTorchMissing();
  if (missing) return t.skip(missing);
  // A seeded input: libtorch's default generator starts from a random seed, and with a batch of 2 some
  // inputs leave layer 4's batch norm (8 values per channel) ill-conditioned enough to amplify float32
  // rounding past the tolerance (2 of 10 unseeded runs failed); this one is 10x inside it.
  torch.manualSeed(100);
  const x = torch.randn([2, 3, 64, 64]);
  const target = torch.tensor([1, 4], { dtype: 'int64' });
  const dir = temporaryDir('resnet');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  torch.safetensors.saveFile({ input: x, target }, path.join(dir, 'in.safetensors'));
  const config = {
    models: MODELS.map(({ name, seed, options }) => ({
      name,
      seed,
      block: options.block,
      layers: options.layers,
      groups: options.groups ?? 1,
      width_per_group: options.widthPerGroup ?? 64,
      num_classes: options.numClasses,
    })),
  };
  runPython('resnet_parity.py', [path.join(dir, 'in.safetensors'), path.join(dir, 'out.safetensors'), JSON.stringify(config)]);
  const reference = torch.safetensors.loadFile(path.join(dir, 'out.safetensors')).tensors;

  for (const { name, seed, options } of MODELS) {
    torch.manualSeed(seed);
    const model = new ResNet(options);
    const initial = model.stateDict();
    const referenceInit = Object.keys(reference).filter((key) => key.startsWith(`${name}.init.`));
    assert.deepEqual(
      Object.keys(initial)
        .map((key) => `${name}.init.${key}`)
        .sort(),
      referenceInit.sort(),
      `${name}: state-dict names`,
    );
    for (const [key, tensor] of Object.entries(initial)) assertClose(tensor, reference[`${name}.init.${key}`], 0, `${name} init ${key}`);

    const logits = model.call(x);
    torch.nn.functional.crossEntropy(logits, target).backward();
    assertClose(logits, reference[`${name}.train_logits`], TOLERANCE, `${name} training-mode logits`);
    for (const [key, tensor] of model.namedParameters())
      assertClose(tensor.grad, reference[`${name}.grad.${key}`], TOLERANCE, `${name} grad ${key}`);
    model.eval();
    assertClose(
      torch.noGrad(() => model.call(x)),
      reference[`${name}.eval_logits`],
      TOLERANCE,
      `${name} evaluation-mode logits`,
    );
  }
});
