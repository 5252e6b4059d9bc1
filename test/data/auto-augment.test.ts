// AutoAugment, RandAugment, TrivialAugmentWide and their operations against torchvision 0.14's tensor back end
// (test/python/torchvision_augment.py): every operation at several magnitudes on images the test draws, the
// magnitude tables, and whole policies given the same random draws (scatter's, fed to torchvision in place of
// torch's). Exact equality of every byte is asserted.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import {
  AUGMENT_OPS,
  type AugmentOp,
  type Draws,
  applyOp,
  augmentationSpace,
  autoAugment,
  randAugment,
  trivialAugmentWide,
  wideAugmentationSpace,
} from '../../src/data/auto-augment.js';
import type { Image } from '../../src/data/image.js';
import { adjustHue } from '../../src/data/pixel-ops.js';
import { Rng } from '../../src/data/random.js';
import { runPython, temporaryDir, torchvisionMissing } from '../helpers/python.js';

const noTorchvision = torchvisionMissing() ?? false;

/** A photograph-like image: gradients, a bright disc and noise, in a value range [low, high]. */
function testImage(seed: number, channels: number, height: number, width: number, low = 0, high = 255): Image {
  const rng = Rng.fromKeys(seed);
  const data = new Uint8Array(channels * height * width);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const disc = (x - width / 3) ** 2 + (y - height / 2) ** 2 < (height / 4) ** 2 ? 90 : 0;
        const value = ((x * (3 + c)) / width) * 80 + ((y * (2 + c)) / height) * 60 + disc + rng.nextInt(40);
        data[(c * height + y) * width + x] = Math.round(low + ((high - low) * Math.min(value, 255)) / 255);
      }
    }
  }
  return { data, channels, height, width };
}

/** Draws from an Rng, recorded so that torchvision can be given the same ones. */
class RecordedDraws implements Draws {
  readonly ints: number[] = [];
  readonly floats: number[] = [];
  constructor(private readonly rng: Rng) {}
  nextInt(n: number): number {
    const value = this.rng.nextInt(n);
    this.ints.push(value);
    return value;
  }
  nextFloat(): number {
    // torch.rand is float32: scatter's draw is rounded to it on both sides.
    const value = Math.fround(this.rng.nextFloat());
    this.floats.push(value);
    return value;
  }
}

interface Case {
  kind: string;
  image?: number[];
  shape?: number[];
  [key: string]: unknown;
}

function torchvision(cases: Case[]): unknown[] {
  const dir = temporaryDir('augment');
  const input = path.join(dir, 'cases.json');
  const output = path.join(dir, 'out.json');
  writeFileSync(input, JSON.stringify(cases));
  runPython('torchvision_augment.py', [input, output]);
  return JSON.parse(readFileSync(output, 'utf8')) as unknown[];
}

const imageFields = (image: Image) => ({ image: Array.from(image.data), shape: [image.channels, image.height, image.width] });

function assertSameImage(actual: Image, expected: unknown, what: string): void {
  const want = expected as number[];
  assert.equal(actual.data.length, want.length, `${what}: size`);
  const wrong = want.flatMap((value, i) => (actual.data[i] === value ? [] : [i]));
  assert.equal(
    wrong.length,
    0,
    `${what}: ${wrong.length} of ${want.length} values differ, first at ${wrong[0]}: ${actual.data[wrong[0]!]} vs ${want[wrong[0]!]}`,
  );
}

test('every operation at several magnitudes equals torchvision _apply_op, byte for byte', { skip: noTorchvision }, () => {
  const images = [testImage(1, 3, 32, 32), testImage(2, 3, 20, 28, 60, 180), testImage(3, 1, 24, 24)];
  const magnitudes: Record<AugmentOp, number[]> = {
    Identity: [0],
    ShearX: [0.3, -0.17, 0.99],
    ShearY: [-0.3, 0.12],
    TranslateX: [14.5, -9.9, 3],
    TranslateY: [-14.5, 7.2],
    Rotate: [30, -17.5, 135, 90],
    Brightness: [0.9, -0.5, 0.33],
    Color: [0.9, -0.9, 0.21],
    Contrast: [0.9, -0.6, 0.47],
    Sharpness: [0.9, -0.9, 0.3],
    Posterize: [4, 6, 8, 2],
    Solarize: [255, 128.5, 0, 76.5],
    AutoContrast: [0],
    Equalize: [0],
    Invert: [0],
  };
  const cases: { image: Image; op: AugmentOp; magnitude: number; fill?: number[] }[] = [];
  for (const image of images) {
    for (const op of AUGMENT_OPS) for (const magnitude of magnitudes[op]) cases.push({ image, op, magnitude });
  }
  // A fill colour for the geometric operations.
  cases.push({ image: images[0]!, op: 'Rotate', magnitude: 25, fill: [255, 128, 0] });
  cases.push({ image: images[1]!, op: 'ShearX', magnitude: 0.25, fill: [17, 17, 17] });
  const expected = torchvision(cases.map(({ image, op, magnitude, fill }) => ({ kind: 'op', op, magnitude, fill, ...imageFields(image) })));
  cases.forEach(({ image, op, magnitude, fill }, i) =>
    assertSameImage(
      applyOp(image, op, magnitude, fill),
      expected[i],
      `${op}(${magnitude}) on ${image.channels}x${image.height}x${image.width}`,
    ),
  );
});

