// scatter's image addon (native/src/image.cc, no libtorch): JPEG decoding of a crop's region (where it was
// built with libjpeg), Pillow's bilinear resampling, and the float conversion of a batch's pixels.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

import { nativeAddonFile } from '../util/addons.js';

export interface ImageAddon {
  /** Absent when the addon was built without libjpeg's headers: JPEGs then go through libvips. */
  jpegHeader?(bytes: Uint8Array): { width: number; height: number; colorSpace: 'gray' | 'rgb' | 'ycbcr' | 'cmyk' | 'ycck' | 'unknown' };
  /** The region's pixels resampled to outWidth x outHeight, channel-major RGB. */
  decodeJpegRegion?(
    bytes: Uint8Array,
    left: number,
    top: number,
    width: number,
    height: number,
    outWidth: number,
    outHeight: number,
  ): Uint8Array;
  /** A region of channel-major pixels resampled to outWidth x outHeight, channel-major. */
  resizeRegion(
    pixels: Uint8Array,
    width: number,
    height: number,
    channels: number,
    left: number,
    top: number,
    cropWidth: number,
    cropHeight: number,
    outWidth: number,
    outHeight: number,
  ): Uint8Array;
  /** out[offset + i] = pixel * scale[c] + shift[c] for channel-major pixels, rounded to float32. */
  normalizeInto(pixels: Uint8Array, channels: number, scale: Float64Array, shift: Float64Array, out: Float32Array, offset: number): void;
}

let addon: ImageAddon | undefined;

// Loaded on first use, in whichever thread needs it (each loader worker loads its own).
export function imageAddon(): ImageAddon {
  if (addon) return addon;
  const file = nativeAddonFile('scatter_image');
  if (!existsSync(file)) throw new Error(`scatter's image addon is not built (${file} is missing): run \`npm run build:native\``);
  addon = createRequire(import.meta.url)(file) as ImageAddon;
  return addon;
}
