// The loader: the same batches with and without worker threads, after a resume mid-epoch, and split
// over ranks; file data sets through workers; errors from workers arrive as one-line errors.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import {
  type Batch,
  ChunkedBatchSampler,
  type Dataset,
  ClassAwareSampler,
  ImageFolderDataset,
  InMemoryDataset,
  Loader,
  type LoaderOptions,
  type PixelFormat,
  RandomSampler,
  type Transform,
  batchTensors,
  cifarTrainTransforms,
  makeLongTailed,
} from '../../src/data/index.js';
import * as torch from '../../src/torch/index.js';
import { temporaryDir } from '../helpers/python.js';
import { cifarPixels, encodedImage, writeImageTree } from './fixtures.js';

/** 1,000 CIFAR-shaped records, labels r % 10, in an ordinary (not shared) buffer. */
function cifarLike(): InMemoryDataset {
  return new InMemoryDataset(
    cifarPixels(1000),
    [3, 32, 32],
    Int32Array.from({ length: 1000 }, (_, r) => r % 10),
    Array.from({ length: 10 }, (_, c) => `class${c}`),
  );
}

async function collect(loader: Loader, epoch: number, startBatch = 0): Promise<Batch[]> {
  const batches: Batch[] = [];
  for await (const batch of loader.epoch(epoch, { startBatch })) batches.push(batch);
  return batches;
}

async function withLoader<T>(
  dataset: ConstructorParameters<typeof Loader>[0],
  options: LoaderOptions,
  use: (loader: Loader) => Promise<T>,
): Promise<T> {
  const loader = new Loader(dataset, options);
  try {
    return await use(loader);
  } finally {
    await loader.close();
  }
}

test('batches are identical with 0, 1 or 3 workers, on a long-tailed view with class-balanced sampling', async () => {
  const dataset = makeLongTailed(cifarLike(), { imbalanceRatio: 10 });
  const options = (workers: number): LoaderOptions => ({
    batchSampler: new ChunkedBatchSampler(new ClassAwareSampler(dataset, { kind: 'classBalanced' }, { seed: 11 }), 64),
    transforms: cifarTrainTransforms(),
    seed: 5,
    workers,
  });
  const reference = await withLoader(dataset, options(0), async (loader) => [await collect(loader, 0), await collect(loader, 1)]);
  assert.equal(reference[0]!.length, Math.ceil(dataset.length / 64));
  const first = reference[0]![0]!;
  assert.deepEqual(first.shape, [64, 3, 32, 32]);
  assert.equal(first.images.length, 64 * 3 * 32 * 32);
  assert.deepEqual(
    [...first.labels],
    [...first.indices].map((index) => dataset.labels[index]),
  );
  assert.notDeepEqual(reference[0]![0]!.images, reference[1]![0]!.images, 'epochs differ');
  for (const workers of [1, 3]) {
    await withLoader(dataset, options(workers), async (loader) => {
      for (const epoch of [0, 1]) {
        const batches = await collect(loader, epoch);
        assert.equal(batches.length, reference[epoch]!.length);
        batches.forEach((batch, k) => {
          const expected = reference[epoch]![k]!;
          assert.deepEqual([batch.epoch, batch.batch], [epoch, k]);
          assert.deepEqual(batch.indices, expected.indices);
          assert.deepEqual(batch.labels, expected.labels);
          assert.deepEqual(batch.images, expected.images, `${workers} workers, epoch ${epoch}, batch ${k}`);
        });
      }
    });
  }
});

