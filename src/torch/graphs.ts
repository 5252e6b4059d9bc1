// CUDA graphs as torch.cuda.CUDAGraph and torch.cuda.graph: what train.capture records a training step with
// (src/train/capture.ts). The addon's half is native/src/graphs.cc; a build without CUDA throws "scatter was
// built without CUDA" from every call but graphsBuilt().
import type { Device } from './dtype.js';
import { native } from './native.js';
import type { GraphHandle, SideStreamHandle } from './native.js';

/** Whether this build of the addon has CUDA graphs (it was built against a CUDA libtorch). */
export function graphsBuilt(): boolean {
  return native.cudaGraphsBuilt();
}

/**
 * A CUDA graph on one device. capture(body) records the device work `body` queues (on a side stream of the
 * graph's own, which first waits for the caller's stream) instead of running it; replay() runs that work
 * again on the caller's stream, reading and writing the same memory every time. Tensors made during the
 * capture live in the graph's private memory pool until reset().
 */
export class Graph {
  readonly #handle: GraphHandle;

  constructor(readonly device: Device) {
    this.#handle = native.cudaGraphCreate(device);
  }

  /** Records `body`'s device work; nothing runs. The capture ends (or is abandoned) however `body` ends. */
  capture<T>(body: () => T): T {
    native.cudaGraphCaptureBegin(this.#handle);
    let result: T;
    try {
      result = body();
    } catch (error) {
      try {
        native.cudaGraphCaptureEnd(this.#handle);
      } catch {
        // The body's error is the one to report; the failed capture leaves nothing to replay.
      }
      throw error;
    }
    native.cudaGraphCaptureEnd(this.#handle);
    return result;
  }

  replay(): void {
    native.cudaGraphReplay(this.#handle);
  }

  /** Frees the graph and its memory pool: tensors made during its capture must not be used after this. */
  reset(): void {
    native.cudaGraphReset(this.#handle);
  }
}

/** A stream of its own on a CUDA device, for work that must not run on the default stream (a capture's warm-up). */
export class SideStream {
  readonly #handle: SideStreamHandle;

  constructor(readonly device: Device) {
    this.#handle = native.cudaSideStreamCreate(device);
  }

  /** Runs `body` with this stream current; it waits for the caller's stream first, and the caller's waits for it after. */
  run<T>(body: () => T): T {
    native.cudaSideStreamEnter(this.#handle);
    try {
      return body();
    } finally {
      native.cudaSideStreamLeave(this.#handle);
    }
  }
}
