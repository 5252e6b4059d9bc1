// The loader: batches of transformed images, prepared ahead by worker threads while the main thread is
// busy in synchronous libtorch calls. Each batch is a pure function of (data set, batch sampler,
// transforms, seed, epoch, batch number), so batches are the same with or without workers, whatever
// their timing, and a run resumes at batch k of epoch e by asking for epoch e from batch k.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

import { type BatchJob, type BatchPixels, type BatchShape, type PixelFormat, assembleBatch } from './batch.js';
import { type Dataset, type ImageStorage, sharedBytes } from './dataset.js';
import { type BatchSampler, shardRange } from './samplers.js';
import { type Normalize, type Transform, type TransformPlan, planTransforms } from './transforms.js';

/** One rank's share of global batch `batch` of `epoch`. */
export interface Batch {
  readonly epoch: number;
  readonly batch: number;
  /**
   * B x C x H x W, transformed: float32 and normalised (ready for torch.fromTypedArray(images, { shape })), or, for
   * the loader option pixels 'uint8', the 8-bit pixels that batchTensors normalises with `normalize`.
   */
  readonly images: Float32Array | Uint8Array;
  readonly shape: BatchShape;
  /** The normalisation still to apply to 8-bit images (none: pixel / 255); absent for float32 images. */
  readonly normalize?: Normalize;
  readonly labels: Int32Array;
  /** The items' positions in the data set. */
  readonly indices: Int32Array;
  /** Items in the global batch, over all ranks (this rank's share is shardRange(globalSize, rank, worldSize)). */
  readonly globalSize: number;
}

/** Where a run stands: the next batch to train on. JSON as it is; resume with loader.epoch(epoch, { startBatch: batch }). */
export interface LoaderPosition {
  epoch: number;
  batch: number;
}

export interface LoaderOptions {
  batchSampler: BatchSampler;
  transforms?: readonly Transform[];
  /** Seeds the augmentation (default 0); the sampler has its own seed. */
  seed?: number;
  /**
   * Worker threads; 0 prepares batches in this thread. Default: the cores less one, at most 4. Image
   * files are decoded by sharp on libuv's thread pool, which all threads of a process share: on a large
   * machine start node with UV_THREADPOOL_SIZE set to the cores (libuv's default is 4).
   */
  workers?: number;
  /** Batches prepared ahead of the one being consumed (default: 2 per worker, at least 2). */
  prefetch?: number;
  /** Distributed training: this process's rank and the number of ranks (default 0 of 1). */
  rank?: number;
  worldSize?: number;
  /**
   * Image files: bytes of decoded images the workers keep between epochs (split evenly among them; 0,
   * the default, keeps none; in-thread loading, workers 0, keeps none either). See decode.ts.
   */
  decodedCacheBytes?: number;
  /**
   * 'float32' (the default): batches of normalised values. 'uint8': the pixels before normalisation, a quarter of
   * the bytes to write and move; batchTensors normalises them on the tensors' device to the same float32 values
   * (for accelerators, where that costs nothing). Not with randomErasing, which erases normalised values.
   */
  pixels?: PixelFormat;
}

/** What a worker receives once. */
export interface WorkerInit {
  storage: ImageStorage;
  plan: TransformPlan;
  seed: number;
  decodedCacheBytes: number;
  pixels: PixelFormat;
}

export interface WorkerRequest {
  id: number;
  job: BatchJob;
  /** A recycled batch buffer to write into (see Loader.recycle). */
  spare?: ArrayBuffer;
}

export type WorkerReply = { id: number; pixels: BatchPixels } | { id: number; error: string };

/** In-memory images move to a SharedArrayBuffer (once) so that workers read them without copies. */
function shareable(storage: ImageStorage): ImageStorage {
  if (storage.kind === 'files' || storage.data.buffer instanceof SharedArrayBuffer) return storage;
  const data = sharedBytes(storage.data.length);
  data.set(storage.data);
  return { ...storage, data };
}

interface PoolWorker {
  worker: Worker;
  pending: Set<number>;
}

