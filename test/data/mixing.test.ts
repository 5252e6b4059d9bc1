// Batch-level mixing: cutmix's box and corrected lambda against torchvision v2 CutMix's formula on the same draws,
// the images mixup and cutmix make, timm's per-batch choice, the Beta sampler's moments, and purity (a batch's
// mixing depends on its keys only; ranks share lambda and box and permute within their shares).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type MixDraw, type MixOptions, Rng, drawMix, mixBatch, sampleBeta } from '../../src/data/index.js';
import { STREAM } from '../../src/data/random.js';
import { torch } from '../../src/index.js';

const CUTMIX: MixOptions = { mixupAlpha: 0, cutmixAlpha: 1, prob: 1, switchProb: 0.5 };
const SIZE = { height: 24, width: 40 };

/** torchvision.transforms.v2.CutMix._get_params, as written there in Python, from its draws (lam, r_x, r_y). */
function torchvisionCutmix(lam: number, rX: number, rY: number, H: number, W: number): { box: number[]; lamAdjusted: number } {
  const int = Math.trunc;
  const r = 0.5 * Math.sqrt(1.0 - lam);
  const rWHalf = int(r * W);
  const rHHalf = int(r * H);
  const x1 = int(Math.max(rX - rWHalf, 0));
  const y1 = int(Math.max(rY - rHHalf, 0));
  const x2 = int(Math.min(rX + rWHalf, W));
  const y2 = int(Math.min(rY + rHHalf, H));
  return { box: [x1, y1, x2, y2], lamAdjusted: 1.0 - ((x2 - x1) * (y2 - y1)) / (W * H) };
}

test("cutmix's box and lambda are torchvision v2 CutMix's from the same draws (the stream's prob, Beta, r_x, r_y)", () => {
  let clipped = 0;
  for (let batch = 0; batch < 300; batch++) {
    const draw = drawMix(CUTMIX, { seed: 5, epoch: 2, batch }, SIZE);
    assert.equal(draw.kind, 'cutmix');
    if (draw.kind !== 'cutmix') return;
    // The draws in their documented order, from the batch's stream.
    const rng = Rng.fromKeys(STREAM.mixing, 5, 2, batch);
    rng.nextFloat(); // mixed or not
    const lam = sampleBeta(rng, CUTMIX.cutmixAlpha);
    const rX = rng.nextInt(SIZE.width);
    const rY = rng.nextInt(SIZE.height);
    assert.equal(draw.sampledLam, lam);
    assert.deepEqual(draw.centre, { x: rX, y: rY });
    const reference = torchvisionCutmix(lam, rX, rY, SIZE.height, SIZE.width);
    const { x1, y1, x2, y2 } = draw.box;
    assert.deepEqual([x1, y1, x2, y2], reference.box, `batch ${batch}`);
    assert.equal(draw.lam, reference.lamAdjusted, `batch ${batch}`);
    if (x1 === 0 || y1 === 0 || x2 === SIZE.width || y2 === SIZE.height) clipped += 1;
  }
  assert.ok(clipped > 30, `the clipped boxes are covered (${clipped})`);
});

/** A batch of 6 images, every pixel of image i equal to i + 1 (and its label i), so partners can be told apart. */
function numberedBatch(count = 6): { images: torch.Tensor; labels: torch.Tensor } {
  const images = torch
    .arange(1, count + 1, 1, { dtype: 'float32' })
    .reshape([count, 1, 1, 1])
    .expand([count, 3, SIZE.height, SIZE.width])
    .contiguous();
  return { images, labels: torch.arange(0, count, 1, { dtype: 'int64' }) };
}

