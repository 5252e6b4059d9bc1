// ResNet-32 against LDAM-DRW's, in Python PyTorch (test/python/ldam_resnet_cifar.py): the same seed gives
// the same initial weights (linear and cosine classifiers), and with the same weights the training-mode
// forward, loss, every parameter's gradient, the running statistics and the evaluation-mode forward agree.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { torch } from '../../src/index.js';
import { createModel } from '../../src/models/index.js';
import { pythonTorchMissing, runPython, temporaryDir } from '../helpers/python.js';
import { assertClose } from '../helpers/compare.js';

const SEED = 3;
const TOLERANCE = 1e-4;

test("ResNet-32 matches LDAM-DRW's in PyTorch: seeded init, forward (train, eval), gradients, statistics", (t) => {
  const missing = pythonTorchMissing();
  if (missing) return t.skip(missing);
  torch.manualSeed(SEED);
  const model = createModel('resnet32', { numClasses: 10 });
  const initial = Object.fromEntries(Object.entries(model.stateDict()).map(([name, tensor]) => [name, tensor.clone()]));
  torch.manualSeed(SEED + 1);
  const cosineInitial = createModel('resnet32', { numClasses: 10, classifier: 'cosine' }).stateDict();

  // Batch-norm affine parameters and running statistics away from 1 and 0, so that evaluation tests them.
  torch.noGrad(() => {
    for (const [name, tensor] of model.namedParameters()) if (name.includes('bn')) tensor.copy_(torch.randLike(tensor).add(0.5));
    for (const [name, tensor] of model.namedBuffers()) if (name.endsWith('running_mean')) tensor.normal_(0, 0.1);
    for (const [name, tensor] of model.namedBuffers()) if (name.endsWith('running_var')) tensor.uniform_(0.5, 1.5);
  });
  const x = torch.randn([8, 3, 32, 32]);
  const target = torch.tensor([0, 1, 2, 3, 4, 5, 6, 9], { dtype: 'int64' });
  const dir = temporaryDir('resnet32');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  torch.safetensors.saveFile({ ...model.stateDict(), input: x, target }, path.join(dir, 'in.safetensors'));

  model.train();
  const trainLogits = model.call(x);
  const loss = torch.nn.functional.crossEntropy(trainLogits, target);
  loss.backward();
  model.eval();
  const evalLogits = torch.noGrad(() => model.call(x));

  runPython('resnet32_parity.py', [path.join(dir, 'in.safetensors'), path.join(dir, 'out.safetensors'), String(SEED)]);
  const reference = torch.safetensors.loadFile(path.join(dir, 'out.safetensors')).tensors;
  const referenceNames = (prefix: string): string[] =>
    Object.keys(reference)
      .filter((name) => name.startsWith(prefix))
      .map((name) => name.slice(prefix.length))
      .sort();

  assert.deepEqual(Object.keys(initial).sort(), referenceNames('init_linear.'), 'the same state-dict names');
  assert.deepEqual(Object.keys(cosineInitial).sort(), referenceNames('init_cosine.'));
  for (const [name, tensor] of Object.entries(initial)) assertClose(tensor, reference[`init_linear.${name}`], 0, `init ${name}`);
  for (const [name, tensor] of Object.entries(cosineInitial))
    assertClose(tensor, reference[`init_cosine.${name}`], 0, `cosine init ${name}`);

  assertClose(trainLogits, reference.train_logits, TOLERANCE, 'training-mode logits');
  assertClose(loss.reshape([1]), reference.loss, TOLERANCE, 'loss');
  assert.equal(model.namedParameters().size, 95);
  for (const [name, tensor] of model.namedParameters()) assertClose(tensor.grad, reference[`grad.${name}`], TOLERANCE, `grad ${name}`);
  for (const [name, tensor] of model.namedBuffers()) assertClose(tensor, reference[`after.${name}`], TOLERANCE, name);
  assertClose(evalLogits, reference.eval_logits, TOLERANCE, 'evaluation-mode logits');
});
