// SAM through the trainer's optimizer step (train/step.ts optimizerStep: two passes, buffers kept from the first)
// against davda54/sam's published SAM in test/python/sam_parity.py: a tiny model with batch norm, 3 steps on the
// same batches, SAM over SGD and ASAM over AdamW; and SAM's own guards.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import { nn, torch } from '../../src/index.js';
import { AdamW, type Optimizer, SAM, SGD } from '../../src/optim/index.js';
import { optimizerStep } from '../../src/train/step.js';
import { assertClose } from '../helpers/compare.js';
import { pythonTorchMissing, runPython, temporaryDir } from '../helpers/python.js';

const STEPS = 3;

interface Variant {
  name: string;
  base: 'SGD' | 'AdamW';
  kwargs: { lr: number; momentum?: number; weight_decay: number; betas?: [number, number] };
  rho: number;
  adaptive: boolean;
}

const VARIANTS: Variant[] = [
  { name: 'sam-sgd', base: 'SGD', kwargs: { lr: 0.1, momentum: 0.9, weight_decay: 5e-4 }, rho: 0.05, adaptive: false },
  { name: 'asam-adamw', base: 'AdamW', kwargs: { lr: 0.01, weight_decay: 0.05, betas: [0.8, 0.99] }, rho: 0.5, adaptive: true },
];

function tinyModel(): nn.Sequential {
  return new nn.Sequential(new nn.Linear(6, 5, { bias: false }), new nn.BatchNorm1d(5), new nn.ReLU(), new nn.Linear(5, 3));
}

function makeSam(model: nn.Sequential, variant: Variant): SAM {
  const { lr, momentum, weight_decay: weightDecay, betas } = variant.kwargs;
  const params = model.parameters();
  const base: Optimizer =
    variant.base === 'SGD' ? new SGD(params, { lr, momentum, weightDecay }) : new AdamW(params, { lr, weightDecay, betas });
  return new SAM(base, { rho: variant.rho, adaptive: variant.adaptive });
}

test("SAM and ASAM equal davda54/sam's rule over 3 steps (to 1e-6), batch-norm statistics from the first pass only", (t) => {
  const missing = pythonTorchMissing();
  if (missing) return t.skip(missing);
  torch.manualSeed(11);
  const initial = tinyModel().stateDict();
  const batches = Array.from({ length: STEPS }, () => ({ x: torch.randn([8, 6]), y: torch.randint(0, 3, [8]) }));
  const inputs: Record<string, torch.Tensor> = {};
  for (const [name, tensor] of Object.entries(initial)) inputs[`model.${name}`] = tensor;
  batches.forEach(({ x, y }, step) => Object.assign(inputs, { [`x.${step}`]: x, [`y.${step}`]: y }));
  const dir = temporaryDir('sam');
  torch.safetensors.saveFile(inputs, path.join(dir, 'in.safetensors'));
  runPython('sam_parity.py', [
    path.join(dir, 'in.safetensors'),
    path.join(dir, 'out.safetensors'),
    JSON.stringify({ steps: STEPS, variants: VARIANTS }),
  ]);
  const reference = torch.safetensors.loadFile(path.join(dir, 'out.safetensors')).tensors;

  for (const variant of VARIANTS) {
    const model = tinyModel();
    model.loadStateDict(initial, { strict: true });
    model.train();
    const sam = makeSam(model, variant);
    batches.forEach(({ x, y }, step) => {
      const passes: boolean[] = [];
      const loss = optimizerStep(sam, model, (second) => {
        passes.push(second);
        const value = torch.nn.functional.crossEntropy(model.call(x), y);
        value.backward();
        return value.item();
      });
      assert.deepEqual(passes, [false, true], 'two passes, the second at the perturbed weights');
      assert.ok(Number.isFinite(loss));
      for (const [name, tensor] of Object.entries(model.stateDict())) {
        const expected = reference[`${variant.name}.${step}.${name}`];
        // davda54's example zeroes the momentum of the second pass, which still counts it: 2 per step there.
        if (name.endsWith('num_batches_tracked'))
          assert.equal(tensor.item(), step + 1, `${variant.name} step ${step}: ${name}, first passes only`);
        else assertClose(tensor, expected, 1e-6, `${variant.name} step ${step} ${name}`);
      }
    });
  }
});

test('a plain optimizer takes one pass per step; SAM refuses steps out of order', () => {
  const w = torch.ones([3], { requiresGrad: true });
  const pass = (): number => {
    const loss = w.square().sum();
    loss.backward();
    return loss.item();
  };
  let passes = 0;
  optimizerStep(new SGD([w], { lr: 0.1 }), new nn.Sequential(), () => {
    passes += 1;
    return pass();
  });
  assert.equal(passes, 1);
  assert.deepEqual(w.toArray(), [0.8, 0.8, 0.8].map(Math.fround));
  const sam = new SAM(new SGD([w], { lr: 0.1 }));
  assert.throws(() => sam.step(), /SAM.step: firstStep\(\) and a second backward pass come first/);
  assert.throws(() => sam.firstStep(), /no parameter has a gradient/);
  pass();
  sam.firstStep();
  assert.equal(w.grad, null, 'gradients dropped for the second pass');
  assert.throws(() => sam.firstStep(), /perturbed already/);
  assert.throws(() => new SAM(new SGD([w], { lr: 0.1 }), { rho: 0 }), /rho must be a finite number > 0, got 0/);
});

test('a non-finite loss in the second pass returns it without a step', () => {
  const w = torch.ones([2], { requiresGrad: true });
  const sam = new SAM(new SGD([w], { lr: 0.1 }));
  const loss = optimizerStep(sam, new nn.Sequential(), (second) => {
    const value = second ? w.sum().mul(Number.NaN) : w.sum();
    value.backward();
    return value.item();
  });
  assert.ok(Number.isNaN(loss));
});