test("mixup gives lam x + (1 - lam) x_partner, cutmix pastes the partner's box; targets are (own, partner) labels", () => {
  const keys = { seed: 1, epoch: 0, batch: 3, start: 0 };
  const { images, labels } = numberedBatch();
  const mixup: MixDraw = { kind: 'mixup', lam: 0.3 };
  const mixed = mixBatch(images, labels, mixup, keys);
  const targets = mixed.targets.tolist() as number[][];
  assert.deepEqual(
    targets.map((pair) => pair[0]),
    [0, 1, 2, 3, 4, 5],
  );
  const partners = targets.map((pair) => pair[1]!);
  assert.deepEqual([...partners].sort(), [0, 1, 2, 3, 4, 5], 'the partners are a permutation of the batch');
  assert.notDeepEqual(partners, [0, 1, 2, 3, 4, 5]);
  assert.equal(mixed.lam, 0.3);
  const expected = torch.tensor(partners.map((p, i) => Math.fround(Math.fround((i + 1) * 0.3) + Math.fround((p + 1) * 0.7))));
  assert.ok(mixed.images.select(1, 2).select(1, 5).select(1, 7).equal(expected), 'every pixel lam x + (1 - lam) x_partner');
  assert.deepEqual(mixBatch(images, labels, mixup, keys).targets.tolist(), targets, 'the same keys, the same partners');

  const box = { x1: 5, y1: 2, x2: 30, y2: 10 };
  const cut = mixBatch(
    images,
    labels,
    { kind: 'cutmix', lam: 1 - (25 * 8) / (24 * 40), sampledLam: 0.8, centre: { x: 0, y: 0 }, box },
    keys,
  );
  assert.deepEqual(cut.targets.tolist(), targets, 'cutmix and mixup of one batch share its partners');
  const image = cut.images.select(0, 0).select(0, 1);
  const pastedValue = partners[0]! + 1;
  const own = image.eq(1).sum().item();
  const pasted = image.eq(pastedValue).sum().item();
  assert.equal(pasted, 25 * 8, 'the box holds the partner');
  assert.equal(own, 24 * 40 - 25 * 8, 'the rest is the image');
  assert.equal(image.select(0, 2).select(0, 5).item(), pastedValue, 'at (y1, x1)');
  assert.equal(image.select(0, 10).select(0, 30).item(), 1, 'at (y2, x2), outside');
  assert.equal(mixBatch(images, labels, { kind: 'none' }, keys).lam, null);
});

test("timm's choice per batch: prob of batches mixed, switchProb of them by cutmix; lambda ~ Beta(alpha, alpha)", () => {
  const options: MixOptions = { mixupAlpha: 0.4, cutmixAlpha: 1, prob: 0.6, switchProb: 0.25 };
  const kinds = { none: 0, mixup: 0, cutmix: 0 };
  const mixupLams: number[] = [];
  for (let batch = 0; batch < 4000; batch++) {
    const draw = drawMix(options, { seed: 0, epoch: 1, batch }, SIZE);
    kinds[draw.kind] += 1;
    if (draw.kind === 'mixup') mixupLams.push(draw.lam);
  }
  // Binomial standard deviations: sqrt(4000 0.6 0.4) = 31, sqrt(2400 0.25 0.75) = 21; 4 of them allowed.
  assert.ok(Math.abs(kinds.mixup + kinds.cutmix - 2400) < 124, JSON.stringify(kinds));
  assert.ok(Math.abs(kinds.cutmix / (kinds.mixup + kinds.cutmix) - 0.25) < 84 / 2400, JSON.stringify(kinds));
  assert.ok(mixupLams.every((lam) => lam >= 0 && lam <= 1));
  assert.equal(drawMix({ ...options, prob: 0 }, { seed: 0, epoch: 1, batch: 0 }, SIZE).kind, 'none');
  assert.equal(drawMix({ ...options, cutmixAlpha: 0 }, { seed: 0, epoch: 1, batch: 7 }, SIZE).kind === 'cutmix', false);

  for (const alpha of [0.2, 1, 3]) {
    const rng = Rng.fromKeys(99, alpha * 10);
    const draws = Array.from({ length: 40000 }, () => sampleBeta(rng, alpha));
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    const variance = draws.reduce((a, b) => a + (b - mean) ** 2, 0) / draws.length;
    const expected = 1 / (4 * (2 * alpha + 1));
    // Standard errors: mean sqrt(var / n) <= 0.0023; the variance's within 3%.
    assert.ok(Math.abs(mean - 0.5) < 0.01, `Beta(${alpha}): mean ${mean}`);
    assert.ok(Math.abs(variance - expected) < 0.04 * expected, `Beta(${alpha}): variance ${variance} vs ${expected}`);
  }
});

test("a batch's mixing is a pure function of (seed, epoch, batch); ranks share lambda and box, and permute their own shares", () => {
  const draw = (batch: number, seed = 4): MixDraw => drawMix({ ...CUTMIX, mixupAlpha: 1 }, { seed, epoch: 0, batch }, SIZE);
  assert.deepEqual(draw(8), draw(8));
  assert.notDeepEqual(draw(8), draw(9));
  assert.notDeepEqual(draw(8), draw(8, 5));
  const { images, labels } = numberedBatch(6);
  const keys = { seed: 4, epoch: 0, batch: 8 };
  const shares = [0, 3].map(
    (start) => mixBatch(images.narrow(0, start, 3), labels.narrow(0, start, 3), draw(8), { ...keys, start }).targets.tolist() as number[][],
  );
  assert.deepEqual([...shares[0]!.map((pair) => pair[1])].sort(), [0, 1, 2]);
  assert.deepEqual([...shares[1]!.map((pair) => pair[1])].sort(), [3, 4, 5]);
});
