// SGD with momentum, PyTorch's torch.optim.SGD update rule exactly (its multi-tensor form, through ATen's
// _foreach_ operators: one call per step and group instead of several per parameter):
//   g = grad + weightDecay * param
//   buf = g on the first step, else momentum * buf + (1 - dampening) * g
//   g = nesterov ? g + momentum * buf : buf        (when momentum != 0)
//   param -= lr * g
// Parameters without a gradient are skipped, as in PyTorch.
import * as torch from '../torch/index.js';

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
export interface SgdState {
  tensors: Record<string, Tensor>;
  groups: SavedParamGroup[];
}

const BUFFER_NAME = /^state\.(\d+)\.momentum_buffer$/;

function checkHyperParameters(group: SgdHyperParameters, where: string): void {
  const fail = (why: string): never => {
    throw new Error(`SGD ${where}: ${why}`);
  };
  for (const key of ['lr', 'momentum', 'dampening', 'weightDecay'] as const) {
    if (!(Number.isFinite(group[key]) && group[key] >= 0)) fail(`${key} must be a finite number >= 0, got ${group[key]}`);
  }
  if (group.nesterov && (group.momentum <= 0 || group.dampening !== 0)) fail('nesterov needs momentum > 0 and dampening 0');
}

function foreach(name: string, ...args: torch.OpArg[]): Tensor[] {
  return torch.callOp(name, ...args) as Tensor[];
}

export class SGD {
  readonly paramGroups: ParamGroup[];
  readonly #momentumBuffers = new Map<Tensor, Tensor>();

  /**
   * params: the tensors to optimise, or parameter groups (e.g. nn.weightDecayGroups(model, 5e-4));
   * defaults: lr (required), momentum, dampening, weightDecay (0) and nesterov (false).
   */
  constructor(params: readonly Tensor[] | readonly ParamGroupInput[], defaults: Partial<SgdHyperParameters> & { lr: number }) {
    const inputs: readonly ParamGroupInput[] =
      params.length > 0 && params[0] instanceof torch.Tensor
        ? [{ params: params as readonly Tensor[] }]
        : (params as readonly ParamGroupInput[]);
    const seen = new Set<Tensor>();
    this.paramGroups = inputs.map((input, index) => {
      const group: ParamGroup = {
        lr: input.lr ?? defaults.lr,
        momentum: input.momentum ?? defaults.momentum ?? 0,
        dampening: input.dampening ?? defaults.dampening ?? 0,
        weightDecay: input.weightDecay ?? defaults.weightDecay ?? 0,
        nesterov: input.nesterov ?? defaults.nesterov ?? false,
        params: [...input.params],
      };
      checkHyperParameters(group, `group ${index}`);
      for (const param of group.params) {
        if (!param.isLeaf) throw new Error(`SGD group ${index}: cannot optimise a tensor that is not a leaf`);
        if (seen.has(param)) throw new Error(`SGD group ${index}: a parameter appears more than once`);
        seen.add(param);
      }
      return group;
    });
    if (seen.size === 0) throw new Error('SGD: no parameters to optimise');
  }

  /** One update of every parameter that has a gradient. */
  step(): void {
    torch.noGrad(() =>
      torch.scope(() => {
        for (const group of this.paramGroups) this.#updateGroup(group);
      }),
    );
  }

  #updateGroup(group: ParamGroup): void {
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
    torch.callOp('_foreach_add_.List', params, updates, -group.lr);
  }

  /** Drops every parameter's gradient. */
  zeroGrad(): void {
    for (const group of this.paramGroups) torch.zeroGrad(group.params);
  }

  /** Momentum buffers (detached handles on the optimizer's own) and groups, for a checkpoint. */
  stateDict(): SgdState {
    const tensors: Record<string, Tensor> = {};
    let index = 0;
    const groups = this.paramGroups.map((group) => {
      const indices = group.params.map((param) => {
        const buffer = this.#momentumBuffers.get(param);
        if (buffer !== undefined) tensors[`state.${index}.momentum_buffer`] = buffer.detach();
        return index++;
      });
      const { lr, momentum, dampening, weightDecay, nesterov } = group;
      return { lr, momentum, dampening, weightDecay, nesterov, params: indices };
    });
    return { tensors, groups };
  }

  /**
   * Restores what stateDict() saved, into an optimizer over the same parameters in the same groups:
   * hyper-parameters, and momentum buffers (copied, on each parameter's device and dtype).
   */
  loadStateDict(state: SgdState): void {
    const fail = (why: string): never => {
      throw new Error(`SGD.loadStateDict: ${why}`);
    };
    if (state.groups.length !== this.paramGroups.length) {
      fail(`the state has ${state.groups.length} parameter groups, this optimizer ${this.paramGroups.length}`);
    }
    const params = this.paramGroups.flatMap((group, g) => {
      const saved = state.groups[g]!;
      if (saved.params.length !== group.params.length) {
        fail(`group ${g} has ${saved.params.length} parameters in the state, ${group.params.length} here`);
      }
      checkHyperParameters(saved, `state group ${g}`);
      return group.params;
    });
    const buffers = new Map<Tensor, Tensor>();
    for (const [name, tensor] of Object.entries(state.tensors)) {
      const index = Number(BUFFER_NAME.exec(name)?.[1] ?? fail(`unexpected tensor '${name}'`));
      const param = params[index] ?? fail(`'${name}': there are only ${params.length} parameters`);
      if (tensor.shape.join() !== param.shape.join()) {
        fail(`'${name}' has shape [${tensor.shape.join(', ')}], its parameter [${param.shape.join(', ')}]`);
      }
      buffers.set(param, tensor);
    }
    this.paramGroups.forEach((group, g) => {
      const { lr, momentum, dampening, weightDecay, nesterov } = state.groups[g]!;
      Object.assign(group, { lr, momentum, dampening, weightDecay, nesterov });
    });
    for (const old of this.#momentumBuffers.values()) old.dispose();
    this.#momentumBuffers.clear();
    for (const [param, tensor] of buffers) {
      this.#momentumBuffers.set(param, torch.keep(tensor.to({ dtype: param.dtype, device: param.device, copy: true })));
    }
  }
}
