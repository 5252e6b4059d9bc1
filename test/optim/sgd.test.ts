// SGD against torch.optim.SGD on the same gradients, step for step (momentum, nesterov, dampening, weight
// decay, two parameter groups, a parameter without a gradient at one step, the lr changed between steps),
// and its state dict: saving and loading mid-run continues exactly as an uninterrupted run.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { torch } from '../../src/index.js';
import { type ParamGroupInput, SGD, type SavedParamGroup } from '../../src/optim/index.js';
import {
  SHAPES,
  STEPS,
  assertStepsFromTensorsBitwise,
  freshParams,
  makeInputs,
  pythonReference,
  resumeThroughFile,
  runSteps,
} from '../helpers/optimizer-parity.js';
import { pythonTorchMissing } from '../helpers/python.js';
import { assertClose } from '../helpers/compare.js';

type Tensor = torch.Tensor;

interface GroupSpec {
  params: number[];
  lr: number;
  momentum: number;
  dampening: number;
  weight_decay: number;
  nesterov: boolean;
}

const group = (params: number[], lr: number, momentum: number, options: Partial<GroupSpec> = {}): GroupSpec => ({
  params,
  lr,
  momentum,
  dampening: 0,
  weight_decay: 0,
  nesterov: false,
  ...options,
});

const VARIANTS: { name: string; groups: GroupSpec[] }[] = [
  {
    name: 'nesterov',
    groups: [group([0, 2], 0.1, 0.9, { nesterov: true, weight_decay: 5e-4 }), group([1, 3], 0.05, 0.8, { nesterov: true })],
  },
  {
    name: 'dampening',
    groups: [group([0, 2], 0.1, 0.9, { dampening: 0.3, weight_decay: 1e-3 }), group([1, 3], 0.02, 0.5, { dampening: 0.1 })],
  },
  { name: 'plain', groups: [group([0, 2], 0.1, 0, { weight_decay: 1e-2 }), group([1, 3], 0.3, 0)] },
];

function makeOptimizer(params: Tensor[], groups: GroupSpec[]): SGD {
  const inputs: ParamGroupInput[] = groups.map((spec) => ({
    params: spec.params.map((i) => params[i]!),
    lr: spec.lr,
    momentum: spec.momentum,
    dampening: spec.dampening,
    weightDecay: spec.weight_decay,
    nesterov: spec.nesterov,
  }));
  return new SGD(inputs, { lr: groups[0]!.lr });
}

test('SGD matches torch.optim.SGD step for step: nesterov, dampening, weight decay, plain; two groups', (t) => {
  const missing = pythonTorchMissing();
  if (missing) return t.skip(missing);
  const { initial, grads } = makeInputs();
  const reference = pythonReference('SGD', VARIANTS, { initial, grads });

  // Tolerance 0: the same libtorch kernels in the same order give bitwise-equal parameters.
  for (const variant of VARIANTS) {
    const params = freshParams(initial);
    const optimizer = makeOptimizer(params, variant.groups);
    runSteps(
      optimizer,
      params,
      grads,
      variant.groups.map((g) => g.lr),
      0,
      STEPS,
      (step) => {
        params.forEach((param, i) =>
          assertClose(param, reference[`${variant.name}.${step}.${i}`], 0, `${variant.name} step ${step} param ${i}`),
        );
      },
    );
    const { tensors } = optimizer.stateDict();
    const hasMomentum = variant.groups[0]!.momentum !== 0;
    for (let i = 0; i < SHAPES.length; i++) {
      // Parameter indices run through the groups in order: group 0 holds params 0 and 2, group 1 params 1 and 3.
      const index = [0, 2, 1, 3].indexOf(i);
      const saved = tensors[`state.${index}.momentum_buffer`];
      if (hasMomentum) assertClose(saved, reference[`${variant.name}.state.${i}.momentum_buffer`], 0, `${variant.name} buffer ${i}`);
      else assert.equal(saved, undefined);
    }
  }
});

