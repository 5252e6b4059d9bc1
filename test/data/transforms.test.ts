// Transforms against independent computations of torchvision's definitions: padded random crop, flip,
// normalisation, random-resized-crop geometry, resize + center crop through sharp.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { type ImageStorage, Rng, randomResizedCropRect, resizedSize } from '../../src/data/index.js';
import { planTransforms, roundHalfEven, transformImage, writeNormalized } from '../../src/data/transforms.js';
import { temporaryDir } from '../helpers/python.js';
import { encodedImage, pixel } from './fixtures.js';

/** One CIFAR-shaped record with pixel(0, p) values. */
function oneRecord(): ImageStorage {
  return { kind: 'uint8', data: Uint8Array.from({ length: 3072 }, (_, p) => pixel(0, p)), shape: [3, 32, 32] };
}

test('random crop 32 with padding 4: a zero-filled window of the padded image, every offset about equally often', async () => {
  const storage = oneRecord();
  const plan = planTransforms([{ kind: 'randomCrop', size: 32, padding: 4 }], 'uint8');
  const seen = new Map<string, number>();
  for (let k = 0; k < 4000; k++) {
    const image = await transformImage(storage, 0, plan, Rng.fromKeys(9, k));
    // torchvision draws the top row, then the left column, of the padded 40x40 image.
    const draws = Rng.fromKeys(9, k);
    const top = draws.nextInt(9) - 4;
    const left = draws.nextInt(9) - 4;
    seen.set(`${top},${left}`, (seen.get(`${top},${left}`) ?? 0) + 1);
    for (const [c, y, x] of [
      [0, 0, 0],
      [1, 31, 31],
      [2, 5, 17],
      [0, 31, 0],
      [2, 0, 31],
    ] as const) {
      const [sourceY, sourceX] = [y + top, x + left];
      const inside = sourceY >= 0 && sourceY < 32 && sourceX >= 0 && sourceX < 32;
      assert.equal(
        image.data[c * 1024 + y * 32 + x],
        inside ? pixel(0, c * 1024 + sourceY * 32 + sourceX) : 0,
        `offset ${top},${left} at ${c},${y},${x}`,
      );
    }
  }
  assert.equal(seen.size, 81);
  for (const [offset, count] of seen)
    assert.ok(count > 20 && count < 80, `offset ${offset} drawn ${count} times of 4000 (expected about 49)`);
});

test('horizontal flip mirrors every row with probability p', async () => {
  const storage = oneRecord();
  const always = await transformImage(storage, 0, planTransforms([{ kind: 'horizontalFlip', p: 1 }], 'uint8'), Rng.fromKeys(1));
  for (const [c, y, x] of [
    [0, 0, 0],
    [1, 7, 3],
    [2, 31, 31],
  ])
    assert.equal(always.data[c! * 1024 + y! * 32 + x!], pixel(0, c! * 1024 + y! * 32 + 31 - x!));
  const never = await transformImage(storage, 0, planTransforms([{ kind: 'horizontalFlip', p: 0 }], 'uint8'), Rng.fromKeys(1));
  assert.deepEqual(never.data, (storage as { data: Uint8Array }).data);
  const half = planTransforms([{ kind: 'horizontalFlip' }], 'uint8');
  let flipped = 0;
  for (let k = 0; k < 2000; k++) if ((await transformImage(storage, 0, half, Rng.fromKeys(2, k))).data[0] !== pixel(0, 0)) flipped++;
  assert.ok(Math.abs(flipped - 1000) < 100, `${flipped} of 2000 flipped`);
});

