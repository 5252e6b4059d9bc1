// The long-tail losses behind one interface the trainer calls every step: cross-entropy and focal loss
// (Lin et al.), class-balanced re-weighting by the effective number (Cui et al.), LDAM and deferred
// re-weighting (Cao et al.), logit adjustment in the loss or post hoc (Menon et al.) and balanced softmax
// (Ren et al.).
//
// Every loss is one of two per-sample losses (cross-entropy or focal) applied to logits that may first be
// shifted per class (LDAM's margins, logit adjustment, balanced softmax), with optional class weights
// (fixed for cb-*, switched on at an epoch by DRW). Per-class constants are computed once in float64 in
// JavaScript and cast to the dtype and device the logits come in.
import * as torch from '../torch/index.js';

type Tensor = torch.Tensor;

export const LOSS_NAMES = ['ce', 'focal', 'cb-focal', 'cb-ce', 'ldam', 'la', 'bsce'] as const;
export type LossName = (typeof LOSS_NAMES)[number];

/** Deferred re-weighting: class-balanced weights from startEpoch on, weights 1 before. */
export interface DrwConfig {
  /** The first (0-based, as the trainer counts) epoch that uses the weights. */
  startEpoch: number;
  /** The effective-number beta of the weights (0.9999 when omitted, LDAM-DRW's). */
  beta?: number;
}

export interface LossConfig {
  name: LossName;
  /** Deferred re-weighting (any loss but cb-ce and cb-focal, which re-weight from the start); null: none. */
  drw?: DrwConfig | null;
  /** Focal loss's gamma (focal, cb-focal); 1 by default, as LDAM-DRW's focal baseline. */
  focalGamma?: number;
  /** The effective-number beta of cb-ce and cb-focal; 0.9999 by default. */
  cbBeta?: number;
  /** LDAM: the largest class margin, the rarest class's (0.5). */
  ldamMaxMargin?: number;
  /** LDAM: the logit scale s (30), meant for cosine logits in [-1, 1]. */
  ldamScale?: number;
  /** The logit-adjusted loss's tau (1). */
  laTau?: number;
  /** Post-hoc logit adjustment at evaluation, 'ce' only: logits - tau log prior; null (default): none. */
  posthocTau?: number | null;
  /** Label smoothing of the cross-entropy term (0). */
  labelSmoothing?: number;
}

export interface LossContext {
  /** The current epoch, 0-based. */
  epoch: number;
}

export interface Loss {
  /** The batch's loss (a scalar) from logits (N x C) and int64 labels (N). */
  compute(logits: Tensor, labels: Tensor, context: LossContext): Tensor;
  /**
   * Names what compute() runs at this point of training where that changes with the epoch (DRW's weights switched
   * on): a captured step (train.capture) holds the operators of one variant. Absent: always the same.
   */
  variantAt?(context: LossContext): string;
  /** Logits as the evaluation should rank them, for post-hoc methods; absent when evaluation uses raw logits. */
  adjustForEval?(logits: Tensor): Tensor;
}

const DEFAULT_BETA = 0.9999;

/** Cui et al.'s class-balanced weights (1 - beta) / (1 - beta^n_c), normalised to sum to C. */
export function classBalancedWeights(classCounts: readonly number[], beta: number): number[] {
  if (!(beta >= 0 && beta < 1)) throw new RangeError(`beta must be in [0, 1), got ${beta}`);
  requirePositiveCounts(classCounts, 'class-balanced weights (1 - beta) / (1 - beta^n)');
  const raw = classCounts.map((count) => (1 - beta) / (1 - beta ** count));
  const total = raw.reduce((sum, weight) => sum + weight, 0);
  return raw.map((weight) => (weight * classCounts.length) / total);
}

/** LDAM's margins proportional to n_c^(-1/4), the rarest class's being maxMargin. */
export function ldamMargins(classCounts: readonly number[], maxMargin: number): number[] {
  checkPositive('ldamMaxMargin', maxMargin);
  requirePositiveCounts(classCounts, 'LDAM margins n^(-1/4)');
  const raw = classCounts.map((count) => count ** -0.25);
  const largest = Math.max(...raw);
  return raw.map((margin) => (margin * maxMargin) / largest);
}

/** log(n_c / N): the log of the training prior. */
export function logPrior(classCounts: readonly number[]): number[] {
  requirePositiveCounts(classCounts, 'log prior');
  const total = classCounts.reduce((sum, count) => sum + count, 0);
  return classCounts.map((count) => Math.log(count / total));
}

