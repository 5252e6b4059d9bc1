// AdamW (Loshchilov & Hutter), torch.optim.AdamW's rule with amsgrad false, through ATen's _foreach_ operators as
// its multi-tensor form (elementwise the same operations as its single-tensor form):
//   step += 1
//   param *= 1 - lr * weightDecay                        (decoupled weight decay)
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   param += -(lr / (1 - beta1^step)) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
// The bias corrections are computed in float64 in JavaScript, as PyTorch computes them in Python floats. Parameters
// without a gradient are skipped and keep their step count, as in PyTorch.
// prepareStep() + stepFromTensors() is the same step for train.capture (CapturableOptimizer): the host advances the
// step counts and writes 1 - lr weightDecay, -lr / (1 - beta1^step) and sqrt(1 - beta2^step) into tensors that the
// device's part reads (the moments times the step size first, then addcdiv by 1: the rounding of the Scalar form's
// addcdiv on the CPU, bitwise: test/optim/adamw.test.ts).
import * as torch from '../torch/index.js';
import {
  type CapturableOptimizer,
  DeviceScalar,
  type OptimizerState,
  buildParamGroups,
  checkedState,
  foreach,
  foreachByTensor,
  restoredLike,
  stateTensors,
} from './optimizer.js';

type Tensor = torch.Tensor;

export interface AdamWHyperParameters {
  lr: number;
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
}

export interface AdamWGroupInput extends Partial<AdamWHyperParameters> {
  params: readonly Tensor[];
}

export interface AdamWGroup extends AdamWHyperParameters {
  readonly params: readonly Tensor[];
}

export interface SavedAdamWGroup extends AdamWHyperParameters {
  params: number[];
}

/** 'state.<index>.exp_avg', '.exp_avg_sq' and '.step' (a float32 scalar, as PyTorch's), and the groups. */
export type AdamWState = OptimizerState<SavedAdamWGroup>;

interface Moments {
  expAvg: Tensor;
  expAvgSq: Tensor;
  step: number;
}

const STATE_NAMES = ['exp_avg', 'exp_avg_sq', 'step'] as const;

/** A group's per-step numbers as tensors (prepareStep), and the parameters that step was prepared for. */
interface PreparedStep {
  params: Tensor[];
  decay: DeviceScalar;
  stepSize: DeviceScalar;
  biasCorrection2Root: DeviceScalar;
}

function checkHyperParameters(group: AdamWHyperParameters, where: string): void {
  const fail = (why: string): never => {
    throw new Error(`AdamW ${where}: ${why}`);
  };
  for (const key of ['lr', 'eps', 'weightDecay'] as const) {
    if (!(Number.isFinite(group[key]) && group[key] >= 0)) fail(`${key} must be a finite number >= 0, got ${group[key]}`);
  }
  const betas = group.betas as unknown;
  if (!(Array.isArray(betas) && betas.length === 2 && betas.every((beta) => typeof beta === 'number' && beta >= 0 && beta < 1))) {
    fail(`betas must be two numbers in [0, 1), got ${JSON.stringify(betas)}`);
  }
}

export class AdamW implements CapturableOptimizer {
  readonly capturable = true;
  readonly paramGroups: AdamWGroup[];
  readonly #moments = new Map<Tensor, Moments>();
  readonly #prepared = new Map<AdamWGroup, PreparedStep>();

  /** defaults: lr (required), betas ([0.9, 0.999]), eps (1e-8) and weightDecay (1e-2), torch.optim.AdamW's. */
  constructor(params: readonly Tensor[] | readonly AdamWGroupInput[], defaults: Partial<AdamWHyperParameters> & { lr: number }) {
    this.paramGroups = buildParamGroups<AdamWHyperParameters>(
      'AdamW',
      params,
      (input) => ({
        lr: input.lr ?? defaults.lr,
        betas: [...(input.betas ?? defaults.betas ?? [0.9, 0.999])] as [number, number],
        eps: input.eps ?? defaults.eps ?? 1e-8,
        weightDecay: input.weightDecay ?? defaults.weightDecay ?? 1e-2,
      }),
      checkHyperParameters,
    );
  }

