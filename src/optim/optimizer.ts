// What the trainer needs of an optimizer (SGD, AdamW, SAM): parameter groups whose lr a schedule sets, a step, and
// a state for checkpoints in PyTorch's naming ('state.<index>.<name>' tensors, index across all groups). The
// parameter-group and state bookkeeping every optimizer shares is here.
import * as torch from '../torch/index.js';

type Tensor = torch.Tensor;

export interface OptimizerGroup {
  lr: number;
  readonly params: readonly Tensor[];
}

/** Per-parameter tensors, and the groups (hyper-parameters and parameter indices) as JSON-able data. */
export interface OptimizerState<G extends object = object> {
  tensors: Record<string, Tensor>;
  groups: G[];
}

export interface Optimizer {
  readonly paramGroups: readonly OptimizerGroup[];
  /** One update of every parameter that has a gradient. */
  step(): void;
  /** Drops every parameter's gradient. */
  zeroGrad(): void;
  stateDict(): OptimizerState;
  /** Restores what stateDict() saved, into an optimizer of the same kind over the same parameters in the same groups. */
  loadStateDict(state: OptimizerState): void;
}

/**
 * An optimizer whose step splits in two for a CUDA graph (train.capture, src/train/capture.ts): prepareStep() is the
 * host's part (counters advanced, the step's numbers, lr and bias corrections, written into 0-dim tensors on the
 * parameters' device), stepFromTensors() the device's part, which reads every number that changes between steps
 * from those tensors, so that a captured stepFromTensors() replays correctly after each prepareStep(). The two
 * together are step() (tested bitwise on the CPU); step() itself keeps its scalar form, torch.optim's.
 */
export interface CapturableOptimizer extends Optimizer {
  /** True; false on a wrapper (SAM) whose base optimizer is not capturable. */
  readonly capturable: boolean;
  prepareStep(): void;
  stepFromTensors(): void;
}

export function isCapturable(optimizer: Optimizer): optimizer is CapturableOptimizer {
  return (optimizer as Partial<CapturableOptimizer>).capturable === true;
}

/**
 * A per-step number held as a 0-dim tensor on a device, written by fill_ (a kernel launch with the number as its
 * argument: no host-to-device copy), read by the operators of a captured step. Outlives scopes.
 */
export class DeviceScalar {
  #tensor: Tensor | null = null;

  /** The tensor holding `value`, in `like`'s dtype (the number rounded as a Scalar argument would be) and on its device. */
  set(value: number, like: Tensor): Tensor {
    const tensor = this.#tensor;
    if (tensor !== null && tensor.dtype === like.dtype && tensor.device === like.device) return tensor.fill_(value);
    tensor?.dispose();
    this.#tensor = torch.keep(torch.full([], value, { dtype: like.dtype, device: like.device }));
    return this.#tensor;
  }

