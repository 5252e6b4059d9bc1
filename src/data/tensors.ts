// A loader batch as tensors (main thread only: workers never load libtorch).
import type { Device } from '../torch/dtype.js';
import * as torch from '../torch/index.js';
import type { Batch } from './loader.js';

/** images: float32 [B, C, H, W]; labels: int64 [B], as cross-entropy wants them; both on `device`. */
export function batchTensors(batch: Batch, options: { device?: Device } = {}): { images: torch.Tensor; labels: torch.Tensor } {
  return {
    images: torch.fromTypedArray(batch.images, { shape: batch.shape, device: options.device }),
    labels: torch.fromTypedArray(
      BigInt64Array.from(batch.labels, (label) => BigInt(label)),
      { device: options.device },
    ),
  };
}
