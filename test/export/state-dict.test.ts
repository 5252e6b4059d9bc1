// Python interoperability: `scatter export --format state-dict` writes the model's tensors under the upstream
// names, so that LDAM-DRW's CIFAR ResNet-32 and torchvision's ResNets (test/python, their code trimmed) load them
// with strict=True and give scatter's evaluation logits.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import { torch } from '../../src/index.js';
import { type ImageClassifier, createModel } from '../../src/models/index.js';
import { BatchNorm2d } from '../../src/nn/index.js';
import { assertClose } from '../helpers/compare.js';
import { pythonTorchMissing, runPython, temporaryDir } from '../helpers/python.js';
import { exportRun, trainTinyRun, writeTinyCifar } from '../helpers/runs.js';

const work = temporaryDir('state-dict');

/** Python's logits for `images` from the state dict in `stateFile`, loaded strictly into the model `spec` names. */
function pythonLogits(stateFile: string, images: torch.Tensor, spec: Record<string, unknown>): torch.Tensor {
  const input = path.join(work, `in-${Date.now()}.safetensors`);
  const out = path.join(work, `out-${Date.now()}.safetensors`);
  torch.safetensors.saveFile({ images }, input);
  runPython('state_dict_interop.py', [stateFile, input, out, JSON.stringify(spec)]);
  return torch.safetensors.loadFile(out).tensors.logits!;
}

function evalLogits(model: ImageClassifier, images: torch.Tensor): torch.Tensor {
  model.eval();
  return torch.noGrad(() => model.call(images));
}

test("a trained ResNet-32 run exported as a state dict loads into LDAM-DRW's ResNet-32 with the same logits", async (t) => {
  const missing = pythonTorchMissing();
  if (missing) return t.skip(missing);
  for (const classifier of ['linear', 'cosine'] as const) {
    const run = await trainTinyRun(path.join(work, `run-${classifier}`), writeTinyCifar(path.join(work, classifier)), {
      model: { classifier },
    });
    const file = path.join(work, `resnet32-${classifier}.safetensors`);
    const result = exportRun(run, 'state-dict', file);
    assert.equal(result.status, 0, result.stderr);
    const exported = torch.safetensors.loadFile(file);
    assert.deepEqual(JSON.parse(exported.metadata.classNames!).length, 10);
    const model = createModel('resnet32', { numClasses: 10, classifier });
    model.loadStateDict(exported.tensors, { strict: true });
    const images = torch.randn([3, 3, 32, 32]);
    assertClose(
      pythonLogits(file, images, { kind: 'resnet32', num_classes: 10, use_norm: classifier === 'cosine' }),
      evalLogits(model, images),
      1e-4,
      classifier,
    );
  }
});

test("ResNet-50 and ResNeXt-50 state dicts load into torchvision's models with the same logits", (t) => {
  const missing = pythonTorchMissing();
  if (missing) return t.skip(missing);
  for (const [name, spec] of [
    ['resnet50', { block: 'bottleneck', layers: [3, 4, 6, 3], groups: 1, width_per_group: 64 }],
    ['resnext50_32x4d', { block: 'bottleneck', layers: [3, 4, 6, 3], groups: 32, width_per_group: 4 }],
  ] as const) {
    torch.manualSeed(3);
    const model = createModel(name, { numClasses: 5 });
    torch.noGrad(() => {
      for (const module of model.namedModules().values()) {
        if (!(module instanceof BatchNorm2d)) continue;
        module.runningMean?.copy_(torch.randn(module.runningMean.shape).mul(0.1));
        module.runningVar?.copy_(torch.rand(module.runningVar.shape).add(0.5));
      }
    });
    const file = path.join(work, `${name}.safetensors`);
    const state = model.stateDict();
    torch.safetensors.saveFile(state, file);
    const images = torch.randn([2, 3, 64, 64]);
    assertClose(pythonLogits(file, images, { kind: 'torchvision', num_classes: 5, ...spec }), evalLogits(model, images), 1e-4, name);
  }
});
