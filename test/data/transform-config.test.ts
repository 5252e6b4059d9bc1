// Transforms as configuration: torchvision's names and arguments read and written back, the errors a wrong list
// gets, the presets expanded for a data set's image size (what config.yaml records), the warning when training and
// evaluation sizes differ; and the two transforms added with them against torchvision: RandomCrop's padding modes
// and RandomErasing given the same random draws.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { parse } from 'yaml';

import type { ImageStorage } from '../../src/data/dataset.js';
import { Rng } from '../../src/data/random.js';
import { formatTransforms, parseTransforms } from '../../src/data/transform-names.js';
import { type Transform, eraseRandomly, planTransforms, transformImage } from '../../src/data/transforms.js';
import { resolveConfig } from '../../src/train/config.js';
import { loadRunData, transformSizeWarning, withTransforms } from '../../src/train/setup.js';
import { runPython, temporaryDir, torchvisionMissing } from '../helpers/python.js';
import { encodedImage } from './fixtures.js';

const noTorchvision = torchvisionMissing() ?? false;

function torchvision(cases: Record<string, unknown>[]): number[][] {
  const dir = temporaryDir('transform-config');
  const [input, output] = [path.join(dir, 'cases.json'), path.join(dir, 'out.json')];
  writeFileSync(input, JSON.stringify(cases));
  runPython('torchvision_augment.py', [input, output]);
  return JSON.parse(readFileSync(output, 'utf8')) as number[][];
}

test('torchvision names and arguments read into transforms, and written back with every argument', () => {
  const list = [
    { RandomCrop: { size: 32, padding: 4, padding_mode: 'reflect' } },
    'RandomHorizontalFlip',
    { ColorJitter: { brightness: 0.4, hue: 0.1 } },
    { AutoAugment: { policy: 'cifar10', fill: 128 } },
    { RandAugment: { num_ops: 3 } },
    { TrivialAugmentWide: null },
    { Normalize: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] } },
    { RandomErasing: { p: 0.25, value: 'random' } },
  ];
  const transforms = parseTransforms(list, 'list');
  assert.deepEqual(transforms[0], { kind: 'randomCrop', size: 32, padding: 4, fill: 0, paddingMode: 'reflect' });
  assert.deepEqual(transforms[3], { kind: 'autoAugment', policy: 'cifar10', fill: [128] });
  assert.deepEqual(transforms[4], { kind: 'randAugment', numOps: 3, magnitude: 9, numMagnitudeBins: 31 });
  assert.deepEqual(transforms[7], { kind: 'randomErasing', p: 0.25, scale: [0.02, 0.33], ratio: [0.3, 3.3], value: 'random' });
  const written = formatTransforms(transforms);
  assert.deepEqual(written[1], { RandomHorizontalFlip: { p: 0.5 } });
  assert.deepEqual(written[2], { ColorJitter: { brightness: 0.4, contrast: 0, saturation: 0, hue: 0.1 } });
  assert.deepEqual(parseTransforms(written, 'again'), transforms, 'what is written reads back the same');
});

test('a wrong transform list is one line naming the key, the item and what is allowed', () => {
  const refused = (list: unknown, pattern: RegExp, storage: 'files' | 'uint8' = 'files') =>
    assert.throws(() => parseTransforms(list, "config key 'data.train.transforms'", storage), pattern);
  refused([{ RandCrop: { size: 3 } }], /'data.train.transforms'\[0\]: unknown transform 'RandCrop' \(allowed: RandomCrop, .*Normalize\)/);
  refused(
    ['RandomHorizontalFlip', { RandomCrop: { sise: 3 } }],
    /\[1\]: RandomCrop has no argument 'sise' \(allowed: size, padding, fill, padding_mode\)/,
  );
  refused([{ RandomCrop: {} }], /\[0\]: RandomCrop needs the argument 'size'/);
  refused(
    [{ RandomCrop: { size: 32, padding_mode: 'wrap' } }],
    /RandomCrop padding_mode: expected one of constant, edge, reflect, symmetric, got "wrap"/,
  );
  refused([{ AutoAugment: { policy: 'cifar100' } }], /AutoAugment policy: expected one of imagenet, cifar10, svhn/);
  refused([{ RandAugment: { magnitude: 31 } }], /randAugment magnitude must be an integer in 0..numMagnitudeBins - 1, got 31/);
  refused([{ Normalize: { mean: [0.5], std: [0.5] } }, 'RandomHorizontalFlip'], /normalize must come last/);
  refused(['RandomErasing', { Normalize: { mean: [0.5], std: [0.5] } }], /randomErasing must come last/);
  refused([{ Resize: { size: 40 } }], /resize needs image files/, 'uint8');
  refused([{ Grayscale: { num_output_channels: 3 } }], /Grayscale has no argument 'num_output_channels' \(it takes none\)/);
  refused({ RandomCrop: { size: 3 } }, /expected a list of transforms/);
  assert.throws(
    () => resolveConfig({ data: { test: { transforms: [{ CenterCrop: { size: 'big' } }] } } }),
    /config key 'data.test.transforms'\[0\]: CenterCrop size: expected an integer, got "big"/,
  );
});