  step(): void {
    this.#update(false);
  }

  /**
   * The host's part of the next step: every parameter that requires a gradient advances its step count (its
   * moments made here, outside any capture, on its first step), and the group's numbers are written into tensors.
   * The group's parameters must share one step count.
   */
  prepareStep(): void {
    for (const group of this.paramGroups) {
      checkHyperParameters(group, 'step');
      const params = group.params.filter((param) => param.requiresGrad);
      if (params.length === 0) continue;
      const steps = new Set(params.map((param) => this.#advance(param).step));
      if (steps.size !== 1) throw new Error('AdamW.prepareStep: the parameters of a group have different step counts');
      const [step] = steps;
      const { lr, weightDecay } = group;
      const [beta1, beta2] = group.betas;
      let prepared = this.#prepared.get(group);
      if (prepared === undefined) {
        prepared = { params, decay: new DeviceScalar(), stepSize: new DeviceScalar(), biasCorrection2Root: new DeviceScalar() };
        this.#prepared.set(group, prepared);
      }
      prepared.params = params;
      prepared.decay.set(1 - lr * weightDecay, params[0]!);
      prepared.stepSize.set((lr / (1 - beta1 ** step!)) * -1, params[0]!);
      prepared.biasCorrection2Root.set(Math.sqrt(1 - beta2 ** step!), params[0]!);
    }
  }

  /** step() with the numbers prepareStep() wrote: every parameter it advanced must have a gradient, and only those. */
  stepFromTensors(): void {
    this.#update(true);
  }

  #update(fromTensors: boolean): void {
    torch.noGrad(() =>
      torch.scope(() => {
        for (const group of this.paramGroups) this.#updateGroup(group, fromTensors);
      }),
    );
  }

  /** The parameter's moments (zeros on its first step) with its step count advanced. */
  #advance(param: Tensor): Moments {
    let state = this.#moments.get(param);
    if (state === undefined) {
      state = { expAvg: torch.keep(torch.zerosLike(param)), expAvgSq: torch.keep(torch.zerosLike(param)), step: 0 };
      this.#moments.set(param, state);
    }
    state.step += 1;
    return state;
  }

