// AdamW (Loshchilov & Hutter), torch.optim.AdamW's rule with amsgrad false, through ATen's _foreach_ operators as
// its multi-tensor form (elementwise the same operations as its single-tensor form):
//   step += 1
//   param *= 1 - lr * weightDecay                        (decoupled weight decay)
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   param += -(lr / (1 - beta1^step)) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
// The bias corrections are computed in float64 in JavaScript, as PyTorch computes them in Python floats. Parameters
// without a gradient are skipped and keep their step count, as in PyTorch.
import * as torch from '../torch/index.js';
import { type Optimizer, type OptimizerState, buildParamGroups, checkedState, foreach, restoredLike, stateTensors } from './optimizer.js';

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

export class AdamW implements Optimizer {
  readonly paramGroups: AdamWGroup[];
  readonly #moments = new Map<Tensor, Moments>();

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
    torch.noGrad(() =>
      torch.scope(() => {
        for (const group of this.paramGroups) this.#updateGroup(group);
      }),
    );
  }

  #updateGroup(group: AdamWGroup): void {
    checkHyperParameters(group, 'step');
    const params = group.params.filter((param) => param.grad !== null);
    if (params.length === 0) return;
    const moments = params.map((param) => {
      let state = this.#moments.get(param);
      if (state === undefined) {
        state = { expAvg: torch.keep(torch.zerosLike(param)), expAvgSq: torch.keep(torch.zerosLike(param)), step: 0 };
        this.#moments.set(param, state);
      }
      state.step += 1;
      return state;
    });
    const grads = params.map((param) => param.grad!);
    const expAvgs = moments.map((state) => state.expAvg);
    const expAvgSqs = moments.map((state) => state.expAvgSq);
    const { lr, eps, weightDecay } = group;
    const [beta1, beta2] = group.betas;
    // x (1 - 0) is x exactly: no decay is no call.
    if (weightDecay !== 0) torch.callOp('_foreach_mul_.Scalar', params, 1 - lr * weightDecay);
    torch.callOp('_foreach_mul_.Scalar', expAvgs, beta1);
    torch.callOp('_foreach_add_.List', expAvgs, grads, 1 - beta1);
    torch.callOp('_foreach_mul_.Scalar', expAvgSqs, beta2);
    torch.callOp('_foreach_addcmul_.Scalar', expAvgSqs, grads, grads, 1 - beta2);
    // The binding has no Scalar[] arguments: parameters are updated together per step count (one count in
    // practice), each with PyTorch's per-parameter scalars.
    const byStep = new Map<number, number[]>();
    moments.forEach((state, i) => byStep.set(state.step, [...(byStep.get(state.step) ?? []), i]));
    for (const [step, indices] of byStep) {
      const pick = <T>(list: readonly T[]): T[] => indices.map((i) => list[i]!);
      const stepSize = (lr / (1 - beta1 ** step)) * -1;
      const denominators = foreach('_foreach_sqrt', pick(expAvgSqs));
      torch.callOp('_foreach_div_.Scalar', denominators, Math.sqrt(1 - beta2 ** step));
      torch.callOp('_foreach_add_.Scalar', denominators, eps);
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
