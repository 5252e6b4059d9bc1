// train.capture: a training step recorded once as a CUDA graph and replayed (torch.cuda.graphs' whole-network
// capture). The GPU waits on the host when a step is hundreds of operator calls from JavaScript (docs/results.md,
// GPU); a replay is one launch.
//
// How a step is captured (StepCapture): the first steps of each kind run eagerly on a side stream (torch.cuda.graphs'
// warm-up: lazy initialisation, the optimizer's state made); then one step is recorded, not run, with its inputs
// (images, targets, and mixing's lam and 1 - lam as 0-dim tensors) in buffers of its own, and replayed; every later
// step of the kind copies its inputs into those buffers, writes the optimizer's numbers (lr, bias corrections:
// prepareStep) into their tensors, and replays. Batch-norm and whitening running statistics are updated in place by
// the replay, as by an eager step. Mixing itself (the partner permutation, the box) is done on the batch before it
// is copied in. A kind is the batch's shape, whether it is mixed, and the loss's variant (DRW's weights on or off):
// a kind of step first met later (the last, shorter batch of an epoch; DRW's epoch) warms up and is captured then.
// The loss is read after the replay; a non-finite loss ends the run as the eager NaN guard does (the replayed update
// has run, but the run stops without saving the model it leaves).
//
// A step with a ZCA whitening neck is captured in parts around the eigendecomposition (torch.cuda.make_graphed_callables'
// scheme: one memory pool, one capture stream): the first part runs the backbone and takes the batch's covariance into
// a buffer, linalg.eigh of it (which waits for the host, so no graph can hold it) runs eagerly between the parts into
// the layer's buffers (torch.cuda.hostStep, called by the layer: longtail/whitening.ts), and the next part whitens with
// them and runs the rest: classifier, loss, backward through the whitening (closed form) and through the backbone
// (the autograd graph the first part's capture recorded), the update. SAM's second pass makes a third part.
//
// What is not captured runs eagerly, and the run says why in one line (captureDecision, a function of the config and
// the device only, so that it is tested on the CPU).
import type { Loss, MixWeights } from '../longtail/index.js';
import { type CapturableOptimizer, type Optimizer, isCapturable } from '../optim/index.js';
import * as torch from '../torch/index.js';
import type { Config } from './config.js';
import { guardedLoss } from './step.js';

type Tensor = torch.Tensor;

export interface CaptureDecision {
  capture: boolean;
  /**
   * The line the run prints about a requested capture: why it does not happen, or that it is done in parts (ZCA
   * whitening); null when there is nothing to say.
   */
  reason: string | null;
}

/** Whether a run's steps are captured (train.capture auto) on `device` with `worldSize` processes, and if not, why. */
export function captureDecision(config: Config, device: string, worldSize = 1): CaptureDecision {
  const eager = (reason: string | null): CaptureDecision => ({
    capture: false,
    reason: reason === null ? null : `train.capture: ${reason}`,
  });
  if (config.train.capture === 'off') return eager(null);
  // Capture is for cuda; elsewhere it is silently off.
  if (!device.startsWith('cuda')) return eager(null);
  const { method } = config.decoupled;
  // tau-norm takes no optimizer step.
  if (method === 'tau-norm') return eager(null);
  if (method !== null)
    return eager(`decoupled training (${method}) trains the classifier alone on a frozen backbone; its steps run eagerly`);
  if (worldSize > 1) {
    return eager('data parallelism reduces the gradients across processes after the backward pass; its steps run eagerly');
  }
  if (config.train.precision === 'bfloat16') {
    return eager(
      "bfloat16 autocast caches the cast weights, which torch.cuda.graphs asks to switch off; scatter's autocast has no such " +
        'switch, so the steps run eagerly',
    );
  }
  const whitening = config.model.whitening;
  if (config.model.neck === 'whitening' && whitening.method === 'zca' && whitening.runningStats === 'covariance') {
    return eager(
      "ZCA whitening with runningStats 'covariance' takes a second eigendecomposition every step (its running whitening's) " +
        'inside the update; the steps run eagerly (runningStats whitening captures)',
    );
  }
  if (config.model.neck === 'whitening' && whitening.method === 'zca') {
    return {
      capture: true,
      reason:
        "train.capture: the ZCA whitening's eigendecomposition waits for the host (linalg.eigh checks its result on the CPU), " +
        'so each step is captured in two parts (three with SAM) with eigh run between them',
    };
  }
  return { capture: true, reason: null };
}

/** A step's inputs as the trainer prepares them: mixed images, targets (labels, or N x 2 for mixed batches), lam. */
export interface StepInputs {
  images: Tensor;
  targets: Tensor;
  lam: number | null;
}

/** The inputs a captured step reads: its own buffers, lam and 1 - lam as tensors. */
export interface CapturedInputs {
  images: Tensor;
  targets: Tensor;
  lam: MixWeights | null;
}

/** What StepCapture needs of torch.cuda (graphs.ts); a test puts a stand-in in its place on the CPU. */
export interface GraphMaker {
  /** `parts`: how many parts the capture made (torch.cuda.hostStep's cuts; 1: none). */
  graph(device: string): { capture<T>(body: () => T): T; replay(): void; readonly parts: number };
  sideStream(device: string): { run<T>(body: () => T): T };
}

const cudaGraphs: GraphMaker = {
  graph: (device) => new torch.cuda.Graph(device),
  sideStream: (device) => new torch.cuda.SideStream(device),
};

interface CapturedStep {
  graph: ReturnType<GraphMaker['graph']>;
  inputs: CapturedInputs;
  /** The passes' losses (one, SAM's two), written by every replay. */
  losses: Tensor[];
}

