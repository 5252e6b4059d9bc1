// Image files decoded and resampled as torchvision's PIL pipeline does them (Image.open, convert('RGB'),
// resized_crop / resize, bilinear), byte for byte: JPEGs whose crop is decoded by itself (4:2:0, 4:4:4,
// progressive, grey, odd sizes), PNGs through libvips, with and without the decoded-image cache; libvips'
// whole-image JPEG decoding (the path where the addon lacks libjpeg) giving the same pixels; and the errors a
// damaged JPEG gets.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import sharp from 'sharp';

import { type Rect, decodeImageFile, setDecodedCacheBytes } from '../../src/data/decode.js';
import { Rng } from '../../src/data/random.js';
import { randomResizedCropRect, resizedSize } from '../../src/data/transforms.js';
import { runPython, temporaryDir, torchvisionMissing } from '../helpers/python.js';

const noTorchvision = torchvisionMissing() ?? false;

/** Smooth colour fields with pixel noise: chroma edges everywhere, so an upsampling slip at a crop's edge shows. */
function scene(width: number, height: number, seed: number): Buffer {
  const rng = Rng.fromKeys(seed);
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const field = 128 + 100 * Math.sin((x * (c + 1)) / 9 + seed) * Math.cos((y * (3 - c)) / 7);
        raw[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(field + rng.uniform(-20, 20))));
      }
    }
  }
  return raw;
}

type Kind = 'jpeg420' | 'jpeg444' | 'progressive' | 'grey' | 'png';

async function writeImage(dir: string, kind: Kind, width: number, height: number, seed: number): Promise<string> {
  const image = sharp(scene(width, height, seed), { raw: { width, height, channels: 3 } });
  const encoded =
    kind === 'png'
      ? image.png()
      : (kind === 'grey' ? image.greyscale() : image).jpeg({
          quality: 90,
          chromaSubsampling: kind === 'jpeg444' ? '4:4:4' : '4:2:0',
          progressive: kind === 'progressive',
        });
  const file = path.join(dir, `${kind}-${width}x${height}.${kind === 'png' ? 'png' : 'jpg'}`);
  writeFileSync(file, await encoded.toBuffer());
  return file;
}

type Case = { file: string; crop: Rect; out: [number, number] } | { file: string; resize: number };

function torchvisionPil(dir: string, cases: Case[]): Uint8Array[] {
  const [input, output] = [path.join(dir, 'cases.json'), path.join(dir, 'out.bin')];
  writeFileSync(input, JSON.stringify(cases.map((c) => ('crop' in c ? { file: c.file, ...c.crop, out: c.out } : c))));
  runPython('torchvision_pil_resample.py', [input, output]);
  const bytes = readFileSync(output);
  const shapes = JSON.parse(readFileSync(`${output}.json`, 'utf8')) as number[][];
  let offset = 0;
  return shapes.map((shape) => {
    const size = shape.reduce((a, b) => a * b, 1);
    offset += size;
    return new Uint8Array(bytes.subarray(offset - size, offset));
  });
}

async function scatterDecode(c: Case, source: 'path' | 'bytes'): Promise<Uint8Array> {
  const input = source === 'path' ? c.file : new Uint8Array(readFileSync(c.file));
  const image = await decodeImageFile(input, (width, height) =>
    'crop' in c ? { crop: c.crop, width: c.out[1], height: c.out[0] } : resizedSize(width, height, c.resize),
  );
  return image.data;
}

