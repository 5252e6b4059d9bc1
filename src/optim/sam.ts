// Sharpness-aware minimisation (Foret et al.), davda54/sam's rule, around a base optimizer (SGD or AdamW). A step
// takes two gradients of the same batch:
//   firstStep():  e = rho g / (||g|| + 1e-12), ASAM (adaptive): e = rho w^2 g / (|| |w| g || + 1e-12),
//                 the norm over every parameter with a gradient; w += e; gradients dropped
//   (the caller runs forward and backward again, at w + e)
//   step():       w -= e (the saved w restored), then the base optimizer's step with the gradient at w + e.
// The trainer runs the passes (trainer.ts); the base optimizer's state is SAM's state. firstStep() reads no number
// on the host (the norm stays a tensor), so with a capturable base SAM's whole step can be captured
// (prepareStep / stepFromTensors: CapturableOptimizer).
import * as torch from '../torch/index.js';
import { type CapturableOptimizer, type Optimizer, type OptimizerGroup, type OptimizerState, isCapturable } from './optimizer.js';

type Tensor = torch.Tensor;

export interface SamOptions {
  /** The neighbourhood's radius (0.05, Foret et al.'s). */
  rho?: number;
  /** ASAM (Kwon et al.): the perturbation scaled elementwise by |w|. */
  adaptive?: boolean;
}

export class SAM implements CapturableOptimizer {
  readonly rho: number;
  readonly adaptive: boolean;
  /** Each perturbed parameter's value before firstStep(); empty between steps. */
  readonly #saved = new Map<Tensor, Tensor>();

  constructor(
    readonly base: Optimizer,
    options: SamOptions = {},
  ) {
    this.rho = options.rho ?? 0.05;
    this.adaptive = options.adaptive ?? false;
    if (!(Number.isFinite(this.rho) && this.rho > 0)) throw new Error(`SAM: rho must be a finite number > 0, got ${this.rho}`);
  }

  get paramGroups(): readonly OptimizerGroup[] {
    return this.base.paramGroups;
  }

  get capturable(): boolean {
    return isCapturable(this.base);
  }

  /** Moves every parameter with a gradient to the worst point of the rho-ball the gradient sees, and drops the gradients. */
  firstStep(): void {
    if (this.#saved.size > 0) throw new Error('SAM.firstStep: the parameters are perturbed already (step() restores them)');
    const params = this.paramGroups.flatMap((group) => group.params.filter((param) => param.grad !== null));
    if (params.length === 0) throw new Error('SAM.firstStep: no parameter has a gradient');
    torch.noGrad(() =>
      torch.scope(() => {
        // davda54/sam: the norm of the per-parameter norms; scale = rho / (norm + 1e-12) as a tensor.
        const scaled = params.map((param) => (this.adaptive ? param.abs().mul(param.grad!) : param.grad!));
        const norm = torch.stack(scaled.map((g) => g.norm())).norm();
        const scale = norm.add(1e-12).reciprocal().mul(this.rho);
        for (const param of params) {
          this.#saved.set(param, torch.keep(param.clone()));
          const direction = this.adaptive ? param.pow(2).mul(param.grad!) : param.grad!;
          param.add_(direction.mul(scale.to({ dtype: param.dtype, device: param.device })));
        }
      }),
    );
    this.zeroGrad();
  }

  /** Restores the parameters firstStep() moved and takes the base optimizer's step with the gradients at the moved point. */
  step(): void {
    this.#restore('step');
    this.base.step();
  }

  /** The base optimizer's prepareStep(). */
  prepareStep(): void {
    this.#capturableBase('prepareStep').prepareStep();
  }

  /** step() with the base optimizer's stepFromTensors(). */
  stepFromTensors(): void {
    const base = this.#capturableBase('stepFromTensors');
    this.#restore('stepFromTensors');
    base.stepFromTensors();
  }

  #capturableBase(what: string): CapturableOptimizer {
    if (!isCapturable(this.base)) throw new Error(`SAM.${what}: the base optimizer cannot step from tensors`);
    return this.base;
  }

  #restore(what: string): void {
    if (this.#saved.size === 0) throw new Error(`SAM.${what}: firstStep() and a second backward pass come first`);
    torch.noGrad(() => {
      for (const [param, value] of this.#saved) {
        param.copy_(value);
        value.dispose();
      }
    });
    this.#saved.clear();
  }

  zeroGrad(): void {
    this.base.zeroGrad();
  }

  stateDict(): OptimizerState {
    return this.base.stateDict();
  }

  loadStateDict(state: OptimizerState): void {
    this.base.loadStateDict(state);
  }
}