test('the magnitude tables equal torchvision _augmentation_space (float32, to one ulp)', { skip: noTorchvision }, () => {
  const tables = [
    { policy: 'auto', bins: 10, height: 32, width: 40, ours: augmentationSpace(10, 32, 40, 'auto') },
    { policy: 'rand', bins: 31, height: 224, width: 200, ours: augmentationSpace(31, 224, 200, 'rand') },
    { policy: 'trivial', bins: 31, height: 0, width: 0, ours: wideAugmentationSpace(31) },
  ];
  const expected = torchvision(tables.map(({ ours: _, ...spec }) => ({ kind: 'space', ...spec }))) as [
    string,
    number[] | null,
    boolean,
  ][][];
  tables.forEach(({ policy, ours }, t) => {
    const actual = [...ours.entries()];
    assert.deepEqual(
      actual.map(([op, range]) => [op, range.magnitudes === null, range.signed]),
      expected[t]!.map(([op, magnitudes, signed]) => [op, magnitudes === null, signed]),
      `${policy}: operations`,
    );
    actual.forEach(([op, range], k) => {
      const want = expected[t]![k]![1];
      if (range.magnitudes === null || want === null) return;
      // torch.linspace's vectorised loop rounds some values one float32 ulp away from its scalar loop.
      range.magnitudes.forEach((value, i) =>
        assert.ok(Math.abs(value - want[i]!) <= 1.2e-7 * Math.abs(want[i]!), `${policy} ${op}[${i}]: ${value} vs ${want[i]}`),
      );
    });
  });
});

test('AutoAugment (3 policies), RandAugment and TrivialAugmentWide equal torchvision given the same draws', { skip: noTorchvision }, () => {
  const cases: { run: (draws: Draws) => Image; spec: Case }[] = [];
  for (let k = 0; k < 60; k++) {
    const image = testImage(100 + k, 3, k % 2 === 0 ? 32 : 24, 32);
    const policy = (['cifar10', 'imagenet', 'svhn'] as const)[k % 3]!;
    const fill = k % 4 === 0 ? [10, 200, 30] : undefined;
    cases.push({ run: (draws) => autoAugment(image, policy, draws, fill), spec: { kind: 'auto', policy, fill, ...imageFields(image) } });
    cases.push({
      run: (draws) => randAugment(image, { numOps: 2, magnitude: 9 + (k % 5), numMagnitudeBins: 31 }, draws, fill),
      spec: { kind: 'rand', numOps: 2, magnitude: 9 + (k % 5), bins: 31, fill, ...imageFields(image) },
    });
    cases.push({
      run: (draws) => trivialAugmentWide(image, 31, draws, fill),
      spec: { kind: 'trivial', bins: 31, fill, ...imageFields(image) },
    });
  }
  const outputs = cases.map(({ run, spec }, i) => {
    const draws = new RecordedDraws(Rng.fromKeys(7, i));
    const image = run(draws);
    return { image, spec: { ...spec, ints: draws.ints, floats: draws.floats } };
  });
  const expected = torchvision(outputs.map(({ spec }) => spec));
  outputs.forEach(({ image, spec }, i) =>
    assertSameImage(image, expected[i], `case ${i} (${spec.kind} ${spec.kind === 'auto' ? String((spec as Case).policy) : ''})`),
  );
});

test('hue shifts equal torchvision adjust_hue', { skip: noTorchvision }, () => {
  const image = testImage(5, 3, 16, 20);
  const factors = [0.5, -0.5, 0.1, -0.27, 0, 0.333];
  const expected = torchvision(factors.map((factor) => ({ kind: 'hue', factor, ...imageFields(image) })));
  factors.forEach((factor, i) => assertSameImage(adjustHue(image, factor), expected[i], `hue ${factor}`));
  assert.throws(() => adjustHue(image, 0.6), /hue shift must be in \[-0.5, 0.5\]/);
});
