// torchvision's operations on 8-bit images (its tensor back end, torchvision/transforms/functional_tensor.py), in
// the same float32 arithmetic: every product, sum and quotient rounded to float32 (Math.fround) where torchvision
// computes in float32, and cast back to 8 bits the way it casts (truncation after clamping, or rounding after
// a grid sample or convolution). What AutoAugment, RandAugment, TrivialAugmentWide and ColorJitter apply.
import type { Image } from './image.js';

const f32 = Math.fround;

function like(image: Image, data: Uint8Array): Image {
  return { data, channels: image.channels, height: image.height, width: image.width };
}

function assertChannels(image: Image, what: string): void {
  if (image.channels !== 1 && image.channels !== 3)
    throw new Error(`${what} needs a 1- or 3-channel image, got ${image.channels} channels`);
}

/**
 * _blend: ratio * image + (1 - ratio) * other, in float32, clamped to 0..255 and truncated; other is one value,
 * an image of the same shape, or one plane blended into every channel. Plain loops: a callback per pixel made
 * ColorJitter twice as slow.
 */
function blend(image: Image, ratio: number, other: number | Uint8Array): Image {
  const r = f32(ratio);
  const s = f32(1 - ratio);
  const { data } = image;
  const out = new Uint8Array(data.length);
  const plane = image.height * image.width;
  const planeOnly = typeof other !== 'number' && other.length === plane;
  for (let c = 0; c < image.channels; c++) {
    for (let p = 0, index = c * plane; p < plane; p++, index++) {
      const mixed = f32(f32(r * data[index]!) + f32(s * (typeof other === 'number' ? other : other[planeOnly ? p : index]!)));
      out[index] = Math.trunc(Math.min(255, Math.max(0, mixed)));
    }
  }
  return like(image, out);
}

/** rgb_to_grayscale of a 3-channel image: one plane, 0.2989 r + 0.587 g + 0.114 b in float32, truncated. */
export function greyPlane(image: Image): Uint8Array {
  const plane = image.height * image.width;
  const { data } = image;
  const out = new Uint8Array(plane);
  const [kr, kg, kb] = [f32(0.2989), f32(0.587), f32(0.114)];
  for (let p = 0; p < plane; p++) {
    out[p] = Math.trunc(f32(f32(f32(kr * data[p]!) + f32(kg * data[plane + p]!)) + f32(kb * data[2 * plane + p]!)));
  }
  return out;
}

export function adjustBrightness(image: Image, factor: number): Image {
  assertChannels(image, 'brightness');
  return blend(image, factor, 0);
}

/** Blends with the mean grey level (float32: exact for images below 2^16 pixels, whose sums stay below 2^24). */
export function adjustContrast(image: Image, factor: number): Image {
  assertChannels(image, 'contrast');
  const grey = image.channels === 3 ? greyPlane(image) : image.data;
  let sum = 0;
  for (const value of grey) sum += value;
  const mean = f32(sum / grey.length);
  return blend(image, factor, mean);
}

/** Blends with the grey image; a 1-channel image is returned as it is (as PIL does). */
export function adjustSaturation(image: Image, factor: number): Image {
  assertChannels(image, 'saturation');
  if (image.channels === 1) return image;
  return blend(image, factor, greyPlane(image));
}

/** _rgb2hsv, the hue shifted by `shift` (mod 1), _hsv2rgb; on 0-1 floats, back to 8 bits by truncation. */
export function adjustHue(image: Image, shift: number): Image {
  if (!(shift >= -0.5 && shift <= 0.5)) throw new RangeError(`hue shift must be in [-0.5, 0.5], got ${shift}`);
  assertChannels(image, 'hue');
  if (image.channels === 1) return image;
  const plane = image.height * image.width;
  const { data } = image;
  const out = new Uint8Array(data.length);
  for (let p = 0; p < plane; p++) {
    const r = f32(data[p]! / 255);
    const g = f32(data[plane + p]! / 255);
    const b = f32(data[2 * plane + p]! / 255);
    const maxc = Math.max(r, g, b);
    const minc = Math.min(r, g, b);
    const equal = maxc === minc;
    const cr = f32(maxc - minc);
    const s = f32(cr / (equal ? 1 : maxc));
    const divisor = equal ? 1 : cr;
    const rc = f32(f32(maxc - r) / divisor);
    const gc = f32(f32(maxc - g) / divisor);
    const bc = f32(f32(maxc - b) / divisor);
    // Exactly one of the three terms is taken (torchvision multiplies the others by false).
    let h = maxc === r ? f32(bc - gc) : maxc === g ? f32(f32(2 + rc) - bc) : f32(f32(4 + gc) - rc);
    // h / 6 is computed as a float32 division; fmod(h / 6 + 1, 1).
    h = f32(f32(f32(h / 6) + 1) % 1);
    h = f32(f32(h + f32(shift)) % 1);
    if (h < 0) h = f32(h + 1); // Python's % (torch's remainder) is never negative for a positive divisor.
    const v = maxc;
    const h6 = f32(h * 6);
    const i = Math.floor(h6);
    const fraction = f32(h6 - i);
    const pp = Math.min(1, Math.max(0, f32(v * f32(1 - s))));
    const q = Math.min(1, Math.max(0, f32(v * f32(1 - f32(s * fraction)))));
    const t = Math.min(1, Math.max(0, f32(v * f32(1 - f32(s * f32(1 - fraction))))));
    const sector = ((i % 6) + 6) % 6;
    const rgb = [
      [v, q, pp, pp, t, v],
      [t, v, v, q, pp, pp],
      [pp, pp, t, v, v, q],
    ];
    for (let c = 0; c < 3; c++) out[c * plane + p] = Math.trunc(f32(rgb[c]![sector]! * 255));
  }
  return like(image, out);
}

