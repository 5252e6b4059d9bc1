// Batch-level mixing: mixup (Zhang et al.) and cutmix (Yun et al.), chosen per batch as timm's Mixup does: with
// probability `prob` a batch is mixed, by cutmix with probability `switchProb` when both are on; lambda ~
// Beta(alpha, alpha). Mixup takes lam x + (1 - lam) x_partner (torchvision's RandomMixup); cutmix pastes the
// partner's box, drawn as torchvision's v2 CutMix draws it, and corrects lambda to the share of the image left.
//
// Purity: the choice, lambda and box come from the stream (seed, epoch, batch), the same on every rank; each
// rank's partners are a seeded permutation of its own share of the global batch (keyed by the share's start), so
// a mixed batch is a pure function of (seed, epoch, batch) and resumption stays exact. A permutation, not timm's
// flip: B3RS spreads its blocks along a batch and BET appends its sub-batch, so a flip would pair positions, and
// hence blocks, the same way in every batch.
import * as torch from '../torch/index.js';
import { Rng, STREAM } from './random.js';

type Tensor = torch.Tensor;

export interface MixOptions {
  /** Beta(alpha, alpha) of mixup's lambda; 0: no mixup. */
  mixupAlpha: number;
  /** Beta(alpha, alpha) of cutmix's lambda; 0: no cutmix. */
  cutmixAlpha: number;
  /** The probability that a batch is mixed. */
  prob: number;
  /** With both on: the probability that a mixed batch is cutmix's. */
  switchProb: number;
}

/** A box of image positions: rows [y1, y2), columns [x1, x2). */
export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** What a batch gets: nothing, mixup with lam, or cutmix with its box and lam corrected by the box's clipped area. */
export type MixDraw =
  | { kind: 'none' }
  | { kind: 'mixup'; lam: number }
  | { kind: 'cutmix'; lam: number; sampledLam: number; centre: { x: number; y: number }; box: Box };

export function mixingOn(options: MixOptions): boolean {
  return options.mixupAlpha > 0 || options.cutmixAlpha > 0;
}

/** The batch's mixing, a pure function of (seed, epoch, batch) and the image size. */
export function drawMix(
  options: MixOptions,
  keys: { seed: number; epoch: number; batch: number },
  size: { height: number; width: number },
): MixDraw {
  const rng = Rng.fromKeys(STREAM.mixing, keys.seed, keys.epoch, keys.batch);
  if (!mixingOn(options) || !(rng.nextFloat() < options.prob)) return { kind: 'none' };
  const cutmix = options.cutmixAlpha > 0 && (options.mixupAlpha <= 0 || rng.nextFloat() < options.switchProb);
  const lam = sampleBeta(rng, cutmix ? options.cutmixAlpha : options.mixupAlpha);
  if (!cutmix) return { kind: 'mixup', lam };
  // torchvision: r_x = randint(W), r_y = randint(H).
  const centre = { x: rng.nextInt(size.width), y: rng.nextInt(size.height) };
  const box = cutmixBox(lam, centre, size);
  const corrected = 1 - ((box.x2 - box.x1) * (box.y2 - box.y1)) / (size.width * size.height);
  return { kind: 'cutmix', lam: corrected, sampledLam: lam, centre, box };
}

/** torchvision v2 CutMix's box: half-sides int(0.5 sqrt(1 - lam) W) and (... H) around the centre, clipped to the image. */
export function cutmixBox(lam: number, centre: { x: number; y: number }, size: { height: number; width: number }): Box {
  const r = 0.5 * Math.sqrt(1 - lam);
  const halfWidth = Math.trunc(r * size.width);
  const halfHeight = Math.trunc(r * size.height);
  return {
    x1: Math.max(centre.x - halfWidth, 0),
    y1: Math.max(centre.y - halfHeight, 0),
    x2: Math.min(centre.x + halfWidth, size.width),
    y2: Math.min(centre.y + halfHeight, size.height),
  };
}

/**
 * A share of a batch (images N x C x H x W, int64 labels N; `start`: its first item's position in the global batch)
 * mixed as `draw` says: the mixed images, and targets N x 2 (own label, partner's label) with the weight lam of the
 * first. Nothing is mixed for 'none' (targets stay the labels, lam null).
 */
export function mixBatch(
  images: Tensor,
  labels: Tensor,
  draw: MixDraw,
  keys: { seed: number; epoch: number; batch: number; start: number },
): { images: Tensor; targets: Tensor; lam: number | null } {
  if (draw.kind === 'none') return { images, targets: labels, lam: null };
  const count = images.shape[0]!;
  const order = Rng.fromKeys(STREAM.mixing, keys.seed, keys.epoch, keys.batch, 1, keys.start).shuffle(
    Int32Array.from({ length: count }, (_, i) => i),
  );
  const partners = torch.fromTypedArray(BigInt64Array.from(order, BigInt), { device: images.device });
  const partnerImages = images.indexSelect(0, partners);
  const targets = torch.stack([labels, labels.indexSelect(0, partners)], 1);
  if (draw.kind === 'mixup') return { images: images.mul(draw.lam).add(partnerImages.mul(1 - draw.lam)), targets, lam: draw.lam };
  const { x1, y1, x2, y2 } = draw.box;
  const mixed = images.clone();
  if (x2 > x1 && y2 > y1) {
    const box = (tensor: Tensor): Tensor => tensor.narrow(2, y1, y2 - y1).narrow(3, x1, x2 - x1);
    box(mixed).copy_(box(partnerImages));
  }
  return { images: mixed, targets, lam: draw.lam };
}

/** Beta(alpha, alpha) from two gamma draws. */
export function sampleBeta(rng: Rng, alpha: number): number {
  const x = sampleGamma(rng, alpha);
  const y = sampleGamma(rng, alpha);
  return x / (x + y);
}

/** Gamma(shape, 1): Marsaglia and Tsang's method; shape < 1 through Gamma(shape + 1) U^(1/shape). */
function sampleGamma(rng: Rng, shape: number): number {
  // 1 - nextFloat() is in (0, 1]: never log(0), never a zero draw that could make x + y = 0.
  if (shape < 1) return sampleGamma(rng, shape + 1) * (1 - rng.nextFloat()) ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = standardNormal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng.nextFloat();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** A standard normal draw (Box-Muller, the cosine half). */
function standardNormal(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng.nextFloat())) * Math.cos(2 * Math.PI * rng.nextFloat());
}
