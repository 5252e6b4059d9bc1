// SGD with momentum, PyTorch's torch.optim.SGD update rule exactly (its multi-tensor form, through ATen's
// _foreach_ operators: one call per step and group instead of several per parameter):
//   g = grad + weightDecay * param
//   buf = g on the first step, else momentum * buf + (1 - dampening) * g
//   g = nesterov ? g + momentum * buf : buf        (when momentum != 0)
//   param -= lr * g
// Parameters without a gradient are skipped, as in PyTorch. prepareStep() + stepFromTensors() is the same step with lr
// read from a tensor (CapturableOptimizer, for train.capture): param += g * (-lr) as addcmul, which rounds as the
// Scalar form's multiply-add does (bitwise on the CPU: test/optim/sgd.test.ts).
import * as torch from '../torch/index.js';
import {
  type CapturableOptimizer,
  DeviceScalar,
  type OptimizerState,
  buildParamGroups,
  checkedState,
  foreach,
  restoredLike,
  stateTensors,
} from './optimizer.js';

type Tensor = torch.Tensor;

export interface SgdHyperParameters {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/** A parameter group as given: its tensors, and hyper-parameters that override the optimizer's defaults. */
export interface ParamGroupInput extends Partial<SgdHyperParameters> {
  params: readonly Tensor[];
}

/** A parameter group as the optimizer holds it; set `lr` (e.g. from a schedule) between steps. */
export interface ParamGroup extends SgdHyperParameters {
  readonly params: readonly Tensor[];
}

/** What a group's state dict records: its hyper-parameters and its parameters' indices (PyTorch's). */
export interface SavedParamGroup extends SgdHyperParameters {
  params: number[];
}

/**
 * An optimizer's state: momentum buffers as tensors named 'state.<index>.momentum_buffer' (index: the
 * parameter's position across all groups, as in PyTorch), and the groups as JSON-able data.
 */
export type SgdState = OptimizerState<SavedParamGroup>;

function checkHyperParameters(group: SgdHyperParameters, where: string): void {
  const fail = (why: string): never => {
    throw new Error(`SGD ${where}: ${why}`);
  };
  for (const key of ['lr', 'momentum', 'dampening', 'weightDecay'] as const) {
    if (!(Number.isFinite(group[key]) && group[key] >= 0)) fail(`${key} must be a finite number >= 0, got ${group[key]}`);
  }
  if (group.nesterov && (group.momentum <= 0 || group.dampening !== 0)) fail('nesterov needs momentum > 0 and dampening 0');
}

export class SGD implements CapturableOptimizer {
  readonly capturable = true;
  readonly paramGroups: ParamGroup[];
  readonly #momentumBuffers = new Map<Tensor, Tensor>();
  /** Each group's -lr as a tensor (prepareStep). */
  readonly #negativeLr = new Map<ParamGroup, DeviceScalar>();

  /**
   * params: the tensors to optimise, or parameter groups (e.g. nn.weightDecayGroups(model, 5e-4));
   * defaults: lr (required), momentum, dampening, weightDecay (0) and nesterov (false).
   */
  constructor(params: readonly Tensor[] | readonly ParamGroupInput[], defaults: Partial<SgdHyperParameters> & { lr: number }) {
    this.paramGroups = buildParamGroups<SgdHyperParameters>(
      'SGD',
      params,
      (input) => ({
        lr: input.lr ?? defaults.lr,
        momentum: input.momentum ?? defaults.momentum ?? 0,
        dampening: input.dampening ?? defaults.dampening ?? 0,
        weightDecay: input.weightDecay ?? defaults.weightDecay ?? 0,
        nesterov: input.nesterov ?? defaults.nesterov ?? false,
      }),
      checkHyperParameters,
    );
  }

  /** One update of every parameter that has a gradient. */
  step(): void {
    this.#update(false);
  }

  /** Writes each group's lr into the tensor stepFromTensors() reads. */
  prepareStep(): void {
    for (const group of this.paramGroups) {
      checkHyperParameters(group, 'step');
      let scalar = this.#negativeLr.get(group);
      if (scalar === undefined) {
        scalar = new DeviceScalar();
        this.#negativeLr.set(group, scalar);
      }
      scalar.set(-group.lr, group.params[0]!);
    }
  }

