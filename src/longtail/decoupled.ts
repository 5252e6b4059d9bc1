// Decoupled training (Kang et al., "Decoupling Representation and Classifier for Long-Tailed Recognition",
// ICLR 2020), the second stage on top of a joint-training run: the representation (backbone and neck) is
// frozen and only the classifier is re-balanced, by
// - cRT: a re-initialised classifier trained with class-balanced sampling;
// - LWS: stage 1's classifier kept, one learned scale per class on its logits, f_c (w_c . x + b_c);
// - tau-norm: no training, w_c / ||w_c||^tau with tau chosen on held-out training images.
// The trainer loads stage 1's weights, calls decoupleClassifier and trains what it leaves trainable
// (docs/method.md).
import type { ImageClassifier } from '../models/index.js';
import { CosineLinear, Linear, Module } from '../nn/index.js';
import * as torch from '../torch/index.js';

type Tensor = torch.Tensor;

export const DECOUPLED_METHODS = ['crt', 'lws', 'tau-norm'] as const;
export type DecoupledMethod = (typeof DECOUPLED_METHODS)[number];

/** Kang et al.'s grid: tau = 0, 0.1, ..., 2 (their tau_norm.py). */
export const DEFAULT_TAU_GRID: readonly number[] = Array.from({ length: 21 }, (_, i) => i / 10);

/**
 * LWS: stage 1's classifier (frozen) with a learned scale per class on its logits, f_c (w_c . x + b_c), the
 * bias scaled too, as in Kang et al.'s code. The scales start at 1, that is, at stage 1's predictions.
 */
export class LearnableWeightScaling extends Module {
  constructor(base: Module, numClasses: number) {
    super();
    this.registerModule('base', base);
    this.registerParameter('scales', torch.ones([numClasses]));
  }

  get base(): Module {
    return this.getSubmodule('base') as Module;
  }

  get scales(): Tensor {
    return this.getParameter('scales');
  }

  forward(input: Tensor): Tensor {
    return this.base.call(input).mul(this.scales);
  }
}

/**
 * tau-norm: stage 1's linear classifier with every class vector divided by its norm to the power tau,
 * x . w_c / ||w_c||^tau. The bias is dropped unless `keepBias` (Kang et al.'s tau_norm.py drops it); with
 * it kept, tau = 0 is stage 1's classifier exactly. The stage-1 layer stays whole inside (its bias too),
 * and tau is a buffer, so a checkpoint holds the chosen tau.
 */
export class TauNormalizedClassifier extends Module {
  constructor(
    base: Linear,
    readonly keepBias: boolean,
  ) {
    super();
    this.registerModule('base', base);
    this.registerBuffer('tau', torch.zeros([], { dtype: 'float64' }));
  }

  get base(): Linear {
    return this.getSubmodule('base') as Linear;
  }

  get tau(): number {
    return this.getBuffer('tau').item();
  }

  set tau(value: number) {
    if (!(Number.isFinite(value) && value >= 0)) throw new RangeError(`tau must be a number >= 0, got ${value}`);
    torch.noGrad(() => this.getBuffer('tau').fill_(value));
  }

  forward(input: Tensor): Tensor {
    const { weight, bias } = this.base;
    // A float64 0-dim exponent does not promote the float32 norms; norm^0 is exactly 1.
    const divisors = weight.norm(2, { dim: 1, keepdim: true }).pow(this.getBuffer('tau'));
    return torch.nn.functional.linear(input, weight.div(divisors), this.keepBias ? bias : null);
  }
}

function linearClassifier(classifier: Module): Linear | CosineLinear {
  if (classifier instanceof Linear || classifier instanceof CosineLinear) return classifier;
  throw new Error(`decoupled training needs a Linear or CosineLinear classifier, got ${classifier.constructor.name}`);
}

/** A new classifier of the same kind and shape, initialised as the layer initialises itself (cRT). */
function freshClassifier(stage1: Linear | CosineLinear): Linear | CosineLinear {
  return stage1 instanceof Linear
    ? new Linear(stage1.inFeatures, stage1.outFeatures, { bias: stage1.hasBias })
    : new CosineLinear(stage1.inFeatures, stage1.outFeatures, { scale: stage1.scale });
}