test('crops and resizes of JPEG and PNG files equal torchvision PIL pipeline, cached or not', { skip: noTorchvision }, async () => {
  const dir = temporaryDir('decode');
  const cases: Case[] = [];
  const images: [Kind, number, number][] = [
    ['jpeg420', 200, 150],
    ['jpeg444', 120, 96],
    ['progressive', 160, 120],
    ['grey', 97, 131],
    ['jpeg420', 133, 101],
    ['png', 90, 70],
  ];
  for (const [k, [kind, width, height]] of images.entries()) {
    const file = await writeImage(dir, kind, width, height, k);
    const rng = Rng.fromKeys(17, k);
    for (let i = 0; i < 6; i++) cases.push({ file, crop: randomResizedCropRect(width, height, rng), out: [64, 64] });
    // The whole image; one pixel; a crop on the right and bottom edges; one starting on a block boundary;
    // upsampling; one side resized only; Resize's shorter side.
    cases.push(
      { file, crop: { left: 0, top: 0, width, height }, out: [height, width] },
      { file, crop: { left: 5, top: 7, width: 1, height: 1 }, out: [3, 3] },
      { file, crop: { left: width - 37, top: height - 29, width: 37, height: 29 }, out: [48, 40] },
      { file, crop: { left: 16, top: 16, width: 40, height: 33 }, out: [33, 40] },
      { file, crop: { left: 3, top: 2, width: 50, height: 20 }, out: [20, 77] },
      { file, resize: 48 },
    );
  }
  const expected = torchvisionPil(dir, cases);
  for (const [i, c] of cases.entries()) {
    const label = `${path.basename(c.file)} ${JSON.stringify('crop' in c ? [c.crop, c.out] : c.resize)}`;
    assert.deepEqual(await scatterDecode(c, 'path'), expected[i], label);
    assert.deepEqual(await scatterDecode(c, 'bytes'), expected[i], `${label} (bytes)`);
  }
  // Where the addon was built without libjpeg, JPEGs are decoded whole by libvips: the same pixels.
  for (const file of new Set(cases.map((c) => c.file))) {
    const { data, info } = await sharp(file).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    const whole = await decodeImageFile(file);
    assert.deepEqual([whole.height, whole.width], [info.height, info.width]);
    const plane = info.width * info.height;
    const interleaved = new Uint8Array(data.length);
    for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) interleaved[p * 3 + c] = whole.data[c * plane + p]!;
    assert.deepEqual(interleaved, new Uint8Array(data), `libvips: ${path.basename(file)}`);
  }
  // Through the cache: the whole image decoded once, each crop resampled from it.
  setDecodedCacheBytes(64 * 1024 * 1024);
  try {
    for (const [i, c] of cases.entries()) assert.deepEqual(await scatterDecode(c, 'path'), expected[i], `cached: ${path.basename(c.file)}`);
  } finally {
    setDecodedCacheBytes(0);
  }
});

test('a truncated or damaged JPEG is a one-line error naming the file, whole or cropped', async () => {
  const dir = temporaryDir('decode-bad');
  const good = readFileSync(await writeImage(dir, 'jpeg420', 64, 48, 1));
  const truncated = path.join(dir, 'truncated.jpg');
  writeFileSync(truncated, good.subarray(0, Math.floor(good.length / 2)));
  const damaged = path.join(dir, 'damaged.jpg');
  writeFileSync(damaged, Buffer.concat([good.subarray(0, 2), Buffer.from('not the rest of a JPEG')]));
  const crop = () => ({ crop: { left: 4, top: 4, width: 20, height: 20 }, width: 8, height: 8 });
  for (const resampling of [undefined, crop]) {
    await assert.rejects(decodeImageFile(truncated, resampling), /truncated\.jpg: cannot decode image: Premature end of JPEG file$/);
    await assert.rejects(decodeImageFile(damaged, resampling), (error: Error) => {
      assert.match(error.message, /damaged\.jpg: cannot decode image: \S/);
      assert.ok(!error.message.includes('\n'));
      return true;
    });
  }
  const outside = () => ({ crop: { left: 50, top: 0, width: 20, height: 20 }, width: 8, height: 8 });
  await assert.rejects(
    decodeImageFile(path.join(dir, 'jpeg420-64x48.jpg'), outside),
    /jpeg420-64x48\.jpg: cannot decode image: crop 20x20 at \(50, 0\) is not inside the 64x48 image/,
  );
});