test('normalize writes (pixel / 255 - mean) / std per channel, CHW, at the offset; pixel / 255 without it', () => {
  const image = { data: Uint8Array.from([0, 255, 100, 50, 200, 10]), channels: 3, height: 1, width: 2 };
  const out = new Float32Array(8).fill(-9);
  const plan = planTransforms([{ kind: 'normalize', mean: [0.5, 0.25, 0], std: [0.5, 2, 0.1] }], 'uint8');
  writeNormalized(image, plan.normalize, out, 2);
  const expected = [0, 255, 100, 50, 200, 10].map((v, i) => (v / 255 - [0.5, 0.25, 0][i >> 1]!) / [0.5, 2, 0.1][i >> 1]!);
  assert.deepEqual([out[0], out[1]], [-9, -9]);
  for (let i = 0; i < 6; i++) assert.ok(Math.abs(out[2 + i]! - expected[i]!) < 1e-5, `element ${i}: ${out[2 + i]} vs ${expected[i]}`);
  writeNormalized(image, undefined, out, 0);
  assert.ok(Math.abs(out[1]! - 1) < 1e-7 && out[0] === 0);
  assert.throws(
    () => writeNormalized({ ...image, channels: 1, width: 6 }, plan.normalize, out, 0),
    /3 channel means for a 1-channel image/,
  );
});

test('transform lists are checked: resampling first and on files only, normalize last, sane parameters', () => {
  assert.throws(() => planTransforms([{ kind: 'resize', size: 256 }], 'uint8'), /resize needs image files/);
  assert.throws(
    () => planTransforms([{ kind: 'horizontalFlip' }, { kind: 'randomResizedCrop', size: 224 }], 'files'),
    /randomResizedCrop must come first/,
  );
  assert.throws(
    () => planTransforms([{ kind: 'normalize', mean: [0], std: [1] }, { kind: 'horizontalFlip' }], 'uint8'),
    /normalize must come last/,
  );
  assert.throws(() => planTransforms([{ kind: 'randomCrop', size: 0 }], 'uint8'), /randomCrop size must be a positive integer/);
  assert.throws(() => planTransforms([{ kind: 'horizontalFlip', p: 2 }], 'uint8'), /p must be in \[0, 1\]/);
  assert.throws(() => planTransforms([{ kind: 'randomResizedCrop', size: 8, scale: [0.5, 0.1] }], 'files'), /scale must satisfy/);
  assert.throws(() => planTransforms([{ kind: 'normalize', mean: [0, 0], std: [1] }], 'uint8'), /as many means as standard deviations/);
  assert.throws(() => planTransforms([{ kind: 'blur' } as never], 'uint8'), /unknown kind "blur"/);
});

test("random-resized-crop geometry follows torchvision's get_params", () => {
  const rng = Rng.fromKeys(4);
  let smallest = 1;
  let largest = 0;
  for (let k = 0; k < 5000; k++) {
    const rect = randomResizedCropRect(500, 375, rng);
    assert.ok(rect.left >= 0 && rect.top >= 0 && rect.left + rect.width <= 500 && rect.top + rect.height <= 375, JSON.stringify(rect));
    const scale = (rect.width * rect.height) / (500 * 375);
    const ratio = rect.width / rect.height;
    assert.ok(scale > 0.075 && scale <= 1 && ratio > 0.74 && ratio < 1.35, `scale ${scale}, ratio ${ratio}`);
    smallest = Math.min(smallest, scale);
    largest = Math.max(largest, scale);
  }
  assert.ok(smallest < 0.09 && largest > 0.7, `scales from ${smallest} to ${largest}`);
  // A 1000 x 10 strip never fits a square-ish crop: the fallback is a central crop at the widest allowed ratio.
  assert.deepEqual(randomResizedCropRect(1000, 10, rng), { left: 493, top: 0, width: 13, height: 10 });
  assert.deepEqual(randomResizedCropRect(10, 1000, rng), { left: 0, top: 493, width: 10, height: 13 });
  assert.deepEqual([roundHalfEven(0.5), roundHalfEven(1.5), roundHalfEven(2.5), roundHalfEven(2.4), roundHalfEven(-0.5)], [0, 2, 2, 2, 0]);
});