/** Builds the loss a config names for a training set with these class counts. */
export function createLoss(config: LossConfig, classCounts: readonly number[]): Loss {
  checkCounts(classCounts);
  const name = config.name;
  if (!LOSS_NAMES.includes(name)) throw new Error(`unknown loss '${String(name)}' (${LOSS_NAMES.join(', ')})`);
  const labelSmoothing = config.labelSmoothing ?? 0;
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) throw new RangeError(`labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  const focalGamma = name === 'focal' || name === 'cb-focal' ? (config.focalGamma ?? 1) : null;
  if (focalGamma !== null && !(focalGamma >= 0 && Number.isFinite(focalGamma))) {
    throw new RangeError(`focalGamma must be a finite number >= 0, got ${focalGamma}`);
  }
  const shiftLogits = logitShift(config, classCounts);
  const weightsAt = classWeightSchedule(config, classCounts);
  const numClasses = classCounts.length;

  const loss: Loss = {
    variantAt: ({ epoch }) => (weightsAt(epoch) === null ? 'unweighted' : 'weighted'),
    compute: (logits, labels, { epoch }) =>
      torch.scope(() => {
        checkLogits(logits, numClasses);
        const shifted = shiftLogits(logits, labels);
        const weight = weightsAt(epoch)?.like(logits) ?? null;
        return focalGamma === null
          ? torch.nn.functional.crossEntropy(shifted, labels, { weight, labelSmoothing })
          : focalLoss(shifted, labels, focalGamma, weight, labelSmoothing);
      }),
  };
  const posthocTau = config.posthocTau ?? null;
  if (posthocTau !== null) {
    if (name !== 'ce') throw new Error(`posthocTau applies to 'ce' only (it adjusts a cross-entropy model), not to '${name}'`);
    checkNonNegative('posthocTau', posthocTau);
    const offsets = new ClassVector(logPrior(classCounts).map((value) => posthocTau * value));
    loss.adjustForEval = (logits) =>
      torch.scope(() => {
        checkLogits(logits, numClasses);
        return logits.sub(offsets.like(logits));
      });
  }
  return loss;
}

/**
 * The loss of mixed targets (mixup, cutmix): lam L(logits, a) + (1 - lam) L(logits, b), each term the loss as it is
 * for its own targets (LDAM's margins and the class weights at each target's class, the weighted mean of each term
 * as F.cross_entropy takes it), as MiSLAS and the LDAM and logit-adjustment code's mixup do. Label smoothing stays
 * inside each term, which for unweighted cross-entropy is PyTorch's cross-entropy of the smoothed mixed target.
 * `lam` may be MixWeights, lam and 1 - lam as 0-dim tensors (a captured step's inputs): the same products.
 */
export function mixedLoss(
  loss: Loss,
  logits: Tensor,
  targets: { a: Tensor; b: Tensor; lam: number | MixWeights },
  context: LossContext,
): Tensor {
  const { a, b, lam } = targets;
  if (typeof lam === 'number' && !(lam >= 0 && lam <= 1)) throw new RangeError(`a mixed loss needs lam in [0, 1], got ${lam}`);
  const [first, second] = typeof lam === 'number' ? [lam, 1 - lam] : [lam.lam, lam.rest];
  return torch.scope(() =>
    loss
      .compute(logits, a, context)
      .mul(first)
      .add(loss.compute(logits, b, context).mul(second)),
  );
}

/**
 * lam and 1 - lam (computed on the host, as the number form does) in 0-dim tensors on the loss's device and dtype:
 * what a captured step's mixed loss reads, written before every replay.
 */
export interface MixWeights {
  lam: Tensor;
  rest: Tensor;
}

/** What a loss does to the logits before its per-sample loss: LDAM's margins, or a per-class offset. */
function logitShift(config: LossConfig, classCounts: readonly number[]): (logits: Tensor, labels: Tensor) => Tensor {
  switch (config.name) {
    case 'ldam': {
      const scale = config.ldamScale ?? 30;
      checkPositive('ldamScale', scale);
      const margins = new ClassVector(ldamMargins(classCounts, config.ldamMaxMargin ?? 0.5));
      // One-hot rows times the margins put m_y at the true class and 0 elsewhere.
      return (logits, labels) => logits.sub(torch.oneHot(labels, classCounts.length).mul(margins.like(logits))).mul(scale);
    }
    case 'la': {
      const tau = config.laTau ?? 1;
      checkNonNegative('laTau', tau);
      return addOffsets(logPrior(classCounts).map((value) => tau * value));
    }
    case 'bsce':
      requirePositiveCounts(classCounts, 'balanced softmax log(n)');
      return addOffsets(classCounts.map(Math.log));
    default:
      return (logits) => logits;
  }
}

function addOffsets(offsets: number[]): (logits: Tensor) => Tensor {
  const vector = new ClassVector(offsets);
  return (logits) => logits.add(vector.like(logits));
}

/** The class weights in force at each epoch: fixed (cb-*), deferred (DRW), or none (null). */
function classWeightSchedule(config: LossConfig, classCounts: readonly number[]): (epoch: number) => ClassVector | null {
  const effectiveNumberWeights = (key: string, beta: number): ClassVector => {
    if (!(beta >= 0 && beta < 1)) throw new RangeError(`${key} must be in [0, 1), got ${beta}`);
    return new ClassVector(classBalancedWeights(classCounts, beta));
  };
  const drw = config.drw ?? null;
  if (config.name === 'cb-ce' || config.name === 'cb-focal') {
    if (drw !== null)
      throw new Error(`'${config.name}' re-weights from the first epoch; drw would weight twice (use 'ce' or 'focal' with drw)`);
    const weights = effectiveNumberWeights('cbBeta', config.cbBeta ?? DEFAULT_BETA);
    return () => weights;
  }
  if (drw === null) return () => null;
  const { startEpoch } = drw;
  if (!(Number.isInteger(startEpoch) && startEpoch >= 0)) throw new RangeError(`drw.startEpoch must be an integer >= 0, got ${startEpoch}`);
  const weights = effectiveNumberWeights('drw.beta', drw.beta ?? DEFAULT_BETA);
  return (epoch) => (epoch >= startEpoch ? weights : null);
}

/**
 * Focal loss on the softmax probability p of the true class: the batch mean of w_y (1 - p)^gamma CE. The
 * weights multiply each sample (LDAM-DRW's FocalLoss divides by N, not by the sum of the weights as
 * weighted cross-entropy does); p stays the model's probability whatever the weights.
 */
function focalLoss(logits: Tensor, labels: Tensor, gamma: number, weight: Tensor | null, labelSmoothing: number): Tensor {
  const perSample = torch.nn.functional.crossEntropy(logits, labels, { reduction: 'none', labelSmoothing });
  const trueClassProbability = torch.logSoftmax(logits, 1).gather(1, labels.unsqueeze(1)).squeeze(1).exp();
  // (1 - p) is kept off 0 so that gamma < 1 has a finite gradient where p rounds to 1; below 1e-6 a
  // sample adds under 1e-6^(1 + gamma) to the loss anyway.
  const modulated = trueClassProbability.neg().add(1).clamp(1e-6).pow(gamma).mul(perSample);
  return (weight === null ? modulated : modulated.mul(weight.index([labels]))).mean();
}

/** Per-class constants kept in float64, cast once per dtype and device the logits use. */
class ClassVector {
  readonly #cast = new Map<string, Tensor>();

  constructor(private readonly values: readonly number[]) {}

  like(logits: Tensor): Tensor {
    const key = `${logits.dtype}@${logits.device}`;
    let cast = this.#cast.get(key);
    if (cast === undefined) {
      // Kept out of the caller's scope: the cast lives as long as the loss.
      cast = torch.keep(torch.tensor([...this.values], { dtype: logits.dtype, device: logits.device }));
      this.#cast.set(key, cast);
    }
    return cast;
  }
}

function checkLogits(logits: Tensor, numClasses: number): void {
  const shape = logits.shape;
  if (shape.length !== 2 || shape[1] !== numClasses) {
    throw new Error(`the loss was built for ${numClasses} classes: expected logits of shape [N, ${numClasses}], got [${shape.join(', ')}]`);
  }
}

function checkCounts(classCounts: readonly number[]): void {
  if (classCounts.length === 0) throw new Error('classCounts is empty: a loss needs at least one class');
  classCounts.forEach((count, index) => {
    if (!(Number.isInteger(count) && count >= 0)) throw new RangeError(`class ${index}'s count must be an integer >= 0, got ${count}`);
  });
}

function requirePositiveCounts(classCounts: readonly number[], purpose: string): void {
  const empty = classCounts.findIndex((count) => !(count > 0));
  if (empty >= 0) {
    throw new RangeError(`${purpose} needs every class in the training set, but class ${empty} has ${classCounts[empty]} images`);
  }
}

function checkPositive(name: string, value: number): void {
  if (!(value > 0 && Number.isFinite(value))) throw new RangeError(`${name} must be a finite number > 0, got ${value}`);
}

function checkNonNegative(name: string, value: number): void {
  if (!(value >= 0 && Number.isFinite(value))) throw new RangeError(`${name} must be a finite number >= 0, got ${value}`);
}