  #updateGroup(group: AdamWGroup, fromTensors: boolean): void {
    checkHyperParameters(group, 'step');
    const params = group.params.filter((param) => param.grad !== null);
    const prepared = fromTensors ? this.#prepared.get(group) : undefined;
    const advanced = prepared?.params ?? [];
    if (fromTensors && (advanced.length !== params.length || advanced.some((param, i) => param !== params[i]))) {
      throw new Error('AdamW.stepFromTensors: the parameters with gradients are not those prepareStep() advanced');
    }
    if (params.length === 0) return;
    const moments = params.map((param) => (prepared === undefined ? this.#advance(param) : this.#moments.get(param)!));
    const grads = params.map((param) => param.grad!);
    const expAvgs = moments.map((state) => state.expAvg);
    const expAvgSqs = moments.map((state) => state.expAvgSq);
    const { lr, eps, weightDecay } = group;
    const [beta1, beta2] = group.betas;
    // x (1 - 0) is x exactly: no decay is no call.
    if (weightDecay !== 0) {
      if (prepared === undefined) torch.callOp('_foreach_mul_.Scalar', params, 1 - lr * weightDecay);
      else foreachByTensor('mul', params, prepared.decay.tensor, true);
    }
    torch.callOp('_foreach_mul_.Scalar', expAvgs, beta1);
    torch.callOp('_foreach_add_.List', expAvgs, grads, 1 - beta1);
    torch.callOp('_foreach_mul_.Scalar', expAvgSqs, beta2);
    torch.callOp('_foreach_addcmul_.Scalar', expAvgSqs, grads, grads, 1 - beta2);
    // sqrt(v) / sqrt(1 - beta2^step) + eps
    const denominatorsOf = (squares: Tensor[], divide: (roots: Tensor[]) => void): Tensor[] => {
      const roots = foreach('_foreach_sqrt', squares);
      divide(roots);
      torch.callOp('_foreach_add_.Scalar', roots, eps);
      return roots;
    };
    if (prepared !== undefined) {
      const denominators = denominatorsOf(expAvgSqs, (roots) => foreachByTensor('div', roots, prepared.biasCorrection2Root.tensor, true));
      const scaled = foreachByTensor('mul', expAvgs, prepared.stepSize.tensor, false);
      torch.callOp('_foreach_addcdiv_.Scalar', params, scaled, denominators, 1);
      return;
    }
    // The binding has no Scalar[] arguments: parameters are updated together per step count (one count in
    // practice), each with PyTorch's per-parameter scalars.
    const byStep = new Map<number, number[]>();
    moments.forEach((state, i) => byStep.set(state.step, [...(byStep.get(state.step) ?? []), i]));
    for (const [step, indices] of byStep) {
      const pick = <T>(list: readonly T[]): T[] => indices.map((i) => list[i]!);
      const stepSize = (lr / (1 - beta1 ** step)) * -1;
      const denominators = denominatorsOf(pick(expAvgSqs), (roots) =>
        torch.callOp('_foreach_div_.Scalar', roots, Math.sqrt(1 - beta2 ** step)),
      );
      torch.callOp('_foreach_addcdiv_.Scalar', pick(params), pick(expAvgs), denominators, stepSize);
    }
  }

  zeroGrad(): void {
    for (const group of this.paramGroups) torch.zeroGrad(group.params);
  }

  /** The moments (detached handles on the optimizer's own), step counts as float32 scalars, and the groups. */
  stateDict(): AdamWState {
    const { tensors, indices } = stateTensors(this.paramGroups, (param) => {
      const state = this.#moments.get(param);
      if (state === undefined) return undefined;
      return { exp_avg: state.expAvg.detach(), exp_avg_sq: state.expAvgSq.detach(), step: torch.tensor(state.step, { dtype: 'float32' }) };
    });
    const groups = this.paramGroups.map(({ lr, betas, eps, weightDecay }, g) => ({
      lr,
      betas: [...betas] as [number, number],
      eps,
      weightDecay,
      params: indices[g]!,
    }));
    return { tensors, groups };
  }

  loadStateDict(state: AdamWState): void {
    const { saved, perParam } = checkedState<(typeof STATE_NAMES)[number], SavedAdamWGroup>(
      'AdamW',
      state,
      this.paramGroups,
      STATE_NAMES,
      checkHyperParameters,
      ['step'],
    );
    const restored = new Map<Tensor, Moments>();
    for (const [param, tensors] of perParam) {
      const { exp_avg, exp_avg_sq, step } = tensors;
      if (exp_avg === undefined || exp_avg_sq === undefined || step === undefined) {
        throw new Error('AdamW.loadStateDict: a parameter has some of exp_avg, exp_avg_sq and step but not all three');
      }
      const count = step.item();
      if (!(Number.isInteger(count) && count >= 1))
        throw new Error(`AdamW.loadStateDict: a step count must be an integer >= 1, got ${count}`);
      restored.set(param, { expAvg: restoredLike(exp_avg, param), expAvgSq: restoredLike(exp_avg_sq, param), step: count });
    }
    this.paramGroups.forEach((group, g) => {
      const { lr, betas, eps, weightDecay } = saved[g]!;
      Object.assign(group, { lr, betas: [...betas], eps, weightDecay });
    });
    for (const old of this.#moments.values()) {
      old.expAvg.dispose();
      old.expAvgSq.dispose();
    }
    this.#moments.clear();
    for (const [param, moments] of restored) this.#moments.set(param, moments);
  }
}
