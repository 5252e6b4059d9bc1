// Process-wide settings: seeds, random-generator state, threads, CUDA availability.
import { availableParallelism, constants as osConstants } from 'node:os';

import type { Device, Dtype } from './dtype.js';
import { Graph, SideStream, capturingInParts, graphsBuilt, hostStep, withPartBoundary } from './graphs.js';
import { native } from './native.js';
import { Tensor } from './tensor.js';

/** Seeds libtorch's CPU and CUDA generators: the same seed gives the same numbers, run after run. */
export function manualSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`manualSeed: expected a non-negative integer, got ${seed}`);
  native.manualSeed(seed);
}

/** The state of a device's default generator (uint8 tensor), to save with a checkpoint. */
export function getRngState(device: string = 'cpu'): Tensor {
  return new Tensor(native.getRngState(device));
}

export function setRngState(state: Tensor, device: string = 'cpu'): void {
  native.setRngState(state.handle, device);
}

/** Threads libtorch uses for intra-op parallelism. */
export function setNumThreads(threads: number): void {
  native.setNumThreads(threads);
}

export function getNumThreads(): number {
  return native.getNumThreads();
}

export const cuda = {
  isAvailable: (): boolean => native.cudaIsAvailable(),
  deviceCount: (): number => native.cudaDeviceCount(),
  /** CUDA graphs (graphs.ts): whether this build has them, a graph, a side stream; host steps between a graph's parts. */
  graphsBuilt,
  Graph,
  SideStream,
  hostStep,
  capturingInParts,
  withPartBoundary,
};

/**
 * Asks the kernel to send this process `signal` when its parent ends, however it ends (Linux's
 * PR_SET_PDEATHSIG; the addon is scatter's one native door). Returns false where the system has no such setting.
 */
export function setParentDeathSignal(signal: NodeJS.Signals): boolean {
  return native.setParentDeathSignal(osConstants.signals[signal]);
}

/** libtorch's version, whether it has CUDA, and its parallel backend. */
export function version(): { libtorch: string; cuda: boolean; parallel: string } {
  return native.version();
}

// Debian's libtorch starts with 1 intra-op thread (Python's torch too, on these machines); scatter uses
// every core unless SCATTER_NUM_THREADS or OMP_NUM_THREADS says otherwise.
function initialThreads(): number {
  const requested = process.env.SCATTER_NUM_THREADS ?? process.env.OMP_NUM_THREADS;
  const parsed = requested === undefined ? NaN : Number.parseInt(requested, 10);
  return Number.isFinite(parsed) && parsed > 0 ? parsed : availableParallelism();
}

setNumThreads(initialThreads());

/**
 * Runs `body` with autocast on `device`'s type (cpu or cuda), as torch.autocast: inside it, matrix
 * products and convolutions run in `dtype` (default bfloat16) while precision-sensitive ops (softmax,
 * losses, norms) stay in float32; autograd takes the casts into account. Regions nest; leaving one restores
 * the state before it.
 */
export function autocast<T>(device: Device, options: { dtype?: Dtype; enabled?: boolean }, body: () => T): T {
  const [enabled, dtype] = native.autocastEnter(device, options.enabled ?? true, options.dtype ?? 'bfloat16');
  try {
    return body();
  } finally {
    native.autocastExit(device, enabled, dtype);
  }
}
