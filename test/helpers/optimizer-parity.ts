// The protocol of the optimizer parity tests (SGD, AdamW): four parameters, four steps of seeded gradients with
// one parameter lacking a gradient at step 1, the lr scaled between steps; torch.optim's class runs the same
// steps in test/python/optimizer_parity.py.
import assert from 'node:assert/strict';
import path from 'node:path';

import { torch } from '../../src/index.js';
import type { CapturableOptimizer, Optimizer, OptimizerState } from '../../src/optim/index.js';
import { runPython, temporaryDir } from './python.js';

type Tensor = torch.Tensor;

export const SHAPES = [[5, 3], [3], [2, 2, 3, 3], [7]];
export const STEPS = 4;
export const LR_SCALES = [1, 1, 0.5, 0.1];
/** The parameter that has no gradient at step 1 (PyTorch skips it, and starts its state later). */
export const SKIPPED = { step: 1, param: 3 };

export function makeInputs(): { initial: Tensor[]; grads: (Tensor | null)[][] } {
  torch.manualSeed(4);
  const initial = SHAPES.map((shape) => torch.randn(shape));
  const grads = Array.from({ length: STEPS }, (_, step) =>
    SHAPES.map((shape, i) => (step === SKIPPED.step && i === SKIPPED.param ? null : torch.randn(shape))),
  );
  return { initial, grads };
}

export function freshParams(initial: readonly Tensor[]): Tensor[] {
  return initial.map((tensor) => tensor.clone().requiresGrad_(true));
}

/**
 * step() against prepareStep() + stepFromTensors() (the lr, and AdamW's bias corrections, read from tensors: what
 * train.capture replays) over the protocol with every gradient present: the parameters must be bitwise equal after
 * every step.
 */
export function assertStepsFromTensorsBitwise(
  make: (params: Tensor[]) => CapturableOptimizer,
  inputs: { initial: readonly Tensor[]; grads: readonly (Tensor | null)[][] },
  baseLrs: readonly number[],
): void {
  const grads = inputs.grads.map((row) => row.map((grad, i) => grad ?? inputs.grads[0]![i]!));
  const sides = [false, true].map((fromTensors) => {
    const params = freshParams(inputs.initial);
    return { params, optimizer: make(params), fromTensors };
  });
  for (let step = 0; step < STEPS; step++) {
    for (const { params, optimizer, fromTensors } of sides) {
      optimizer.paramGroups.forEach((g, i) => {
        g.lr = baseLrs[i]! * LR_SCALES[step]!;
      });
      params.forEach((param, i) => {
        param.grad = grads[step]![i]!;
      });
      if (fromTensors) {
        optimizer.prepareStep();
        optimizer.stepFromTensors();
      } else {
        optimizer.step();
      }
    }
    const [eager, split] = sides;
    eager!.params.forEach((param, i) => assert.ok(param.equal(split!.params[i]!), `step ${step}, parameter ${i}: not bitwise equal`));
  }
}

/** Runs steps [from, to) of the protocol: each group's lr = its base lr x LR_SCALES[step]. */
export function runSteps(
  optimizer: Optimizer,
  params: readonly Tensor[],
  grads: readonly (Tensor | null)[][],
  baseLrs: readonly number[],
  from: number,
  to: number,
  afterStep: (step: number) => void = () => {},
): void {
  for (let step = from; step < to; step++) {
    optimizer.paramGroups.forEach((g, i) => {
      g.lr = baseLrs[i]! * LR_SCALES[step]!;
    });
    params.forEach((param, i) => {
      param.grad = grads[step]![i] ?? null;
    });
    optimizer.step();
    afterStep(step);
  }
}

/**
 * torch.optim.<optimizer> over the protocol for every variant (groups in PyTorch's keywords, `params` as indices):
 * '<variant>.<step>.<i>' parameters after each step, '<variant>.state.<i>.<name>' final state tensors.
 */
export function pythonReference(
  optimizer: 'SGD' | 'AdamW',
  variants: readonly { name: string; groups: readonly object[] }[],
  inputs: { initial: readonly Tensor[]; grads: readonly (Tensor | null)[][] },
): Record<string, Tensor> {
  const dir = temporaryDir(optimizer.toLowerCase());
  const tensors: Record<string, Tensor> = {};
  inputs.initial.forEach((tensor, i) => {
    tensors[`param.${i}`] = tensor;
  });
  inputs.grads.forEach((stepGrads, step) =>
    stepGrads.forEach((grad, i) => {
      if (grad !== null) tensors[`grad.${step}.${i}`] = grad;
    }),
  );
  torch.safetensors.saveFile(tensors, path.join(dir, 'in.safetensors'));
  const config = { optimizer, steps: STEPS, lrScales: LR_SCALES, variants };
  runPython('optimizer_parity.py', [path.join(dir, 'in.safetensors'), path.join(dir, 'out.safetensors'), JSON.stringify(config)]);
  return torch.safetensors.loadFile(path.join(dir, 'out.safetensors')).tensors;
}

/**
 * Steps 0-1, the state dict through a safetensors file and JSON into a second optimizer from `make` (made with
 * other hyper-parameters: `perturbed`, which the state must replace), steps 2-3: the parameters at the end, the
 * state saved and the optimizer that resumed.
 */
export function resumeThroughFile(
  make: (params: Tensor[], perturbed: boolean) => Optimizer,
  inputs: { initial: readonly Tensor[]; grads: readonly (Tensor | null)[][] },
  baseLrs: readonly number[],
): { params: Tensor[]; saved: OptimizerState; resumed: Optimizer } {
  const params = freshParams(inputs.initial);
  const first = make(params, false);
  runSteps(first, params, inputs.grads, baseLrs, 0, 2);
  const saved = first.stateDict();
  const file = path.join(temporaryDir('optimizer-state'), 'optimizer.safetensors');
  torch.safetensors.saveFile(saved.tensors, file, { groups: JSON.stringify(saved.groups) });
  const loaded = torch.safetensors.loadFile(file);
  const resumed = make(params, true);
  resumed.loadStateDict({ tensors: loaded.tensors, groups: JSON.parse(loaded.metadata.groups!) as object[] });
  runSteps(resumed, params, inputs.grads, baseLrs, 2, STEPS);
  return { params, saved, resumed };
}