/** The second stage's classifier and the tensors it trains. */
function secondStageHead(method: DecoupledMethod, stage1: Linear | CosineLinear, keepBias: boolean): { head: Module; trains: Tensor[] } {
  switch (method) {
    case 'crt': {
      const head = freshClassifier(stage1);
      return { head, trains: head.parameters() };
    }
    case 'lws': {
      const head = new LearnableWeightScaling(stage1, stage1.outFeatures);
      return { head, trains: [head.scales] };
    }
    case 'tau-norm':
      if (!(stage1 instanceof Linear)) {
        throw new Error(
          'tau-norm needs a linear classifier: the cosine classifier normalises its class vectors already, so every tau would predict the same',
        );
      }
      return { head: new TauNormalizedClassifier(stage1, keepBias), trains: [] };
  }
}

/**
 * Turns a model holding stage 1's weights into the second stage's: replaces its classifier as `method`
 * asks and freezes everything but what that method trains (cRT: the new classifier; LWS: the scales;
 * tau-norm: nothing). Train it in trainClassifierOnly's mode. Applied to a freshly built model, it gives
 * the structure a second-stage checkpoint loads into.
 */
export function decoupleClassifier(model: ImageClassifier, method: DecoupledMethod, options: { keepBias?: boolean } = {}): void {
  const { head, trains } = secondStageHead(method, linearClassifier(model.classifier), options.keepBias ?? false);
  model.classifier = head;
  model.requiresGrad_(false);
  for (const tensor of trains) tensor.requiresGrad_(true);
}

/**
 * Training mode for the second stage: the classifier trains, the frozen representation stays in
 * evaluation mode, so that its batch-norm (and whitening) statistics stay stage 1's.
 */
export function trainClassifierOnly(model: ImageClassifier): void {
  model.eval();
  model.classifier.train();
}

/** The mean, over the classes present in `labels`, of the fraction of their items predicted right. */
export function meanPerClassAccuracy(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (predictions.length !== labels.length) throw new RangeError(`${predictions.length} predictions for ${labels.length} labels`);
  const totals = new Map<number, { right: number; all: number }>();
  for (let i = 0; i < labels.length; i++) {
    const entry = totals.get(labels[i]!) ?? { right: 0, all: 0 };
    entry.all += 1;
    if (predictions[i] === labels[i]) entry.right += 1;
    totals.set(labels[i]!, entry);
  }
  if (totals.size === 0) throw new RangeError('mean per-class accuracy of no items');
  return [...totals.values()].reduce((sum, { right, all }) => sum + right / all, 0) / totals.size;
}

export interface TauChoice {
  tau: number;
  /** Held-out mean per-class accuracy at the chosen tau. */
  accuracy: number;
  /** Every tau of the grid with its held-out accuracy, in grid order. */
  grid: { tau: number; accuracy: number }[];
}

/**
 * Chooses tau-norm's tau: tries every tau of `grid` on held-out features (the neck's output, N x d) and
 * keeps the one with the best mean per-class accuracy, which weighs the rare classes as much as the
 * frequent ones; ties go to the smallest tau, the least change to stage 1. Leaves the classifier at the
 * chosen tau.
 */
export function selectTau(classifier: TauNormalizedClassifier, features: Tensor, labels: Int32Array, grid: readonly number[]): TauChoice {
  if (grid.length === 0) throw new RangeError('selectTau: the grid of tau is empty');
  if (labels.length === 0) throw new RangeError('selectTau: no held-out images to choose tau on');
  const tried = grid.map((tau) => {
    classifier.tau = tau;
    const predictions = torch.noGrad(() => torch.scope(() => classifier.call(features).argmax(1).to('int32').toTypedArray()));
    return { tau, accuracy: meanPerClassAccuracy(predictions as Int32Array, labels) };
  });
  const best = tried.reduce((chosen, next) =>
    next.accuracy > chosen.accuracy || (next.accuracy === chosen.accuracy && next.tau < chosen.tau) ? next : chosen,
  );
  classifier.tau = best.tau;
  return { tau: best.tau, accuracy: best.accuracy, grid: tried };
}
