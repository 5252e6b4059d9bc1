// Loads scatter's Node-API addon and states the shape of what it exports. Everything else in scatter
// reaches libtorch through this one object.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';

import { nativeAddonFile } from '../util/addons.js';

/** An opaque handle to a libtorch tensor, owned by a Tensor. */
export type Handle = { readonly __nativeTensor: unique symbol };

/** Opaque handles to a CUDA graph and to a side stream (native/src/graphs.cc), owned by torch.cuda.Graph / SideStream. */
export type GraphHandle = { readonly __nativeCudaGraph: unique symbol };
export type SideStreamHandle = { readonly __nativeSideStream: unique symbol };

/** An opaque handle to a c10d process group and its store, owned by a distributed.ProcessGroup. */
export type GroupHandle = { readonly __nativeProcessGroup: unique symbol };

export interface NativeAddon {
  /** Frees the tensors now; stale handles are skipped, and nothing is freed unless every argument is a handle. */
  dispose(...handles: Handle[]): void;
  markGcManaged(handle: Handle): void;
  setScopeDepth(depth: number): void;
  memory(): { liveTensors: number; liveBytes: number };

  findOp(name: string, overload: string): number;
  opSchema(id: number): string;
  /** Arguments positional in the operator's schema order; undefined takes the default. */
  callOp(id: number, ...args: unknown[]): unknown;
  /** callOp for in-place operators: the result (the first argument) is not returned. */
  callOpDiscarding(id: number, ...args: unknown[]): void;
  /** Direct (unboxed) calls of the hottest operators on or off; off only to compare the two paths. */
  setDirectCalls(enabled: boolean): void;
  /** Whether an operator has a direct call (native/src/direct.cc). */
  hasDirectCall(id: number): boolean;

  fromBuffer(bytes: ArrayBufferView | ArrayBuffer, shape: number[], dtype: string): Handle;
  toBuffer(handle: Handle): ArrayBuffer;
  shape(handle: Handle): number[];
  strides(handle: Handle): number[];
  dtype(handle: Handle): string;
  device(handle: Handle): string;
  isContiguous(handle: Handle, channelsLast: boolean): boolean;
  sameStorage(a: Handle, b: Handle): boolean;

  backward(outputs: Handle[], grads: (Handle | null)[], retainGraph: boolean, createGraph: boolean): void;
  grad(
    outputs: Handle[],
    inputs: Handle[],
    grads: (Handle | null)[],
    retainGraph: boolean | undefined,
    createGraph: boolean,
    allowUnused: boolean,
  ): (Handle | null)[];
  getGrad(handle: Handle): Handle | null;
  setGrad(handle: Handle, grad: Handle | null): void;
  requiresGrad(handle: Handle): boolean;
  isLeaf(handle: Handle): boolean;
  gradFnName(handle: Handle): string | null;
  retainGrad(handle: Handle): void;
  setGradEnabled(enabled: boolean): boolean;
  isGradEnabled(): boolean;

  /** Channel whitening as one native node (native/src/whitening.cc); updates the running buffers in place when training. */
  channelWhitening(
    input: Handle,
    options: {
      training: boolean;
      groups: number;
      eps: number;
      method: 'zca' | 'newton-schulz';
      iterations: number;
      decompositionDtype: string;
      momentum: number;
      runningMean: Handle;
      runningWhitening: Handle;
      runningCovariance: Handle | null;
      numBatchesTracked: Handle;
      /** ZCA in training: the eigendecomposition of the batch's S + eps I, made outside (a captured step's). */
      eigenvalues?: Handle | null;
      eigenvectors?: Handle | null;
    },
  ): Handle;
  /** The training batch's S + eps I [G, g, g] as channelWhitening computes it, not differentiated. */
  channelWhiteningCovariance(input: Handle, options: { groups: number; eps: number }): Handle;

  manualSeed(seed: number): void;
  getRngState(device?: string): Handle;
  setRngState(state: Handle, device?: string): void;
  setNumThreads(threads: number): void;
  getNumThreads(): number;
  cudaIsAvailable(): boolean;
  cudaDeviceCount(): number;
  version(): { libtorch: string; cuda: boolean; parallel: string };
  autocastEnter(device: string, enabled: boolean, dtype: string): [boolean, string];
  autocastExit(device: string, enabled: boolean, dtype: string): void;
  setParentDeathSignal(signal: number): boolean;

  // CUDA graphs (native/src/graphs.cc): on a build without CUDA every one but cudaGraphsBuilt throws.
  cudaGraphsBuilt(): boolean;
  /** With `previous`: the next part of that graph (its side stream and memory pool). */
  cudaGraphCreate(device: string, previous?: GraphHandle): GraphHandle;
  cudaGraphCaptureBegin(graph: GraphHandle): void;
  cudaGraphCaptureEnd(graph: GraphHandle): void;
  cudaGraphReplay(graph: GraphHandle): void;
  cudaGraphReset(graph: GraphHandle): void;
  cudaSideStreamCreate(device: string): SideStreamHandle;
  cudaSideStreamEnter(stream: SideStreamHandle): void;
  cudaSideStreamLeave(stream: SideStreamHandle): void;

  /** Blocks until all ranks have joined (rank 0 hosts the store) or timeoutMs passes. */
  createProcessGroup(options: {
    backend: 'gloo' | 'nccl';
    rank: number;
    worldSize: number;
    masterAddr: string;
    masterPort: number;
    timeoutMs: number;
  }): GroupHandle;
  // Blocking collectives: allReduce and broadcast write into their tensor, allGather returns worldSize tensors.
  processGroupCollective(group: GroupHandle, kind: 'allReduce', tensors: [Handle], op: 'sum' | 'avg' | 'max' | 'min' | 'product'): void;
  processGroupCollective(group: GroupHandle, kind: 'broadcast', tensors: [Handle], src: number): void;
  processGroupCollective(group: GroupHandle, kind: 'allGather', tensors: [Handle]): Handle[];
  processGroupCollective(group: GroupHandle, kind: 'barrier', tensors: []): void;
  destroyProcessGroup(group: GroupHandle): void;
}

function load(): NativeAddon {
  const file = nativeAddonFile('scatter');
  if (!existsSync(file)) {
    throw new Error(`scatter's native addon is not built (${file} is missing): run \`npm run build:native\``);
  }
  return createRequire(import.meta.url)(file) as NativeAddon;
}

export const native: NativeAddon = load();