test('a state dict saved mid-run (through safetensors and JSON) continues exactly as an uninterrupted run', () => {
  const inputs = makeInputs();
  const groups = VARIANTS[0]!.groups;
  const baseLrs = groups.map((g) => g.lr);
  const straightParams = freshParams(inputs.initial);
  runSteps(makeOptimizer(straightParams, groups), straightParams, inputs.grads, baseLrs, 0, STEPS);

  const make = (params: Tensor[], perturbed: boolean): SGD =>
    makeOptimizer(params, perturbed ? groups.map((g) => ({ ...g, lr: 99, momentum: 0.1 })) : groups);
  const { params, saved, resumed } = resumeThroughFile(make, inputs, baseLrs);
  assert.deepEqual(
    Object.keys(saved.tensors).sort(),
    ['state.0.momentum_buffer', 'state.1.momentum_buffer', 'state.2.momentum_buffer', 'state.3.momentum_buffer'],
    'every parameter has had a gradient, so each has a buffer',
  );
  assert.deepEqual(
    (saved.groups as SavedParamGroup[]).map((g) => g.params),
    [
      [0, 1],
      [2, 3],
    ],
  );
  assert.equal((resumed as SGD).paramGroups[1]!.momentum, 0.8, 'hyper-parameters restored');
  params.forEach((param, i) => assert.ok(param.equal(straightParams[i]!), `param ${i}`));
});

test('the lr read from a tensor (prepareStep + stepFromTensors, what train.capture replays) steps bitwise as step() on the CPU', () => {
  const inputs = makeInputs();
  for (const variant of VARIANTS) {
    assertStepsFromTensorsBitwise(
      (params) => makeOptimizer(params, variant.groups),
      inputs,
      variant.groups.map((g) => g.lr),
    );
  }
});

test('stepFromTensors without prepareStep is refused', () => {
  const a = torch.zeros([2], { requiresGrad: true });
  a.grad = torch.ones([2]);
  assert.throws(() => new SGD([a], { lr: 0.1 }).stepFromTensors(), /reads its numbers from tensors that prepareStep\(\) writes first/);
});

test('bad hyper-parameters, groups and states are refused', () => {
  const a = torch.zeros([2], { requiresGrad: true });
  const b = torch.zeros([3], { requiresGrad: true });
  assert.throws(() => new SGD([a], { lr: -1 }), /lr must be a finite number >= 0, got -1/);
  assert.throws(() => new SGD([a], { lr: 0.1, nesterov: true }), /nesterov needs momentum > 0 and dampening 0/);
  assert.throws(() => new SGD([{ params: [a] }, { params: [a] }], { lr: 0.1 }), /a parameter appears more than once/);
  assert.throws(() => new SGD([a.mul(2)], { lr: 0.1 }), /not a leaf/);
  assert.throws(() => new SGD([], { lr: 0.1 }), /no parameters/);
  const optimizer = new SGD([{ params: [a] }, { params: [b], lr: 0.5 }], { lr: 0.1, momentum: 0.9 });
  assert.equal(optimizer.paramGroups[1]!.lr, 0.5);
  assert.equal(optimizer.paramGroups[1]!.momentum, 0.9, 'defaults fill what a group leaves out');
  optimizer.paramGroups[0]!.lr = Number.NaN;
  a.grad = torch.ones([2]);
  assert.throws(() => optimizer.step(), /SGD step: lr must be a finite number/);
  optimizer.paramGroups[0]!.lr = 0.1;
  const state = { tensors: { 'state.0.momentum_buffer': torch.zeros([5]) }, groups: optimizer.stateDict().groups };
  assert.throws(() => optimizer.loadStateDict(state), /'state.0.momentum_buffer' has shape \[5\], its parameter \[2\]/);
  assert.throws(
    () => optimizer.loadStateDict({ tensors: {}, groups: state.groups.slice(1) }),
    /the state has 1 parameter groups, this optimizer 2/,
  );
  assert.throws(
    () => optimizer.loadStateDict({ tensors: { 'state.7.momentum_buffer': torch.zeros([2]) }, groups: state.groups }),
    /there are only 2 parameters/,
  );
});

test('step() skips parameters without gradients, keeps no temporaries, and zeroGrad drops gradients', () => {
  const a = torch.ones([2], { requiresGrad: true });
  const b = torch.ones([2], { requiresGrad: true });
  const optimizer = new SGD([a, b], { lr: 0.5, momentum: 0.9, weightDecay: 0.1 });
  a.grad = torch.ones([2]);
  const before = torch.memory().liveTensors;
  optimizer.step();
  assert.equal(torch.memory().liveTensors, before + 1, 'only the new momentum buffer');
  assert.deepEqual(a.toArray(), [1 - 0.5 * 1.1, 1 - 0.5 * 1.1].map(Math.fround));
  assert.deepEqual(b.toArray(), [1, 1]);
  optimizer.zeroGrad();
  assert.equal(a.grad, null);
});
