// Data-parallel communication, shaped like torch.distributed: join a process group, then run blocking
// collectives on tensors. Ranks meet through a TCP store on MASTER_ADDR:MASTER_PORT hosted by rank 0.
import type { Device } from './dtype.js';
import { type GroupHandle, native } from './native.js';
import { cuda } from './runtime.js';
import { Tensor } from './tensor.js';

export type Backend = 'gloo' | 'nccl';
export type ReduceOp = 'sum' | 'avg' | 'max' | 'min' | 'product';

export interface InitOptions {
  /** Default: 'nccl' when `device` is CUDA and CUDA is available, else 'gloo'. */
  backend?: Backend;
  /** Where this rank's tensors live, to choose the default backend; 'cpu' unless stated. */
  device?: Device;
  /** Default: $RANK. */
  rank?: number;
  /** Default: $WORLD_SIZE. */
  worldSize?: number;
  /** This rank's index on its own machine. Default: $LOCAL_RANK, else the rank (one machine). */
  localRank?: number;
  /** Default: $MASTER_ADDR. */
  masterAddr?: string;
  /** Default: $MASTER_PORT. */
  masterPort?: number;
  /** How long joining and each collective may wait for the other ranks; PyTorch's 30 minutes unless stated. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;

/** An integer option, or else the environment variable torchrun sets for it. */
function intSetting(value: number | undefined, option: string, variable: string, min: number, max: number): number {
  if (value !== undefined) {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`initProcessGroup: ${option} must be an integer in [${min}, ${max}], got ${value}`);
    }
    return value;
  }
  const text = process.env[variable];
  if (text === undefined || text === '') {
    throw new Error(`initProcessGroup: ${variable} is not set: pass ${option} in the options or launch with torchrun`);
  }
  const parsed = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
    throw new RangeError(`initProcessGroup: ${variable}=${JSON.stringify(text)} is not an integer in [${min}, ${max}]`);
  }
  return parsed;
}

function defaultBackend(device: Device): Backend {
  return device.startsWith('cuda') && cuda.isAvailable() ? 'nccl' : 'gloo';
}

/** A group of processes that run collectives together; made by initProcessGroup. */
export class ProcessGroup {
  #handle: GroupHandle | null;

  constructor(
    handle: GroupHandle,
    readonly backend: Backend,
    readonly rank: number,
    readonly worldSize: number,
    readonly localRank: number,
  ) {
    this.#handle = handle;
  }

  get #live(): GroupHandle {
    if (this.#handle === null) throw new Error('this process group was destroyed');
    return this.#handle;
  }

  /** Reduces `tensor` across ranks, in place, so that every rank holds the result. */
  allReduce(tensor: Tensor, op: ReduceOp = 'sum'): void {
    native.processGroupCollective(this.#live, 'allReduce', [tensor.handle], op);
  }

  /** Overwrites `tensor` on every rank with rank `src`'s. */
  broadcast(tensor: Tensor, src: number): void {
    native.processGroupCollective(this.#live, 'broadcast', [tensor.handle], src);
  }

  /** Every rank's `tensor`, in rank order, as new tensors. */
  allGather(tensor: Tensor): Tensor[] {
    return native.processGroupCollective(this.#live, 'allGather', [tensor.handle]).map((handle) => new Tensor(handle));
  }

  /** Returns once every rank has called barrier(). */
  barrier(): void {
    native.processGroupCollective(this.#live, 'barrier', []);
  }

  /** Leaves the group and frees its connections; later calls throw. Destroying twice is harmless. */
  destroy(): void {
    if (this.#handle !== null) {
      native.destroyProcessGroup(this.#handle);
      this.#handle = null;
    }
  }
}

/**
 * Joins a process group, blocking until all `worldSize` ranks have joined (or the timeout passes).
 * What the options leave out comes from torchrun's RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT.
 */
export function initProcessGroup(options: InitOptions = {}): ProcessGroup {
  const worldSize = intSetting(options.worldSize, 'worldSize', 'WORLD_SIZE', 1, 2 ** 31 - 1);
  const rank = intSetting(options.rank, 'rank', 'RANK', 0, worldSize - 1);
  const localRank =
    options.localRank !== undefined || process.env.LOCAL_RANK !== undefined
      ? intSetting(options.localRank, 'localRank', 'LOCAL_RANK', 0, worldSize - 1)
      : rank;
  const masterAddr = options.masterAddr ?? process.env.MASTER_ADDR;
  if (masterAddr === undefined || masterAddr === '') {
    throw new Error('initProcessGroup: MASTER_ADDR is not set: pass masterAddr in the options or launch with torchrun');
  }
  const masterPort = intSetting(options.masterPort, 'masterPort', 'MASTER_PORT', 1, 65535);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(`initProcessGroup: timeoutMs must be a positive integer, got ${timeoutMs}`);
  }
  const backend = options.backend ?? defaultBackend(options.device ?? 'cpu');
  const handle = native.createProcessGroup({ backend, rank, worldSize, masterAddr, masterPort, timeoutMs });
  return new ProcessGroup(handle, backend, rank, worldSize, localRank);
}
