// A loader batch as tensors (main thread only: workers never load libtorch).
import type { Device } from '../torch/dtype.js';
import * as torch from '../torch/index.js';
import type { Batch } from './loader.js';
import { channelFactors } from './transforms.js';

/**
 * images: float32 [B, C, H, W]; labels: int64 [B], as cross-entropy wants them; both on `device`. 8-bit images
 * (the loader's pixels 'uint8') move as bytes and are normalised there, in float64 rounded to float32 once: the
 * values a float32 batch has, bit for bit.
 */
export function batchTensors(batch: Batch, options: { device?: Device } = {}): { images: torch.Tensor; labels: torch.Tensor } {
  const { device } = options;
  return {
    images:
      batch.images instanceof Uint8Array
        ? normalizedImages(batch, device)
        : torch.fromTypedArray(batch.images, { shape: batch.shape, device }),
    labels: torch.fromTypedArray(
      BigInt64Array.from(batch.labels, (label) => BigInt(label)),
      { device },
    ),
  };
}

function normalizedImages(batch: Batch, device: Device | undefined): torch.Tensor {
  const channels = batch.shape[1];
  const { scale, shift } = channelFactors(batch.normalize, channels);
  return torch.scope(() => {
    const factor = (values: Float64Array): torch.Tensor => torch.fromTypedArray(values, { shape: [1, channels, 1, 1], device });
    const pixels = torch.fromTypedArray(batch.images, { shape: batch.shape, device });
    // Two operations, not one fused multiply-add: the worker's arithmetic is a rounded product, then a rounded sum.
    return pixels.double().mul(factor(scale)).add(factor(shift)).float();
  });
}