/** Worker threads that assemble batches; each job goes to the worker with the fewest outstanding. */
class WorkerPool {
  private readonly workers: PoolWorker[];
  private readonly replies = new Map<number, { resolve: (pixels: BatchPixels) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  private failure: Error | undefined;

  constructor(count: number, init: WorkerInit) {
    this.workers = Array.from({ length: count }, () => {
      const entry: PoolWorker = {
        worker: new Worker(new URL('./loader-worker.js', import.meta.url), { workerData: init }),
        pending: new Set(),
      };
      // An idle worker must not keep the process alive; one with work does (its reply is awaited).
      entry.worker.unref();
      entry.worker.on('message', (reply: WorkerReply) => this.settle(entry, reply));
      entry.worker.on('error', (error) => this.fail(entry, error));
      entry.worker.on('exit', (code) => this.fail(entry, new Error(`a loader worker exited (code ${code})`)));
      return entry;
    });
  }

  run(job: BatchJob, spare: ArrayBuffer | undefined): Promise<BatchPixels> {
    if (this.failure) return Promise.reject(this.failure);
    const entry = this.workers.reduce((best, candidate) => (candidate.pending.size < best.pending.size ? candidate : best));
    const id = this.nextId++;
    if (entry.pending.size === 0) entry.worker.ref();
    entry.pending.add(id);
    return new Promise((resolve, reject) => {
      this.replies.set(id, { resolve, reject });
      entry.worker.postMessage({ id, job, spare } satisfies WorkerRequest, spare ? [spare] : []);
    });
  }

  private settle(entry: PoolWorker, reply: WorkerReply): void {
    entry.pending.delete(reply.id);
    if (entry.pending.size === 0) entry.worker.unref();
    const waiter = this.replies.get(reply.id);
    this.replies.delete(reply.id);
    if ('error' in reply) waiter?.reject(new Error(reply.error));
    else waiter?.resolve(reply.pixels);
  }

  private fail(entry: PoolWorker, error: Error): void {
    this.failure ??= error;
    for (const id of entry.pending) {
      this.replies.get(id)?.reject(error);
      this.replies.delete(id);
    }
    entry.pending.clear();
  }

  async close(): Promise<void> {
    this.failure = new Error('the loader is closed');
    // Node does not keep the process alive for a worker's termination: with nothing else pending (and
    // libtorch loaded, termination takes long enough to notice), the process exited with the caller's
    // promise never settled and exit code 0. A timer holds the event loop until every worker is gone.
    const keepAlive = setInterval(() => undefined, 1000);
    try {
      await Promise.all(
        this.workers.map((entry) => {
          entry.worker.removeAllListeners('exit');
          return entry.worker.terminate();
        }),
      );
    } finally {
      clearInterval(keepAlive);
    }
  }
}

export class Loader {
  private readonly plan: TransformPlan;
  private readonly storage: ImageStorage;
  private readonly workerCount: number;
  private readonly prefetch: number;
  private readonly rank: number;
  private readonly worldSize: number;
  private readonly seed: number;
  private readonly pixels: PixelFormat;
  /** Buffers of consumed batches (recycle), written again instead of fresh memory: see recycle. */
  private readonly spares: ArrayBuffer[] = [];
  private pool: WorkerPool | undefined;

  constructor(
    readonly dataset: Dataset,
    readonly options: LoaderOptions,
  ) {
    this.plan = planTransforms(options.transforms ?? [], dataset.storage.kind);
    this.storage = dataset.storage;
    this.workerCount = options.workers ?? Math.min(4, Math.max(1, availableParallelism() - 1));
    this.prefetch = options.prefetch ?? Math.max(2, 2 * this.workerCount);
    this.rank = options.rank ?? 0;
    this.worldSize = options.worldSize ?? 1;
    this.seed = options.seed ?? 0;
    this.pixels = options.pixels ?? 'float32';
    if (this.pixels === 'uint8' && this.plan.erasing) {
      throw new Error("loader: pixels 'uint8' cannot carry randomErasing, which erases normalised values (use float32)");
    }
    shardRange(0, this.rank, this.worldSize); // validates rank and world size
    if (!Number.isInteger(this.workerCount) || this.workerCount < 0)
      throw new RangeError(`workers must be an integer >= 0, got ${this.workerCount}`);
    if (!Number.isInteger(this.prefetch) || this.prefetch < 1)
      throw new RangeError(`prefetch must be an integer >= 1, got ${this.prefetch}`);
  }

