// Downloads against a local HTTP server serving archives built here in the official layouts: checksum
// mismatches, transfers cut mid-file and resumed with Range, servers that ignore Range, unpacking.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';

import { downloadDataset, loadCifar, loadMnist } from '../../src/data/index.js';
import { temporaryDir } from '../helpers/python.js';
import { cifarBinary, idx, tarGz } from './fixtures.js';

interface Server {
  url: string;
  /** The Range header (or '') of every request, by file. */
  requests: Map<string, string[]>;
  /** The next `cuts` responses send only `fraction` of what they promise, then drop the connection. */
  cut(cuts: number, fraction: number): void;
  ignoreRange: boolean;
  close(): Promise<void>;
}

async function serve(files: Record<string, Buffer>): Promise<Server> {
  let cutsLeft = 0;
  let cutFraction = 0;
  const requests = new Map<string, string[]>();
  const state = { ignoreRange: false };
  const server = http.createServer((request, response) => {
    const name = path.posix.basename(request.url ?? '');
    const data = files[name];
    requests.set(name, [...(requests.get(name) ?? []), request.headers.range ?? '']);
    if (data === undefined || !request.url?.startsWith('/mirror/')) {
      response.writeHead(404).end();
      return;
    }
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    const start = range && !state.ignoreRange ? Number(range[1]) : 0;
    if (start >= data.length) {
      response.writeHead(416, { 'Content-Range': `bytes */${data.length}` }).end();
      return;
    }
    const headers: http.OutgoingHttpHeaders = { 'Content-Length': data.length - start };
    if (start > 0) headers['Content-Range'] = `bytes ${start}-${data.length - 1}/${data.length}`;
    response.writeHead(start > 0 ? 206 : 200, headers);
    const body = data.subarray(start);
    if (cutsLeft > 0) {
      cutsLeft--;
      response.write(body.subarray(0, Math.floor(body.length * cutFraction)), () => response.destroy());
    } else {
      response.end(body);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mirror/`,
    requests,
    cut(cuts, fraction) {
      cutsLeft = cuts;
      cutFraction = fraction;
    },
    get ignoreRange() {
      return state.ignoreRange;
    },
    set ignoreRange(value) {
      state.ignoreRange = value;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const md5 = (data: Buffer): string => createHash('md5').update(data).digest('hex');

/** cifar-10-binary.tar.gz in the official layout, 50 records per batch; pixels vary enough not to compress away. */
function cifar10Archive(): Buffer {
  const files: Record<string, Buffer> = {};
  for (const [b, name] of ['data_batch_1', 'data_batch_2', 'data_batch_3', 'data_batch_4', 'data_batch_5', 'test_batch'].entries()) {
    const records = cifarBinary(
      Array.from({ length: 50 }, (_, r) => (r + b) % 10),
      'cifar10',
      b * 50,
    );
    for (let i = 1; i < records.length; i += 3073) records[i] = (i * 2654435761) >>> 24;
    files[`cifar-10-batches-bin/${name}.bin`] = records;
  }
  files['cifar-10-batches-bin/batches.meta.txt'] = Buffer.from('airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n');
  files['cifar-10-batches-bin/readme.html'] = Buffer.from('<html></html>');
  return tarGz(files);
}

test('a checksum mismatch is reported and the download removed; with the right checksum it unpacks and loads', async () => {
  const archive = cifar10Archive();
  const server = await serve({ 'cifar-10-binary.tar.gz': archive });
  const dir = temporaryDir('download-cifar');
  try {
    await assert.rejects(downloadDataset('cifar10', { dir, baseUrl: server.url, retryDelayMs: 0 }), (error: Error) => {
      assert.match(
        error.message,
        new RegExp(`cifar-10-binary\\.tar\\.gz: MD5 ${md5(archive)} does not match the expected c32a1d4ab5d03f1284b67883e8d87530`),
      );
      assert.ok(!error.message.includes('\n'));
      return true;
    });
    assert.deepEqual(readdirSync(dir), [], 'nothing is left behind');

    const lines: string[] = [];
    const target = await downloadDataset('cifar10', {
      dir,
      baseUrl: server.url,
      checksums: { 'cifar-10-binary.tar.gz': md5(archive) },
      retryDelayMs: 0,
      log: (line) => lines.push(line),
    });
    assert.equal(target, path.join(dir, 'cifar-10-batches-bin'));
    assert.deepEqual(readdirSync(dir), ['cifar-10-batches-bin'], 'the archive and the staging folder are gone');
    const train = loadCifar(target, { variant: 'cifar10', split: 'train' });
    assert.equal(train.length, 250);
    assert.deepEqual(
      lines.map((line) => line.split(' ')[0]),
      ['downloading', 'unpacking'],
    );

    const before = server.requests.get('cifar-10-binary.tar.gz')!.length;
    assert.equal(await downloadDataset('cifar10', { dir, baseUrl: server.url }), target);
    assert.equal(server.requests.get('cifar-10-binary.tar.gz')!.length, before, 'a present data set is not fetched again');
  } finally {
    await server.close();
  }
});

test('a transfer cut mid-file resumes with Range and completes; a server that ignores Range restarts it', async () => {
  const archive = cifar10Archive();
  const server = await serve({ 'cifar-10-binary.tar.gz': archive });
  const checksums = { 'cifar-10-binary.tar.gz': md5(archive) };
  try {
    server.cut(2, 0.4);
    const dir = temporaryDir('download-resume');
    await downloadDataset('cifar10', { dir, baseUrl: server.url, checksums, retryDelayMs: 0 });
    const ranges = server.requests.get('cifar-10-binary.tar.gz')!;
    const first = Math.floor(archive.length * 0.4);
    const second = first + Math.floor((archive.length - first) * 0.4);
    assert.deepEqual(ranges, ['', `bytes=${first}-`, `bytes=${second}-`]);
    assert.equal(loadCifar(path.join(dir, 'cifar-10-batches-bin'), { variant: 'cifar10', split: 'test' }).length, 50);

    server.requests.clear();
    server.ignoreRange = true;
    server.cut(1, 0.5);
    const again = temporaryDir('download-norange');
    await downloadDataset('cifar10', { dir: again, baseUrl: server.url, checksums, retryDelayMs: 0 });
    assert.deepEqual(server.requests.get('cifar-10-binary.tar.gz'), ['', `bytes=${Math.floor(archive.length / 2)}-`]);
    assert.equal(loadCifar(path.join(again, 'cifar-10-batches-bin'), { variant: 'cifar10', split: 'train' }).length, 250);
  } finally {
    await server.close();
  }
});

test('a transfer that keeps breaking is reported with the partial file kept, and the next run resumes it', async () => {
  const archive = cifar10Archive();
  const server = await serve({ 'cifar-10-binary.tar.gz': archive });
  const options = { baseUrl: server.url, checksums: { 'cifar-10-binary.tar.gz': md5(archive) }, retries: 2, retryDelayMs: 0 };
  const dir = temporaryDir('download-broken');
  try {
    server.cut(3, 0.25);
    await assert.rejects(downloadDataset('cifar10', { dir, ...options }), (error: Error) => {
      assert.match(
        error.message,
        /\/mirror\/cifar-10-binary\.tar\.gz: transfer broke at \d+ bytes after 3 attempts \(.+\); .*cifar-10-binary\.tar\.gz\.part is kept: run again to resume/,
      );
      assert.ok(!error.message.includes('\n'));
      return true;
    });
    const partial = statSync(path.join(dir, 'cifar-10-binary.tar.gz.part')).size;
    assert.ok(partial > 0 && partial < archive.length);
    server.requests.clear();
    await downloadDataset('cifar10', { dir, ...options });
    assert.deepEqual(server.requests.get('cifar-10-binary.tar.gz'), [`bytes=${partial}-`]);
    assert.ok(existsSync(path.join(dir, 'cifar-10-batches-bin', 'test_batch.bin')));
  } finally {
    await server.close();
  }
});

test('Fashion-MNIST: four gzipped IDX files, the base URL from SCATTER_DATA_URL; HTTP errors are not retried', async () => {
  const count = 20;
  const images = idx(
    [count, 28, 28],
    Uint8Array.from({ length: count * 784 }, (_, i) => i % 251),
    true,
  );
  const labels = idx(
    [count],
    Uint8Array.from({ length: count }, (_, i) => i % 10),
    true,
  );
  const files = {
    'train-images-idx3-ubyte.gz': images,
    'train-labels-idx1-ubyte.gz': labels,
    't10k-images-idx3-ubyte.gz': images,
    't10k-labels-idx1-ubyte.gz': labels,
  };
  const server = await serve(files);
  const checksums = Object.fromEntries(Object.entries(files).map(([name, data]) => [name, md5(data)]));
  const dir = temporaryDir('download-fashion');
  process.env.SCATTER_DATA_URL = server.url;
  try {
    const target = await downloadDataset('fashion-mnist', { dir, checksums, retryDelayMs: 0 });
    assert.equal(target, path.join(dir, 'fashion-mnist'));
    const test = loadMnist(target, { variant: 'fashion-mnist', split: 'test' });
    assert.deepEqual([test.length, test.labels[13]], [count, 3]);
    await assert.rejects(
      downloadDataset('mnist', { dir, checksums, baseUrl: `${server.url}missing/`.replace('/mirror/', '/elsewhere/'), retryDelayMs: 0 }),
      /\/elsewhere\/missing\/train-images-idx3-ubyte\.gz: HTTP 404 Not Found$/,
    );
    await assert.rejects(
      downloadDataset('svhn' as never, { dir }),
      /unknown data set "svhn" \(known: cifar10, cifar100, mnist, fashion-mnist\)/,
    );
  } finally {
    delete process.env.SCATTER_DATA_URL;
    await server.close();
  }
});