  get tensor(): Tensor {
    if (this.#tensor === null) throw new Error('a captured optimizer step reads its numbers from tensors that prepareStep() writes first');
    return this.#tensor;
  }
}

const foreachTensorOps = new Map<string, boolean>();

/**
 * tensors[i] * scalar or / scalar for a 0-dim tensor `scalar` (in place when `inPlace`): ATen's _foreach_ form
 * where libtorch has it (2.1 and later), else one call a tensor. Either rounds as a Scalar argument would.
 */
export function foreachByTensor(op: 'mul' | 'div', tensors: Tensor[], scalar: Tensor, inPlace: boolean): Tensor[] {
  const key = `_foreach_${op}${inPlace ? '_' : ''}.Tensor`;
  let available = foreachTensorOps.get(key);
  if (available === undefined) {
    available = hasOperator(key);
    foreachTensorOps.set(key, available);
  }
  if (available) {
    const result = torch.callOp(key, tensors, scalar);
    return inPlace ? tensors : (result as Tensor[]);
  }
  if (inPlace) {
    for (const tensor of tensors) {
      if (op === 'mul') tensor.mul_(scalar);
      else tensor.div_(scalar);
    }
    return tensors;
  }
  return tensors.map((tensor) => (op === 'mul' ? tensor.mul(scalar) : tensor.div(scalar)));
}

function hasOperator(key: string): boolean {
  try {
    torch.opSchema(key);
    return true;
  } catch {
    return false;
  }
}

/** An ATen _foreach_ operator that returns new tensors. */
export function foreach(name: string, ...args: torch.OpArg[]): Tensor[] {
  return torch.callOp(name, ...args) as Tensor[];
}

/**
 * Parameter groups from tensors or group inputs: `fill` completes a group's hyper-parameters from the defaults,
 * `check` validates them; every parameter must be a leaf and appear once.
 */
export function buildParamGroups<H extends object>(
  owner: string,
  params: readonly Tensor[] | readonly (Partial<H> & { params: readonly Tensor[] })[],
  fill: (input: Partial<H>) => H,
  check: (group: H, where: string) => void,
): (H & { params: Tensor[] })[] {
  const inputs: readonly (Partial<H> & { params: readonly Tensor[] })[] =
    params.length > 0 && params[0] instanceof torch.Tensor
      ? [{ params: params as readonly Tensor[] } as Partial<H> & { params: readonly Tensor[] }]
      : (params as readonly (Partial<H> & { params: readonly Tensor[] })[]);
  const seen = new Set<Tensor>();
  const groups = inputs.map((input, index) => {
    const group = { ...fill(input), params: [...input.params] };
    check(group, `group ${index}`);
    for (const param of group.params) {
      if (!param.isLeaf) throw new Error(`${owner} group ${index}: cannot optimise a tensor that is not a leaf`);
      if (seen.has(param)) throw new Error(`${owner} group ${index}: a parameter appears more than once`);
      seen.add(param);
    }
    return group;
  });
  if (seen.size === 0) throw new Error(`${owner}: no parameters to optimise`);
  return groups;
}

/** The state dict's tensors: `perParam` gives each parameter's (new handles, the caller's to dispose), keyed by its index. */
export function stateTensors(
  groups: readonly OptimizerGroup[],
  perParam: (param: Tensor) => Record<string, Tensor> | undefined,
): { tensors: Record<string, Tensor>; indices: number[][] } {
  const tensors: Record<string, Tensor> = {};
  let index = 0;
  const indices = groups.map((group) =>
    group.params.map((param) => {
      for (const [name, tensor] of Object.entries(perParam(param) ?? {})) tensors[`state.${index}.${name}`] = tensor;
      return index++;
    }),
  );
  return { tensors, indices };
}

/**
 * A saved state checked against these groups (their number, each one's parameter count, `checkGroup` on the saved
 * hyper-parameters, tensor names among `names`, shapes: a parameter's, or a scalar for `scalars`), with its tensors
 * by parameter. Nothing is changed: the caller restores once everything is checked.
 */
export function checkedState<N extends string, G extends object>(
  owner: string,
  state: OptimizerState,
  groups: readonly OptimizerGroup[],
  names: readonly N[],
  checkGroup: (saved: G, where: string) => void,
  scalars: readonly N[] = [],
): { saved: G[]; perParam: Map<Tensor, Partial<Record<N, Tensor>>> } {
  const fail = (why: string): never => {
    throw new Error(`${owner}.loadStateDict: ${why}`);
  };
  if (state.groups.length !== groups.length) fail(`the state has ${state.groups.length} parameter groups, this optimizer ${groups.length}`);
  const saved = state.groups as G[];
  const params = groups.flatMap((group, g) => {
    const savedGroup = saved[g] as G & { params?: unknown };
    const count = Array.isArray(savedGroup.params) ? savedGroup.params.length : -1;
    if (count !== group.params.length) fail(`group ${g} has ${count} parameters in the state, ${group.params.length} here`);
    checkGroup(savedGroup, `state group ${g}`);
    return group.params;
  });
  const perParam = new Map<Tensor, Partial<Record<N, Tensor>>>();
  const pattern = /^state\.(\d+)\.(\w+)$/;
  for (const [name, tensor] of Object.entries(state.tensors)) {
    const match = pattern.exec(name);
    const kind = match?.[2] as N | undefined;
    if (match === null || kind === undefined || !names.includes(kind)) fail(`unexpected tensor '${name}'`);
    const param = params[Number(match![1])] ?? fail(`'${name}': there are only ${params.length} parameters`);
    const scalar = scalars.includes(kind!);
    if (tensor.shape.join() !== (scalar ? '' : param.shape.join())) {
      fail(
        `'${name}' has shape [${tensor.shape.join(', ')}], ${scalar ? 'expected a scalar' : `its parameter [${param.shape.join(', ')}]`}`,
      );
    }
    perParam.set(param, { ...perParam.get(param), [kind!]: tensor });
  }
  return { saved, perParam };
}

/** A saved tensor as the optimizer keeps it: a copy, on its parameter's device and dtype, outliving scopes. */
export function restoredLike(tensor: Tensor, param: Tensor): Tensor {
  return torch.keep(tensor.to({ dtype: param.dtype, device: param.device, copy: true }));
}