test('a new loader resumed at batch k of epoch e gives exactly the batches the first one would have', async () => {
  const dataset = cifarLike();
  const options = (): LoaderOptions => ({
    batchSampler: new ChunkedBatchSampler(new RandomSampler(dataset.length, { seed: 2 }), 100),
    transforms: cifarTrainTransforms(),
    seed: 9,
    workers: 2,
    prefetch: 3,
  });
  const full = await withLoader(dataset, options(), (loader) => collect(loader, 4));
  // Stop after batch 5 (leaving the loop with batches prefetched), save the position, resume elsewhere.
  const position = await withLoader(dataset, options(), async (loader) => {
    for await (const batch of loader.epoch(4)) if (batch.batch === 5) return JSON.stringify({ epoch: batch.epoch, batch: batch.batch + 1 });
    throw new Error('epoch ended early');
  });
  const { epoch, batch } = JSON.parse(position) as { epoch: number; batch: number };
  const resumed = await withLoader(dataset, options(), (loader) => collect(loader, epoch, batch));
  assert.equal(resumed.length, full.length - 6);
  resumed.forEach((batch, i) => {
    assert.equal(batch.batch, 6 + i);
    assert.deepEqual(batch.indices, full[6 + i]!.indices);
    assert.deepEqual(batch.images, full[6 + i]!.images);
  });
  await withLoader(dataset, options(), async (loader) => {
    assert.equal((await collect(loader, 4, 10)).length, 0, 'resuming after the last batch gives none');
    await assert.rejects(collect(loader, 4, 11), /startBatch 11 is outside epoch 4's 0\.\.10 batches/);
  });
});

test("the ranks' batches at each step add up to the single-process global batch, augmentation included", async () => {
  const dataset = cifarLike();
  const options = (rank: number, worldSize: number): LoaderOptions => ({
    batchSampler: new ChunkedBatchSampler(new RandomSampler(dataset.length, { seed: 3 }), 128, { dropLast: true }),
    transforms: cifarTrainTransforms(),
    seed: 1,
    workers: 0,
    rank,
    worldSize,
  });
  const single = await withLoader(dataset, options(0, 1), (loader) => collect(loader, 2));
  const ranks = await Promise.all([0, 1, 2].map((rank) => withLoader(dataset, options(rank, 3), (loader) => collect(loader, 2))));
  assert.deepEqual(
    ranks.map((batches) => batches[0]!.shape[0]),
    [42, 43, 43],
  );
  single.forEach((global, k) => {
    assert.deepEqual(Int32Array.from(ranks.flatMap((batches) => [...batches[k]!.indices])), global.indices);
    const images = new Float32Array(global.images.length);
    let offset = 0;
    for (const batches of ranks) {
      images.set(batches[k]!.images, offset);
      offset += batches[k]!.images.length;
    }
    assert.deepEqual(images, global.images, `step ${k}`);
  });
  await assert.rejects(
    withLoader(dataset, { ...options(0, 3), batchSampler: new ChunkedBatchSampler(new RandomSampler(1000, { seed: 3 }), 999) }, (loader) =>
      collect(loader, 0),
    ),
    /epoch 0 batch 1 has 1 items for 3 ranks: a rank would get none \(use dropLast\)/,
  );
});

test('JPEG folders through workers: random-resized-crop batches equal the in-thread ones', async () => {
  const root = temporaryDir('loader-files');
  await writeImageTree(root, ['a', 'b', 'c'], [5, 4, 3], [48, 36]);
  const dataset = new ImageFolderDataset(root);
  const options = (workers: number): LoaderOptions => ({
    batchSampler: new ChunkedBatchSampler(new RandomSampler(dataset.length, { seed: 8 }), 5),
    transforms: [
      { kind: 'randomResizedCrop', size: 24 },
      { kind: 'horizontalFlip' },
      { kind: 'normalize', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
    ],
    seed: 4,
    workers,
  });
  const inThread = await withLoader(dataset, options(0), (loader) => collect(loader, 0));
  const threaded = await withLoader(dataset, options(2), (loader) => collect(loader, 0));
  assert.deepEqual(
    inThread.map((batch) => batch.shape),
    [
      [5, 3, 24, 24],
      [5, 3, 24, 24],
      [2, 3, 24, 24],
    ],
  );
  threaded.forEach((batch, k) => assert.deepEqual(batch.images, inThread[k]!.images, `batch ${k}`));
});

test('a decoded-image cache gives the same batches whatever it holds, epoch after epoch', async () => {
  const root = temporaryDir('loader-cache');
  await writeImageTree(root, ['a', 'b', 'c'], [5, 4, 3], [48, 36]);
  const dataset = new ImageFolderDataset(root);
  const options = (workers: number, decodedCacheBytes: number): LoaderOptions => ({
    batchSampler: new ChunkedBatchSampler(new RandomSampler(dataset.length, { seed: 8 }), 5),
    transforms: [{ kind: 'randomResizedCrop', size: 24 }, { kind: 'horizontalFlip' }],
    seed: 4,
    workers,
    decodedCacheBytes,
  });
  const oneImage = 48 * 36 * 3;
  // Everything cached, over two epochs (the second reads the cache), against caches that hold a few images.
  const full = await withLoader(dataset, options(1, 100 * oneImage), async (loader) => [
    ...(await collect(loader, 0)),
    ...(await collect(loader, 1)),
  ]);
  for (const [workers, bytes] of [
    [1, 3 * oneImage],
    [2, 4 * oneImage],
  ] as const) {
    const partial = await withLoader(dataset, options(workers, bytes), async (loader) => [
      ...(await collect(loader, 0)),
      ...(await collect(loader, 1)),
    ]);
    partial.forEach((batch, k) => assert.deepEqual(batch.images, full[k]!.images, `${workers} workers, ${bytes} bytes: batch ${k}`));
  }
  // The cache resamples from the whole decoded image; without it a JPEG's crop is decoded by itself: the same pixels.
  const uncached = await withLoader(dataset, options(1, 0), async (loader) => [
    ...(await collect(loader, 0)),
    ...(await collect(loader, 1)),
  ]);
  uncached.forEach((batch, k) => assert.deepEqual(batch.images, full[k]!.images, `uncached: batch ${k}`));
});

test('a corrupt image or mismatched sizes fail the epoch with a one-line error, from a worker too', async () => {
  const root = temporaryDir('loader-bad');
  await writeImageTree(root, ['a'], [4], [20, 20]);
  writeFileSync(path.join(root, 'a', '002.jpg'), 'garbage');
  const dataset = new ImageFolderDataset(root);
  const sequential = { epochBatches: () => [Int32Array.from([0, 1]), Int32Array.from([2, 3])] };
  for (const workers of [0, 1]) {
    await withLoader(dataset, { batchSampler: sequential, workers }, async (loader) => {
      const seen: number[] = [];
      await assert.rejects(
        async () => {
          for await (const batch of loader.epoch(0)) seen.push(batch.batch);
        },
        (error: Error) => {
          assert.match(error.message, /a[/\\]002\.jpg: cannot decode image: /);
          assert.ok(!error.message.includes('\n'));
          return true;
        },
      );
      assert.deepEqual(seen, [0], 'the good batch before it arrives');
    });
  }
  writeFileSync(path.join(root, 'a', '002.jpg'), await encodedImage(20, 16, 3));
  await withLoader(dataset, { batchSampler: sequential, workers: 1 }, async (loader) => {
    await assert.rejects(collect(loader, 0), /epoch 0 batch 1: item 1 is 3x20x20, item 0 is 3x16x20 \(add a resize or crop transform\)/);
  });
  assert.throws(
    () =>
      new Loader(dataset, {
        batchSampler: sequential,
        transforms: [{ kind: 'normalize', mean: [0], std: [1] }, { kind: 'horizontalFlip' }],
      }),
    /normalize must come last/,
  );
});

test('batchTensors gives float32 images [B, C, H, W] and int64 labels', async () => {
  const dataset = cifarLike();
  const [batch] = await withLoader(
    dataset,
    { batchSampler: new ChunkedBatchSampler(new RandomSampler(1000, { seed: 0 }), 16), workers: 0 },
    (loader) => collect(loader, 0),
  );
  const { images, labels } = batchTensors(batch!);
  assert.deepEqual([images.shape, images.dtype, labels.shape, labels.dtype], [[16, 3, 32, 32], 'float32', [16], 'int64']);
  assert.deepEqual([...(labels.toTypedArray() as BigInt64Array)].map(Number), [...batch!.labels]);
  assert.deepEqual(images.toTypedArray(), batch!.images);
  images.dispose();
  labels.dispose();
});

test("8-bit batches (pixels 'uint8') become the float32 batches' exact values in batchTensors, with or without normalize", async () => {
  const root = temporaryDir('loader-uint8');
  await writeImageTree(root, ['a', 'b'], [5, 4], [40, 30]);
  const files = new ImageFolderDataset(root);
  const cases = [
    { dataset: cifarLike() as Dataset, transforms: cifarTrainTransforms() },
    { dataset: files as Dataset, transforms: [{ kind: 'randomResizedCrop', size: 20 }, { kind: 'horizontalFlip' }] as Transform[] },
  ];
  for (const { dataset, transforms } of cases) {
    const options = (pixels: PixelFormat, workers: number): LoaderOptions => ({
      batchSampler: new ChunkedBatchSampler(new RandomSampler(dataset.length, { seed: 6 }), 4),
      transforms,
      seed: 3,
      workers,
      pixels,
    });
    const float = await withLoader(dataset, options('float32', 0), (loader) => collect(loader, 1));
    for (const workers of [0, 2]) {
      const bytes = await withLoader(dataset, options('uint8', workers), (loader) => collect(loader, 1));
      assert.equal(bytes.length, float.length);
      bytes.forEach((batch, k) => {
        assert.ok(batch.images instanceof Uint8Array);
        assert.equal(batch.images.length, float[k]!.images.length);
        const { images, labels } = batchTensors(batch);
        assert.equal(images.dtype, 'float32');
        assert.deepEqual(images.toTypedArray(), float[k]!.images, `${workers} workers, batch ${k}`);
        assert.deepEqual(labels.toTypedArray(), BigInt64Array.from(float[k]!.labels, BigInt));
        images.dispose();
        labels.dispose();
      });
    }
  }
  const erasing: Transform = { kind: 'randomErasing', p: 0.5, scale: [0.02, 0.33], ratio: [0.3, 3.3], value: 0 };
  assert.throws(
    () =>
      new Loader(cifarLike(), {
        batchSampler: new ChunkedBatchSampler(new RandomSampler(1000, { seed: 0 }), 8),
        transforms: [...cifarTrainTransforms(), erasing],
        pixels: 'uint8',
      }),
    /pixels 'uint8' cannot carry randomErasing/,
  );
});

test('recycled batch buffers are written again, and the batches stay the same', async () => {
  const dataset = cifarLike();
  const options = (workers: number): LoaderOptions => ({
    batchSampler: new ChunkedBatchSampler(new RandomSampler(dataset.length, { seed: 4 }), 100, { dropLast: true }),
    transforms: cifarTrainTransforms(),
    seed: 2,
    workers,
    prefetch: 2,
  });
  const reference = await withLoader(dataset, options(0), (loader) => collect(loader, 0));
  for (const workers of [0, 2]) {
    await withLoader(dataset, options(workers), async (loader) => {
      const buffers = new Set<ArrayBufferLike>();
      let k = 0;
      for await (const batch of loader.epoch(0)) {
        assert.deepEqual(batch.images, reference[k]!.images, `${workers} workers, batch ${k}`);
        buffers.add(batch.images.buffer);
        loader.recycle(batch);
        k++;
      }
      assert.equal(k, reference.length);
      // In this thread the same buffers come back; handed to a worker, a recycled buffer is transferred (detached here).
      if (workers === 0) assert.ok(buffers.size <= 3, `${buffers.size} buffers for ${k} batches`);
      else
        assert.ok(
          [...buffers].some((buffer) => buffer.byteLength === 0),
          'no recycled buffer went to a worker',
        );
    });
  }
});

test('a batch recycled twice hands its buffer to one later batch, not two', async () => {
  const dataset = cifarLike();
  const options = (workers: number): LoaderOptions => ({
    batchSampler: new ChunkedBatchSampler(new RandomSampler(dataset.length, { seed: 4 }), 100, { dropLast: true }),
    transforms: cifarTrainTransforms(),
    seed: 2,
    workers,
    prefetch: 2,
  });
  const reference = await withLoader(dataset, options(0), (loader) => collect(loader, 1));
  for (const workers of [0, 2]) {
    await withLoader(dataset, options(workers), async (loader) => {
      const [first] = await collect(loader, 0);
      loader.recycle(first!);
      loader.recycle(first!);
      // Both of epoch 1's first two batches are made before either is read: one shared buffer would hold only one.
      const again = await collect(loader, 1);
      again.forEach((batch, k) => assert.deepEqual(batch.images, reference[k]!.images, `${workers} workers, batch ${k}`));
      assert.notEqual(again[0]!.images.buffer, again[1]!.images.buffer);
    });
  }
});

test('on cuda: 8-bit batches normalised on the device equal the float32 batches', async (t) => {
  if (!torch.cuda.isAvailable()) return t.skip('no CUDA device here (the GPU checks, bench/gpu.sh, run this test on one)');
  const dataset = cifarLike();
  const options = (pixels: PixelFormat): LoaderOptions => ({
    batchSampler: new ChunkedBatchSampler(new RandomSampler(dataset.length, { seed: 6 }), 50),
    transforms: cifarTrainTransforms(),
    seed: 3,
    workers: 1,
    pixels,
  });
  const float = await withLoader(dataset, options('float32'), (loader) => collect(loader, 0));
  const bytes = await withLoader(dataset, options('uint8'), (loader) => collect(loader, 0));
  bytes.forEach((batch, k) => {
    const { images, labels } = batchTensors(batch, { device: 'cuda' });
    assert.match(images.device, /^cuda/);
    assert.deepEqual(images.to('cpu').toTypedArray(), float[k]!.images, `batch ${k}`);
    images.dispose();
    labels.dispose();
  });
});