test('resize 256 + center crop 224 and random-resized-crop on JPEG files, through sharp', async () => {
  const dir = temporaryDir('resize');
  const file = path.join(dir, 'wide.jpg');
  writeFileSync(file, await encodedImage(300, 200, 128));
  const storage: ImageStorage = { kind: 'files', paths: [file] };
  assert.deepEqual(resizedSize(300, 200, 256), { width: 384, height: 256 });
  assert.deepEqual(resizedSize(375, 500, 256), { width: 256, height: 341 });
  const evaluation = planTransforms(
    [
      { kind: 'resize', size: 256 },
      { kind: 'centerCrop', size: 224 },
    ],
    'files',
  );
  const image = await transformImage(storage, 0, evaluation, Rng.fromKeys(0));
  assert.deepEqual([image.channels, image.height, image.width], [3, 224, 224]);
  // Green runs 0..255 over the resized 384 columns; the crop starts at column 80 and ends at 303.
  const green = (x: number, y = 112): number => image.data[224 * 224 + y * 224 + x]!;
  assert.ok(Math.abs(green(0) - (255 * 80) / 383) < 4, `green at the crop's left edge: ${green(0)}`);
  assert.ok(Math.abs(green(223) - (255 * 303) / 383) < 4, `green at the crop's right edge: ${green(223)}`);
  assert.ok(Math.abs(image.data[50 * 224 + 60]! - 128) <= 3, 'red is the solid tone');

  const training = planTransforms(
    [
      { kind: 'randomResizedCrop', size: 64 },
      { kind: 'horizontalFlip', p: 0 },
    ],
    'files',
  );
  for (let k = 0; k < 5; k++) {
    const rng = Rng.fromKeys(8, k);
    const crop = await transformImage(storage, 0, training, rng);
    assert.deepEqual([crop.channels, crop.height, crop.width], [3, 64, 64]);
    // The same draws give the crop rectangle; the green at the left edge tells where it started.
    const rect = randomResizedCropRect(300, 200, Rng.fromKeys(8, k));
    const expectedGreen = (255 * (rect.left + 0.5 * (rect.width / 64))) / 299;
    assert.ok(
      Math.abs(crop.data[64 * 64 + 32 * 64]! - expectedGreen) < 6,
      `crop ${JSON.stringify(rect)}: green ${crop.data[64 * 64 + 32 * 64]} vs ${expectedGreen}`,
    );
  }
});

test("colour jitter follows torchvision's blends: brightness, contrast, saturation, each with its drawn factor", async () => {
  const storage = oneRecord();
  const input = (storage as { data: Uint8Array }).data;
  const plane = 1024;
  // torchvision's uint8 grey level: 0.2989 R + 0.587 G + 0.114 B, truncated.
  const grey = (p: number): number => Math.trunc(0.2989 * input[p]! + 0.587 * input[plane + p]! + 0.114 * input[2 * plane + p]!);
  const meanGrey = Array.from({ length: plane }, (_, p) => grey(p)).reduce((a, b) => a + b, 0) / plane;
  const blend = (value: number, factor: number, other: number): number =>
    Math.trunc(Math.min(255, Math.max(0, factor * value + (1 - factor) * other)));
  const cases = [
    ['brightness', (_: number) => 0],
    ['contrast', (_: number) => meanGrey],
    ['saturation', (p: number) => grey(p)],
  ] as const;
  for (const [key, other] of cases) {
    const plan = planTransforms([{ kind: 'colorJitter', [key]: 0.4 }], 'uint8');
    for (let k = 0; k < 5; k++) {
      const image = await transformImage(storage, 0, plan, Rng.fromKeys(3, k));
      const factor = Rng.fromKeys(3, k).uniform(0.6, 1.4);
      for (const index of [0, 100, 1500, 3071]) {
        assert.equal(image.data[index], blend(input[index]!, factor, other(index % plane)), `${key}, draw ${k}, pixel ${index}`);
      }
    }
  }
  assert.throws(() => planTransforms([{ kind: 'colorJitter', brightness: -1 }], 'uint8'), /brightness must be >= 0/);
  const all = planTransforms([{ kind: 'colorJitter', brightness: 0.4, contrast: 0.4, saturation: 0.4 }], 'uint8');
  const [a, b] = [await transformImage(storage, 0, all, Rng.fromKeys(4)), await transformImage(storage, 0, all, Rng.fromKeys(4))];
  assert.deepEqual(a.data, b.data, 'the same random stream gives the same image');
});