  /**
   * step() with each group's lr read from the tensor prepareStep() wrote. Captured only after an eager step: a
   * parameter's first step creates its momentum buffer, which a replay would not.
   */
  stepFromTensors(): void {
    this.#update(true);
  }

  #update(fromTensors: boolean): void {
    torch.noGrad(() =>
      torch.scope(() => {
        for (const group of this.paramGroups)
          this.#updateGroup(group, fromTensors ? (this.#negativeLr.get(group) ?? new DeviceScalar()).tensor : undefined);
      }),
    );
  }

  /** `negativeLr`: -lr as a tensor (stepFromTensors), else group.lr as a number. */
  #updateGroup(group: ParamGroup, negativeLr?: Tensor): void {
    checkHyperParameters(group, 'step');
    const params: Tensor[] = [];
    let updates: Tensor[] = [];
    for (const param of group.params) {
      const grad = param.grad;
      if (grad === null) continue;
      params.push(param);
      updates.push(grad);
    }
    if (params.length === 0) return;
    if (group.weightDecay !== 0) updates = foreach('_foreach_add.List', updates, params, group.weightDecay);
    if (group.momentum !== 0) {
      const continuing: Tensor[] = [];
      const continuingUpdates: Tensor[] = [];
      params.forEach((param, i) => {
        const buffer = this.#momentumBuffers.get(param);
        if (buffer === undefined) {
          this.#momentumBuffers.set(param, torch.keep(updates[i]!.clone()));
        } else {
          continuing.push(buffer);
          continuingUpdates.push(updates[i]!);
        }
      });
      if (continuing.length > 0) {
        torch.callOp('_foreach_mul_.Scalar', continuing, group.momentum);
        torch.callOp('_foreach_add_.List', continuing, continuingUpdates, 1 - group.dampening);
      }
      const buffers = params.map((param) => this.#momentumBuffers.get(param)!);
      updates = group.nesterov ? foreach('_foreach_add.List', updates, buffers, group.momentum) : buffers;
    }
    if (negativeLr === undefined) {
      torch.callOp('_foreach_add_.List', params, updates, -group.lr);
    } else {
      params.forEach((param, i) => param.addcmul_(updates[i]!, negativeLr));
    }
  }

  /** Drops every parameter's gradient. */
  zeroGrad(): void {
    for (const group of this.paramGroups) torch.zeroGrad(group.params);
  }

  /** Momentum buffers (detached handles on the optimizer's own) and groups, for a checkpoint. */
  stateDict(): SgdState {
    const { tensors, indices } = stateTensors(this.paramGroups, (param) => {
      const buffer = this.#momentumBuffers.get(param);
      return buffer === undefined ? undefined : { momentum_buffer: buffer.detach() };
    });
    const groups = this.paramGroups.map(({ lr, momentum, dampening, weightDecay, nesterov }, g) => ({
      lr,
      momentum,
      dampening,
      weightDecay,
      nesterov,
      params: indices[g]!,
    }));
    return { tensors, groups };
  }

  /**
   * Restores what stateDict() saved, into an optimizer over the same parameters in the same groups:
   * hyper-parameters, and momentum buffers (copied, on each parameter's device and dtype).
   */
  loadStateDict(state: SgdState): void {
    const { saved, perParam } = checkedState<'momentum_buffer', SavedParamGroup>(
      'SGD',
      state,
      this.paramGroups,
      ['momentum_buffer'],
      checkHyperParameters,
    );
    this.paramGroups.forEach((group, g) => {
      const { lr, momentum, dampening, weightDecay, nesterov } = saved[g]!;
      Object.assign(group, { lr, momentum, dampening, weightDecay, nesterov });
    });
    for (const old of this.#momentumBuffers.values()) old.dispose();
    this.#momentumBuffers.clear();
    for (const [param, { momentum_buffer }] of perParam) this.#momentumBuffers.set(param, restoredLike(momentum_buffer!, param));
  }
}