test('RandomCrop with constant, edge, reflect and symmetric padding equals torchvision pad + crop', { skip: noTorchvision }, async () => {
  const shape = [3, 9, 11] as const;
  const pixels = Uint8Array.from({ length: 3 * 9 * 11 }, (_, i) => (i * 37) % 251);
  const storage: ImageStorage = { kind: 'uint8', data: pixels, shape: [...shape] };
  const cases: { mode: string; padding: number; fill: number; top: number; left: number; image: Uint8Array }[] = [];
  for (const mode of ['constant', 'edge', 'reflect', 'symmetric'] as const) {
    for (let k = 0; k < 12; k++) {
      const padding = 1 + (k % 4);
      const transform: Transform = { kind: 'randomCrop', size: 8, padding, fill: 7, paddingMode: mode };
      const image = await transformImage(storage, 0, planTransforms([transform], 'uint8'), Rng.fromKeys(3, k));
      // The same draws as the transform made: the top row, then the left column, of the padded image.
      const draws = Rng.fromKeys(3, k);
      const top = draws.nextInt(9 + 2 * padding - 8 + 1) - padding;
      const left = draws.nextInt(11 + 2 * padding - 8 + 1) - padding;
      cases.push({ mode, padding, fill: 7, top, left, image: image.data });
    }
  }
  const expected = torchvision(
    cases.map(({ mode, padding, fill, top, left }) => ({
      kind: 'pad_crop',
      mode,
      padding,
      fill,
      top,
      left,
      size: 8,
      image: [...pixels],
      shape,
    })),
  );
  cases.forEach(({ mode, padding, top, left, image }, i) =>
    assert.deepEqual([...image], expected[i], `${mode} padding ${padding} at ${top},${left}`),
  );
});

/** Rng draws as RandomErasing makes them, recorded: the p draw and the uniform values as floats, the offsets as ints. */
class RecordedErasingDraws {
  readonly ints: number[] = [];
  readonly floats: number[] = [];
  constructor(private readonly rng: Rng) {}
  nextFloat(): number {
    const value = Math.fround(this.rng.nextFloat());
    this.floats.push(value);
    return value;
  }
  uniform(low: number, high: number): number {
    const value = this.rng.uniform(low, high);
    this.floats.push(value);
    return value;
  }
  nextInt(n: number): number {
    const value = this.rng.nextInt(n);
    this.ints.push(value);
    return value;
  }
  normal(): number {
    return this.rng.normal();
  }
}