/** Blends with the image smoothed by a 3 x 3 kernel (1s, 5 in the middle, / 13) inside a one-pixel border. */
export function adjustSharpness(image: Image, factor: number): Image {
  assertChannels(image, 'sharpness');
  const { channels, height, width, data } = image;
  if (height <= 2 || width <= 2) return image;
  const blurred = Uint8Array.from(data);
  for (let c = 0; c < channels; c++) {
    const base = c * height * width;
    for (let y = 1; y < height - 1; y++) {
      for (let x = 1; x < width - 1; x++) {
        let sum = 4 * data[base + y * width + x]!;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) sum += data[base + (y + dy) * width + x + dx]!;
        // sum / 13 is never within 1/26 of a half, so float32 rounding cannot change the rounded value.
        blurred[base + y * width + x] = Math.round(sum / 13);
      }
    }
  }
  return blend(image, factor, blurred);
}

/** Keeps the `bits` highest bits of every value. */
export function posterize(image: Image, bits: number): Image {
  if (!Number.isInteger(bits) || bits < 0 || bits > 8) throw new RangeError(`posterize bits must be an integer in 0..8, got ${bits}`);
  const mask = (0xff << (8 - bits)) & 0xff;
  return like(
    image,
    image.data.map((value) => value & mask),
  );
}

/** Inverts every value at or above the threshold. */
export function solarize(image: Image, threshold: number): Image {
  return like(
    image,
    image.data.map((value) => (value >= threshold ? 255 - value : value)),
  );
}

export function invert(image: Image): Image {
  return like(
    image,
    image.data.map((value) => 255 - value),
  );
}

/** Stretches every channel to 0..255: (value - min) * (255 / (max - min)) in float32, truncated; a flat channel stays. */
export function autocontrast(image: Image): Image {
  assertChannels(image, 'autocontrast');
  const plane = image.height * image.width;
  const out = new Uint8Array(image.data.length);
  for (let c = 0; c < image.channels; c++) {
    const channel = image.data.subarray(c * plane, (c + 1) * plane);
    let [low, high] = [255, 0];
    for (const value of channel) [low, high] = [Math.min(low, value), Math.max(high, value)];
    const flat = high === low;
    const minimum = flat ? 0 : low;
    // Python's 255 / tensor is tensor.reciprocal() * 255.
    const scale = flat ? 1 : f32(f32(1 / (high - low)) * 255);
    channel.forEach((value, p) => {
      out[c * plane + p] = Math.trunc(Math.min(255, Math.max(0, f32((value - minimum) * scale))));
    });
  }
  return like(image, out);
}

/** Histogram equalisation per channel, in torchvision's integer form (PIL's ImageOps.equalize). */
export function equalize(image: Image): Image {
  assertChannels(image, 'equalize');
  const plane = image.height * image.width;
  const out = new Uint8Array(image.data.length);
  for (let c = 0; c < image.channels; c++) {
    const channel = image.data.subarray(c * plane, (c + 1) * plane);
    const histogram = new Array<number>(256).fill(0);
    for (const value of channel) histogram[value]!++;
    const nonzero = histogram.filter((count) => count !== 0);
    const step = Math.floor(nonzero.slice(0, -1).reduce((a, b) => a + b, 0) / 255);
    if (step === 0) {
      out.set(channel, c * plane);
      continue;
    }
    const lut = new Uint8Array(256);
    let cumulative = 0;
    // lut[v] = (counts below v + step // 2) // step, clamped (torchvision pads the cumulative sum by one on the left).
    for (let v = 0; v < 256; v++) {
      lut[v] = Math.min(255, Math.floor((cumulative + Math.floor(step / 2)) / step));
      cumulative += histogram[v]!;
    }
    channel.forEach((value, p) => {
      out[c * plane + p] = lut[value]!;
    });
  }
  return like(image, out);
}

