// A loader worker: receives the storage (in-memory images as a SharedArrayBuffer, or file paths), the
// transform plan and the seed once, then assembles the batches it is sent and transfers them back.
import { parentPort, workerData } from 'node:worker_threads';

import { assembleBatch } from './batch.js';
import { setDecodeThreads, setDecodedCacheBytes } from './decode.js';
import type { WorkerInit, WorkerReply, WorkerRequest } from './loader.js';

const { storage, plan, seed, decodedCacheBytes, pixels } = workerData as WorkerInit;
const port = parentPort!;
setDecodedCacheBytes(decodedCacheBytes);

// Several workers decode at once already: one libvips thread each keeps the cores for them and libtorch.
const ready = storage.kind === 'files' ? setDecodeThreads(1) : Promise.resolve();

port.on('message', ({ id, job, spare }: WorkerRequest) => {
  ready
    .then(() => assembleBatch(storage, plan, seed, job, { pixels, spare }))
    .then(
      (pixels) => port.postMessage({ id, pixels } satisfies WorkerReply, [pixels.images.buffer as ArrayBuffer]),
      (error: unknown) => port.postMessage({ id, error: (error as Error).message } satisfies WorkerReply),
    );
});