test('RandomErasing equals torchvision given the same draws (one value, one per channel); random values are standard normal', {
  skip: noTorchvision,
}, () => {
  const shape = [3, 12, 10] as const;
  const values = Array.from({ length: 360 }, (_, i) => Math.fround(Math.sin(i)));
  const cases = Array.from({ length: 40 }, (_, k) => {
    const transform: Extract<Transform, { kind: 'randomErasing' }> = {
      kind: 'randomErasing',
      p: 0.7,
      scale: k % 2 === 0 ? [0.02, 0.33] : [0.3, 0.9],
      ratio: [0.3, 3.3],
      value: k % 3 === 0 ? [-1, 0.5, 2] : 1.5,
    };
    const out = Float32Array.from(values);
    const draws = new RecordedErasingDraws(Rng.fromKeys(11, k));
    eraseRandomly(out, 0, shape, transform, draws);
    return { out, transform, draws };
  });
  assert.ok(
    cases.some(({ out }) => out.some((v, i) => v !== values[i])),
    'some items are erased',
  );
  assert.ok(
    cases.some(({ out }) => out.every((v, i) => v === values[i])),
    'some items are not',
  );
  const expected = torchvision(
    cases.map(({ transform, draws }) => ({
      kind: 'erase',
      values,
      shape,
      p: transform.p,
      scale: transform.scale,
      ratio: transform.ratio,
      value: transform.value,
      ints: draws.ints,
      floats: draws.floats,
    })),
  );
  cases.forEach(({ out }, i) => assert.deepEqual([...out], expected[i], `case ${i}`));

  const big = new Float32Array(3 * 64 * 64);
  eraseRandomly(big, 0, [3, 64, 64], { kind: 'randomErasing', p: 1, scale: [0.5, 0.5], ratio: [1, 1], value: 'random' }, Rng.fromKeys(5));
  const erased = [...big].filter((v) => v !== 0);
  const mean = erased.reduce((a, b) => a + b, 0) / erased.length;
  const variance = erased.reduce((a, b) => a + (b - mean) ** 2, 0) / erased.length;
  assert.ok(
    erased.length > 5000 && Math.abs(mean) < 0.05 && Math.abs(variance - 1) < 0.08,
    `${erased.length} values, mean ${mean}, variance ${variance}`,
  );
});

/** A list-file data set of 64 x 64 PNG images, two classes (the case: a CIFAR recipe on other sizes). */
async function writeListFileData(dir: string): Promise<void> {
  const lines: string[] = [];
  for (let i = 0; i < 8; i++) {
    const name = `img${i}.png`;
    writeFileSync(path.join(dir, name), await encodedImage(64, 64, 30 * i, 'png'));
    lines.push(`${name} ${i % 2}`);
  }
  writeFileSync(path.join(dir, 'train.txt'), `${lines.join('\n')}\n`);
  writeFileSync(path.join(dir, 'test.txt'), `${lines.join('\n')}\n`);
}

test('presets take the data set size: a CIFAR recipe on 64 x 64 files crops 64 with padding 8; config.yaml lists them', async () => {
  const dir = temporaryDir('presets');
  await writeListFileData(dir);
  const base = { dataset: 'list-file', root: dir, trainList: 'train.txt', testList: 'test.txt', imbalance: { profile: 'none' } };
  const cifar = resolveConfig({ data: { ...base, augment: 'cifar' } });
  const data = loadRunData(cifar);
  const resolved = withTransforms(cifar, data);
  assert.deepEqual(resolved.data.train.transforms!.slice(0, 3), [
    { Resize: { size: 64 } },
    { CenterCrop: { size: 64 } },
    { RandomCrop: { size: 64, padding: 8, fill: 0, padding_mode: 'constant' } },
  ]);
  assert.deepEqual(resolved.data.test.transforms!.slice(0, 2), [{ Resize: { size: 64 } }, { CenterCrop: { size: 64 } }]);
  assert.equal(transformSizeWarning(cifar, data), null);
  // The resolved config reads back as the same lists (what a resumed run trains with).
  assert.deepEqual(resolveConfig(parse(JSON.stringify(resolved))).data.train.transforms, resolved.data.train.transforms);

  const imagenet = resolveConfig({ data: { ...base, augment: 'imagenet', imageSize: 48 } });
  const lists = withTransforms(imagenet, loadRunData(imagenet)).data;
  assert.deepEqual(lists.train.transforms![0], { RandomResizedCrop: { size: 48, scale: [0.08, 1], ratio: [3 / 4, 4 / 3] } });
  assert.deepEqual(lists.test.transforms!.slice(0, 2), [{ Resize: { size: 55 } }, { CenterCrop: { size: 48 } }]);

  const mismatched = resolveConfig({
    data: { ...base, augment: 'none', train: { transforms: [{ RandomCrop: { size: 32, padding: 4 } }] } },
  });
  assert.equal(
    transformSizeWarning(mismatched, loadRunData(mismatched)),
    'training images are 32x32 (data.train.transforms) but evaluation images are 64x64 (data.test.transforms): ' +
      'the model is evaluated at a size it was not trained at',
  );
});
