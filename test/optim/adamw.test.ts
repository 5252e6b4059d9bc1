// AdamW against torch.optim.AdamW on the same gradients, step for step (two groups with their own betas, eps and
// weight decay, a parameter without a gradient at one step so that step counts differ, the lr changed between
// steps), its state dict in PyTorch's names, resuming from it exactly, and bad hyper-parameters.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { torch } from '../../src/index.js';
import { AdamW, type AdamWGroupInput, type Optimizer, type SavedAdamWGroup } from '../../src/optim/index.js';
import { assertClose } from '../helpers/compare.js';
import {
  SHAPES,
  STEPS,
  SKIPPED,
  assertStepsFromTensorsBitwise,
  freshParams,
  makeInputs,
  pythonReference,
  resumeThroughFile,
  runSteps,
} from '../helpers/optimizer-parity.js';
import { pythonTorchMissing } from '../helpers/python.js';

type Tensor = torch.Tensor;

interface GroupSpec {
  params: number[];
  lr: number;
  betas: [number, number];
  eps: number;
  weight_decay: number;
}

const VARIANTS: { name: string; groups: GroupSpec[] }[] = [
  {
    name: 'decoupled',
    groups: [
      { params: [0, 2], lr: 1e-2, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 1e-2 },
      { params: [1, 3], lr: 3e-2, betas: [0.8, 0.99], eps: 1e-6, weight_decay: 0.05 },
    ],
  },
  {
    name: 'no-decay',
    groups: [
      { params: [0, 2], lr: 1e-3, betas: [0.5, 0.9], eps: 1e-3, weight_decay: 0 },
      { params: [1, 3], lr: 0.1, betas: [0, 0.999], eps: 1e-8, weight_decay: 0 },
    ],
  },
];

function makeOptimizer(params: Tensor[], groups: readonly GroupSpec[]): AdamW {
  const inputs: AdamWGroupInput[] = groups.map((spec) => ({
    params: spec.params.map((i) => params[i]!),
    lr: spec.lr,
    betas: spec.betas,
    eps: spec.eps,
    weightDecay: spec.weight_decay,
  }));
  return new AdamW(inputs, { lr: groups[0]!.lr });
}

test('AdamW matches torch.optim.AdamW bit for bit: decoupled decay, per-group betas and eps, a skipped parameter', (t) => {
  const missing = pythonTorchMissing();
  if (missing) return t.skip(missing);
  const inputs = makeInputs();
  const reference = pythonReference('AdamW', VARIANTS, inputs);
  // Tolerance 0: the same elementwise kernels in the same order; the bias corrections are float64 in both (a last-bit
  // difference of pow between V8 and glibc would vanish when the kernel rounds the scalar to float32).
  for (const variant of VARIANTS) {
    const params = freshParams(inputs.initial);
    const optimizer = makeOptimizer(params, variant.groups);
    runSteps(
      optimizer,
      params,
      inputs.grads,
      variant.groups.map((g) => g.lr),
      0,
      STEPS,
      (step) =>
        params.forEach((param, i) =>
          assertClose(param, reference[`${variant.name}.${step}.${i}`], 0, `${variant.name} step ${step} param ${i}`),
        ),
    );
    const { tensors } = optimizer.stateDict();
    for (let i = 0; i < SHAPES.length; i++) {
      const index = [0, 2, 1, 3].indexOf(i);
      for (const name of ['exp_avg', 'exp_avg_sq', 'step']) {
        assertClose(tensors[`state.${index}.${name}`], reference[`${variant.name}.state.${i}.${name}`], 0, `${variant.name} ${name} ${i}`);
      }
    }
    assert.equal(tensors[`state.${[0, 2, 1, 3].indexOf(SKIPPED.param)}.step`]!.item(), STEPS - 1, 'the skipped step is not counted');
  }
});

test('an AdamW state dict saved mid-run (through safetensors and JSON) continues exactly as an uninterrupted run', () => {
  const inputs = makeInputs();
  const groups = VARIANTS[0]!.groups;
  const baseLrs = groups.map((g) => g.lr);
  const straight = freshParams(inputs.initial);
  runSteps(makeOptimizer(straight, groups), straight, inputs.grads, baseLrs, 0, STEPS);
  const make = (params: Tensor[], perturbed: boolean): AdamW =>
    makeOptimizer(params, perturbed ? groups.map((g) => ({ ...g, betas: [0.1, 0.2], eps: 1 })) : groups);
  const { params, saved, resumed } = resumeThroughFile(make, inputs, baseLrs);
  assert.deepEqual(
    Object.keys(saved.tensors).sort(),
    [0, 1, 2, 3].flatMap((i) => ['exp_avg', 'exp_avg_sq', 'step'].map((name) => `state.${i}.${name}`)).sort(),
  );
  assert.deepEqual((saved.groups as SavedAdamWGroup[])[1]!.betas, [0.8, 0.99]);
  assert.deepEqual((resumed as AdamW).paramGroups[1]!.betas, [0.8, 0.99], 'hyper-parameters restored');
  params.forEach((param, i) => assert.ok(param.equal(straight[i]!), `param ${i}`));
});

test('AdamW with lr and bias corrections read from tensors (what train.capture replays) steps bitwise as step() on the CPU', () => {
  const inputs = makeInputs();
  for (const variant of VARIANTS) {
    assertStepsFromTensorsBitwise(
      (params) => makeOptimizer(params, variant.groups),
      inputs,
      variant.groups.map((g) => g.lr),
    );
  }
  // A step prepared for parameters that then lack a gradient is refused rather than taken with stale numbers.
  const a = torch.zeros([2], { requiresGrad: true });
  const optimizer = new AdamW([a], { lr: 0.1 });
  optimizer.prepareStep();
  assert.throws(() => optimizer.stepFromTensors(), /the parameters with gradients are not those prepareStep\(\) advanced/);
});

test('bad AdamW hyper-parameters and states are refused', () => {
  const a = torch.zeros([2], { requiresGrad: true });
  assert.throws(() => new AdamW([a], { lr: 0.1, betas: [0.9, 1] }), /AdamW group 0: betas must be two numbers in \[0, 1\), got \[0.9,1\]/);
  assert.throws(() => new AdamW([a], { lr: 0.1, eps: -1 }), /eps must be a finite number >= 0, got -1/);
  assert.throws(() => new AdamW([a.mul(2)], { lr: 0.1 }), /AdamW group 0: cannot optimise a tensor that is not a leaf/);
  const optimizer = new AdamW([a], { lr: 0.1 });
  a.grad = torch.ones([2]);
  optimizer.step();
  const state = optimizer.stateDict();
  assert.throws(
    () => optimizer.loadStateDict({ tensors: { 'state.0.exp_avg': state.tensors['state.0.exp_avg']! }, groups: state.groups }),
    /some of exp_avg, exp_avg_sq and step but not all three/,
  );
  assert.throws(
    () => optimizer.loadStateDict({ tensors: { ...state.tensors, 'state.0.step': torch.zeros([2]) }, groups: state.groups }),
    /'state.0.step' has shape \[2\], expected a scalar/,
  );
  assert.throws(
    () => (optimizer as Optimizer).loadStateDict({ tensors: {}, groups: [{ lr: 0.1, momentum: 0.9, params: [0] }] }),
    /AdamW state group 0: (eps|betas)/,
    'an SGD state is not an AdamW state',
  );
});
