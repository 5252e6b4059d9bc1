// CUDA graphs as torch.cuda.CUDAGraph and torch.cuda.graph: what train.capture records a training step with
// (src/train/capture.ts). The addon's half is native/src/graphs.cc; a build without CUDA throws "scatter was
// built without CUDA" from every call but graphsBuilt().
//
// A graph may be captured in parts around work that waits for the host (hostStep: ZCA whitening's linalg.eigh,
// whose CUDA kernel checks its result on the CPU): torch.cuda.make_graphed_callables' scheme, one memory pool and
// one capture stream for all parts, so that autograd's backward in a later part runs through the nodes an earlier
// part's forward recorded. A replay runs part, host work, part, ... in the captured order.
import type { Device } from './dtype.js';
import { native } from './native.js';
import type { GraphHandle, SideStreamHandle } from './native.js';

/** Whether this build of the addon has CUDA graphs (it was built against a CUDA libtorch). */
export function graphsBuilt(): boolean {
  return native.cudaGraphsBuilt();
}

/** Where hostStep sends its work while a capture that can be cut is under way; null: it runs at once. */
let partBoundary: ((work: () => void) => void) | null = null;

/** Whether a capture that hostStep cuts in parts is under way (a layer then takes its path around the host's work). */
export function capturingInParts(): boolean {
  return partBoundary !== null;
}

/**
 * Work a CUDA graph cannot hold because it waits for the host. Outside a capture it runs at once; inside
 * Graph.capture it ends the part being recorded and runs between that part and the next at every replay, not at
 * the capture: it may read what earlier parts wrote and must write only into tensors that exist before it.
 */
export function hostStep(work: () => void): void {
  if (partBoundary === null) work();
  else partBoundary(work);
}

/** Runs `body` with hostStep's work handed to `boundary`: Graph.capture's cut, or a CPU stand-in's for it in tests. */
export function withPartBoundary<T>(boundary: (work: () => void) => void, body: () => T): T {
  if (partBoundary !== null) throw new Error('a capture in parts is under way already');
  partBoundary = boundary;
  try {
    return body();
  } finally {
    partBoundary = null;
  }
}

/**
 * A CUDA graph on one device. capture(body) records the device work `body` queues (on a side stream of the
 * graph's own, which first waits for the caller's stream) instead of running it; replay() runs that work
 * again on the caller's stream, reading and writing the same memory every time. Tensors made during the
 * capture live in the graph's private memory pool until reset(). Each hostStep in `body` cuts the capture: the
 * graph is then parts (native graphs on that stream and pool) with the host's work between them.
 */
export class Graph {
  /** The parts in capture order; the first is made with the graph, the others by hostStep's cuts. */
  #parts: GraphHandle[];
  /** The host's work after each part but the last. */
  #between: (() => void)[] = [];

  constructor(readonly device: Device) {
    this.#parts = [native.cudaGraphCreate(device)];
  }

  /** How many parts the capture made (1: no hostStep). */
  get parts(): number {
    return this.#parts.length;
  }

  /** Records `body`'s device work; nothing runs. The capture ends (or is abandoned) however `body` ends. */
  capture<T>(body: () => T): T {
    const first = this.#parts[0]!;
    let current = first;
    native.cudaGraphCaptureBegin(current);
    const cut = (work: () => void): void => {
      native.cudaGraphCaptureEnd(current);
      this.#between.push(work);
      current = native.cudaGraphCreate(this.device, first);
      this.#parts.push(current);
      native.cudaGraphCaptureBegin(current);
    };
    let result: T;
    try {
      result = withPartBoundary(cut, body);
    } catch (error) {
      try {
        native.cudaGraphCaptureEnd(current);
      } catch {
        // The body's error is the one to report; the failed capture leaves nothing to replay.
      }
      throw error;
    }
    native.cudaGraphCaptureEnd(current);
    return result;
  }

  replay(): void {
    this.#parts.forEach((part, i) => {
      native.cudaGraphReplay(part);
      this.#between[i]?.();
    });
  }

  /** Frees the graph and its memory pool: tensors made during its capture must not be used after this. */
  reset(): void {
    for (const part of this.#parts) native.cudaGraphReset(part);
    this.#parts = [this.#parts[0]!];
    this.#between = [];
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