/**
 * A run's StepCapture, or null when its steps run eagerly: train.capture's decision, this build's CUDA graphs and the
 * optimizer's, each refusal said in one line to `log`.
 */
export function startCapture(
  config: Config,
  device: string,
  worldSize: number,
  optimizer: Optimizer | null,
  log: (line: string) => void,
): StepCapture | null {
  const decision = captureDecision(config, device, worldSize);
  if (!decision.capture || optimizer === null) {
    if (decision.reason !== null) log(decision.reason);
    return null;
  }
  if (!torch.cuda.graphsBuilt()) {
    log('train.capture: this build of scatter has no CUDA graphs (it was built against a libtorch without CUDA); the steps run eagerly');
    return null;
  }
  if (!isCapturable(optimizer)) {
    log("train.capture: the optimizer cannot take its numbers from tensors (SAM's base must be SGD or AdamW); the steps run eagerly");
    return null;
  }
  const capture = new StepCapture(device, optimizer);
  log(`train.capture: each kind of training step is captured as a CUDA graph after ${capture.warmupSteps} eager steps`);
  if (decision.reason !== null) log(decision.reason);
  return capture;
}

/** The kind of a step: a captured graph holds one batch shape, mixed or not, and one variant of the loss. */
export function stepKind(inputs: StepInputs, loss: Loss, epoch: number): string {
  const variant = loss.variantAt?.({ epoch }) ?? '';
  return `${inputs.images.shape.join('x')}|${inputs.targets.shape.join('x')}|${inputs.lam === null ? 'plain' : 'mixed'}|${variant}`;
}

/** The most kinds of step captured in a run (full and last batches, mixed and not, before and after DRW: 8). */
const MAX_GRAPHS = 8;

export class StepCapture {
  readonly #captured = new Map<string, CapturedStep>();
  readonly #warmedUp = new Map<string, number>();
  readonly #side: ReturnType<GraphMaker['sideStream']>;
  /** Steps run as a replay so far. */
  replays = 0;

  /** The parts of each captured kind of step's graph (2 or more: a ZCA neck's, cut around its eigendecomposition). */
  get parts(): number[] {
    return [...this.#captured.values()].map((step) => step.graph.parts);
  }

  /** `warmupSteps`: eager steps of each kind before it is captured (torch.cuda.graphs' examples take 3). */
  constructor(
    readonly device: string,
    readonly optimizer: CapturableOptimizer,
    readonly warmupSteps = 3,
    readonly graphs: GraphMaker = cudaGraphs,
  ) {
    this.#side = graphs.sideStream(device);
  }

  /**
   * One training step of kind `kind` (stepKind). `eager` is the ordinary step and returns its loss as the NaN guard
   * sees it; `captured` is the same step on CapturedInputs, reading nothing on the host
   * (step.ts capturableOptimizerStep), and returns the passes' losses. Returns the loss as `eager` would.
   */
  step(kind: string, inputs: StepInputs, eager: () => number, captured: (inputs: CapturedInputs) => Tensor[]): number {
    let step = this.#captured.get(kind);
    if (step === undefined) {
      // Each graph keeps a memory pool: batches of ever new shapes run eagerly once a few kinds are captured.
      if (this.#captured.size >= MAX_GRAPHS) return eager();
      const warmedUp = this.#warmedUp.get(kind) ?? 0;
      if (warmedUp < this.warmupSteps) {
        this.#warmedUp.set(kind, warmedUp + 1);
        return this.#side.run(eager);
      }
      step = this.#capture(inputs, captured);
      this.#captured.set(kind, step);
    } else {
      this.#load(step.inputs, inputs);
      this.optimizer.prepareStep();
    }
    step.graph.replay();
    this.replays += 1;
    return guardedLoss(step.losses.map((loss) => loss.item()));
  }

  /** Records the step on buffers that start as this step's inputs; nothing runs until the replay. */
  #capture(inputs: StepInputs, captured: (inputs: CapturedInputs) => Tensor[]): CapturedStep {
    const scalar = (value: number): Tensor => torch.keep(torch.full([], value, { dtype: 'float32', device: this.device }));
    const buffers: CapturedInputs = {
      // clone keeps the memory format (channels-last images stay so).
      images: torch.keep(inputs.images.detach().clone()),
      targets: torch.keep(inputs.targets.detach().clone()),
      lam: inputs.lam === null ? null : { lam: scalar(inputs.lam), rest: scalar(1 - inputs.lam) },
    };
    // The numbers the recorded update reads are written before the recording, as before every later replay.
    this.optimizer.prepareStep();
    const graph = this.graphs.graph(this.device);
    try {
      const losses = graph.capture(() => captured(buffers).map((loss) => torch.keep(loss)));
      return { graph, inputs: buffers, losses };
    } catch (error) {
      throw new Error(
        `train.capture: recording the training step as a CUDA graph failed (${(error as Error).message}); ` +
          'train with --set train.capture=off (the last checkpoint is intact)',
      );
    }
  }

  /** A step's inputs into a captured step's buffers, and lam and 1 - lam (computed here, as the number form does). */
  #load(buffers: CapturedInputs, inputs: StepInputs): void {
    torch.noGrad(() => {
      buffers.images.copy_(inputs.images);
      buffers.targets.copy_(inputs.targets);
      if (buffers.lam !== null && inputs.lam !== null) {
        buffers.lam.lam.fill_(inputs.lam);
        buffers.lam.rest.fill_(1 - inputs.lam);
      }
    });
  }
}