/**
 * torch.linspace in float32: the step in float32, the first half counted up from start and the second half down from
 * end, each value rounded once (the fused multiply-add of libtorch's scalar loop). libtorch's vectorised loop rounds a
 * few values differently, depending on the CPU's vector width, so values may differ from it by one float32 ulp.
 */
export function linspace32(start: number, end: number, steps: number): number[] {
  if (steps === 1) return [f32(start)];
  const [from, to] = [f32(start), f32(end)];
  const step = f32(f32(to - from) / (steps - 1));
  const half = Math.floor(steps / 2);
  return Array.from({ length: steps }, (_, i) => (i < half ? f32(from + step * i) : f32(to - step * (steps - i - 1))));
}

/** An affine map: the angle and shears in degrees, the translation in pixels, about `center` (pixels from the centre). */
export interface Affine {
  angle: number;
  translate: readonly [number, number];
  scale: number;
  shear: readonly [number, number];
  /** Offset of the centre of the map from the image's centre, in pixels. */
  center: readonly [number, number];
}

/** torchvision's _get_inverse_affine_matrix (output pixel -> input pixel), in double precision as Python computes it. */
function inverseAffineMatrix({ angle, translate, scale, shear, center }: Affine): number[] {
  const radians = (degrees: number) => (degrees * Math.PI) / 180;
  const rot = radians(angle);
  const [sx, sy] = [radians(shear[0]), radians(shear[1])];
  const [cx, cy] = center;
  const [tx, ty] = translate;
  const a = Math.cos(rot - sy) / Math.cos(sy);
  const b = (-Math.cos(rot - sy) * Math.tan(sx)) / Math.cos(sy) - Math.sin(rot);
  const c = Math.sin(rot - sy) / Math.cos(sy);
  const d = (-Math.sin(rot - sy) * Math.tan(sx)) / Math.cos(sy) + Math.cos(rot);
  const m = [d, -b, 0, -c, a, 0].map((x) => x / scale);
  m[2] = m[2]! + m[0]! * (-cx - tx) + m[1]! * (-cy - ty) + cx;
  m[5] = m[5]! + m[3]! * (-cx - tx) + m[4]! * (-cy - ty) + cy;
  return m;
}

/**
 * F.affine / F.rotate on a tensor image with nearest sampling: the output grid in float32 (_gen_affine_grid), sampled
 * as grid_sample(align_corners=False) does, places outside the image taking `fill` per channel (0 by default).
 */
export function affine(image: Image, map: Affine, fill: readonly number[] = [0]): Image {
  const { channels, height, width, data } = image;
  const theta = inverseAffineMatrix(map).map(f32);
  const [halfW, halfH] = [f32(0.5 * width), f32(0.5 * height)];
  const r = [0, 1, 2].map((k) => [f32(theta[k]! / halfW), f32(theta[3 + k]! / halfH)] as const);
  const xs = linspace32(-width * 0.5 + 0.5, width * 0.5 + 0.5 - 1, width);
  const ys = linspace32(-height * 0.5 + 0.5, height * 0.5 + 0.5 - 1, height);
  const plane = height * width;
  const out = new Uint8Array(data.length);
  const fills = Array.from({ length: channels }, (_, c) => Math.round(fill.length === 1 ? fill[0]! : fill[c]!));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const gx = f32(f32(f32(xs[x]! * r[0]![0]) + f32(ys[y]! * r[1]![0])) + r[2]![0]);
      const gy = f32(f32(f32(xs[x]! * r[0]![1]) + f32(ys[y]! * r[1]![1])) + r[2]![1]);
      // grid_sample's unnormalisation, then nearbyint (ties to even).
      const ix = roundHalfEvenFloat(f32(f32(f32(f32(gx + 1) * width) - 1) / 2));
      const iy = roundHalfEvenFloat(f32(f32(f32(f32(gy + 1) * height) - 1) / 2));
      const inside = ix >= 0 && ix < width && iy >= 0 && iy < height;
      for (let c = 0; c < channels; c++) out[c * plane + y * width + x] = inside ? data[c * plane + iy * width + ix]! : fills[c]!;
    }
  }
  return like(image, out);
}

function roundHalfEvenFloat(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction !== 0.5) return Math.round(value);
  return floor % 2 === 0 ? floor : floor + 1;
}