  numBatches(epoch: number): number {
    return this.options.batchSampler.epochBatches(epoch).length;
  }

  /**
   * This rank's batches of `epoch`, from batch `startBatch` on, in order. At most `prefetch` batches
   * are prepared ahead; leaving the loop early abandons them.
   */
  async *epoch(epoch: number, options: { startBatch?: number } = {}): AsyncGenerator<Batch> {
    const batches = this.options.batchSampler.epochBatches(epoch);
    const startBatch = options.startBatch ?? 0;
    if (!Number.isInteger(startBatch) || startBatch < 0 || startBatch > batches.length) {
      throw new RangeError(`startBatch ${startBatch} is outside epoch ${epoch}'s 0..${batches.length} batches`);
    }
    const small = batches.findIndex((batch) => batch.length < this.worldSize);
    if (small >= 0) {
      throw new Error(
        `epoch ${epoch} batch ${small} has ${batches[small]!.length} items for ${this.worldSize} ranks: a rank would get none (use dropLast)`,
      );
    }
    const queue: { batch: number; indices: Int32Array; globalSize: number; pixels: Promise<BatchPixels> }[] = [];
    let next = startBatch;
    const refill = (): void => {
      while (queue.length < this.prefetch && next < batches.length) {
        const global = batches[next]!;
        const { start, end } = shardRange(global.length, this.rank, this.worldSize);
        const indices = global.slice(start, end);
        const storageIndices = indices.map((index) => this.dataset.storageIndex(index));
        const pixels = this.produce({ epoch, batch: next, firstPosition: start, storageIndices });
        pixels.catch(() => {}); // abandoned batches must not become unhandled rejections; awaited ones still throw
        queue.push({ batch: next, indices, globalSize: global.length, pixels });
        next++;
      }
    };
    refill();
    for (let head = queue.shift(); head !== undefined; head = queue.shift()) {
      refill();
      const { images, shape } = await head.pixels;
      const labels = head.indices.map((index) => this.dataset.labels[index]!);
      const normalize = images instanceof Uint8Array ? { normalize: this.plan.normalize } : {};
      yield { epoch, batch: head.batch, images, shape, labels, indices: head.indices, globalSize: head.globalSize, ...normalize };
    }
  }

  /**
   * Hands a consumed batch's buffer back for a later batch to be written into: a new buffer of a large batch is
   * memory the kernel must zero page by page (measured: about a fifth of a JPEG item's time in a worker). Call it
   * once the batch's images are copied (batchTensors copies them); batch.images is unusable afterwards.
   */
  recycle(batch: Batch): void {
    const { buffer } = batch.images;
    // Once only: a buffer listed twice would be written by two batches at once.
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength === 0 || this.spares.includes(buffer)) return;
    if (this.spares.length < this.prefetch) this.spares.push(buffer);
  }

  private produce(job: BatchJob): Promise<BatchPixels> {
    const spare = this.spares.pop();
    if (this.workerCount === 0) return assembleBatch(this.storage, this.plan, this.seed, job, { pixels: this.pixels, spare });
    const decodedCacheBytes = Math.floor((this.options.decodedCacheBytes ?? 0) / this.workerCount);
    this.pool ??= new WorkerPool(this.workerCount, {
      storage: shareable(this.storage),
      plan: this.plan,
      seed: this.seed,
      decodedCacheBytes,
      pixels: this.pixels,
    });
    return this.pool.run(job, spare);
  }

  /** Stops the workers (a later epoch() starts new ones). */
  async close(): Promise<void> {
    await this.pool?.close();
    this.pool = undefined;
  }
}
