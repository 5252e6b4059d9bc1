// Data-parallel training across processes, as torch.nn.parallel.DistributedDataParallel does it: every
// rank holds a replica of the model, rank 0's parameters and buffers are broadcast once at the start, and
// after each backward pass the gradients are reduced across ranks, flattened into buckets so that one
// collective moves megabytes instead of one small tensor at a time.
//
// Unlike PyTorch's DDP, the reduction runs after the backward pass instead of overlapping it: libtorch's
// per-tensor autograd hooks are not reachable through scatter's binding. Parameters without a gradient
// are left out, so every rank must give the same parameters gradients (true of a model whose every
// parameter is used in every step).
import * as torch from '../torch/index.js';
import type { Module } from './module.js';

type Tensor = torch.Tensor;

export interface DataParallelOptions {
  /** Upper bound of one bucket's bytes (default 25 MiB, PyTorch's default). */
  bucketBytes?: number;
}

/** `tensors` cut into runs of one dtype and device, each run at most `maxBytes` (a bigger tensor alone). */
function buckets(tensors: readonly Tensor[], maxBytes: number): Tensor[][] {
  const result: Tensor[][] = [];
  let current: Tensor[] = [];
  let bytes = 0;
  for (const tensor of tensors) {
    const size = tensor.numel() * torch.bytesPerElement(tensor.dtype);
    const first = current[0];
    const fits = first !== undefined && first.dtype === tensor.dtype && first.device === tensor.device && bytes + size <= maxBytes;
    if (!fits && current.length > 0) {
      result.push(current);
      current = [];
      bytes = 0;
    }
    current.push(tensor);
    bytes += size;
  }
  if (current.length > 0) result.push(current);
  return result;
}

export class DataParallel {
  readonly #bucketBytes: number;

  constructor(
    readonly group: torch.distributed.ProcessGroup,
    options: DataParallelOptions = {},
  ) {
    this.#bucketBytes = options.bucketBytes ?? 25 * 2 ** 20;
    if (!(this.#bucketBytes > 0)) throw new RangeError(`DataParallel: bucketBytes must be positive, got ${this.#bucketBytes}`);
  }

  get rank(): number {
    return this.group.rank;
  }

  get worldSize(): number {
    return this.group.worldSize;
  }

  /** Runs `collective` on each bucket of `tensors` flattened into one buffer, then copies the result back. */
  #bucketed(tensors: readonly Tensor[], collective: (flat: Tensor) => void): void {
    torch.noGrad(() => {
      for (const bucket of buckets(tensors, this.#bucketBytes)) {
        torch.scope(() => {
          const flat = torch.cat(bucket.map((tensor) => tensor.reshape([-1])));
          collective(flat);
          let offset = 0;
          for (const tensor of bucket) {
            tensor.copy_(flat.narrow(0, offset, tensor.numel()).view(tensor.shape));
            offset += tensor.numel();
          }
        });
      }
    });
  }

  /** Makes every rank's parameters and buffers rank 0's (call once, after building or loading the model). */
  broadcastState(module: Module): void {
    const state = [...module.parameters(), ...module.namedBuffers().values()];
    this.#bucketed(state, (flat) => this.group.broadcast(flat, 0));
  }

  /** Reduces the gradients of `parameters` across ranks ('avg' or 'sum'), in buckets. */
  reduceGradients(parameters: readonly Tensor[], op: 'avg' | 'sum' = 'avg'): void {
    const grads = parameters.map((parameter) => parameter.grad).filter((grad): grad is Tensor => grad !== null);
    this.#bucketed(grads, (flat) => this.group.allReduce(flat, op));
  }

  /**
   * Every rank's `tensor` concatenated along dim 0 in rank order (ranks may hold different numbers of
   * rows). This rank's rows stay in the autograd graph; the others' are constants.
   */
  gather(tensor: Tensor, rowsPerRank: readonly number[]): Tensor {
    if (rowsPerRank.length !== this.worldSize || rowsPerRank[this.rank] !== tensor.shape[0]) {
      throw new RangeError(
        `DataParallel.gather: rank ${this.rank} holds ${tensor.shape[0]} rows, expected ${rowsPerRank[this.rank]} ` +
          `(rows per rank ${JSON.stringify(rowsPerRank)})`,
      );
    }
    // Gloo and NCCL gather equal shapes: pad to the largest share, then cut each rank's rows out.
    const most = Math.max(...rowsPerRank);
    const padded = torch.noGrad(() => {
      const buffer = torch.zeros([most, ...tensor.shape.slice(1)], { dtype: tensor.dtype, device: tensor.device });
      buffer.narrow(0, 0, tensor.shape[0]!).copy_(tensor);
      return buffer;
    });
    const parts = this.group.allGather(padded);
    return torch.cat(parts.map((part, rank) => (rank === this.rank ? tensor : part.narrow(0, 0, rowsPerRank[rank]!))));
  }
}
