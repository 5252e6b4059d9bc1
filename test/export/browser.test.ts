// The browser path: examples/browser classifies an image with a model that `scatter export` wrote, in headless
// Chromium (Debian's chromium, driven by playwright-core) with onnxruntime-web, served from 127.0.0.1: the page
// prepares the image file as scatter does, and its scores equal onnxruntime-node's on scatter's prepared input.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';

import ort from 'onnxruntime-node';
import { chromium } from 'playwright-core';

import { loadClassifier } from '../../src/index.js';
import { repoRoot, temporaryDir } from '../helpers/python.js';
import { writeTestRecordsAsPng } from '../helpers/cifar.js';
import { exportRun, trainTinyRun, writeTinyCifar } from '../helpers/runs.js';

const CHROMIUM = '/usr/bin/chromium';
const missing = existsSync(CHROMIUM)
  ? null
  : `${CHROMIUM} is missing: apt-get install chromium (node scripts/setup.mjs --for-tests installs it as root)`;
const skip = missing !== null && process.getuid?.() !== 0 ? missing : false;

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

test('examples/browser classifies an image with an exported model as scatter predict does', { skip }, async () => {
  assert.equal(missing, null, missing ?? '');
  const work = temporaryDir('browser-onnx');
  const data = writeTinyCifar(work);
  const run = await trainTinyRun(path.join(work, 'run'), data, { model: { neck: 'whitening' }, loss: { name: 'ce', posthocTau: 1 } });
  const exported = exportRun(run, 'onnx', path.join(work, 'model.onnx'));
  assert.equal(exported.status, 0, exported.stderr);
  // A test record as a PNG: the exact pixels, no resize.
  const {
    files: [image],
  } = await writeTestRecordsAsPng(data, path.join(work, 'images'), 1);

  const files: Record<string, string> = {
    '/model.onnx': path.join(work, 'model.onnx'),
    '/model.onnx.json': path.join(work, 'model.onnx.json'),
    '/image.png': image,
  };
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost').pathname;
    const file =
      files[url] ??
      (url.startsWith('/ort/')
        ? path.join(repoRoot, 'node_modules', 'onnxruntime-web', 'dist', url.slice(5))
        : path.join(repoRoot, 'examples', 'browser', url === '/' ? 'index.html' : url.slice(1)));
    if (!existsSync(file)) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.goto(`http://127.0.0.1:${port}/index.html?model=/model.onnx&ort=/ort/&image=/image.png`);
    await page.waitForFunction(() => (window as unknown as { scatterResult?: unknown }).scatterResult !== undefined, undefined, {
      timeout: 60_000,
    });
    const result = await page.evaluate(
      () => (window as unknown as { scatterResult: { scores: number[]; input: number[]; dims: number[] } }).scatterResult,
    );
    assert.deepEqual(errors, []);
    // The page prepared the image as scatter does, and onnxruntime-web scored it as onnxruntime-node and scatter
    // do (test/export/onnx.test.ts ties those two together).
    const classifier = await loadClassifier(run, { checkpoint: 'last' });
    const prepared = await classifier.prepare(image);
    classifier.dispose();
    assert.deepEqual(result.dims, [1, ...prepared.shape]);
    const expectedInput = Array.from(prepared.toTypedArray() as Float32Array).slice(0, result.input.length);
    result.input.forEach((value, i) =>
      assert.ok(Math.abs(value - expectedInput[i]!) < 1e-6, `input ${i}: ${value} against ${expectedInput[i]}`),
    );
    const session = await ort.InferenceSession.create(readFileSync(path.join(work, 'model.onnx')));
    const { scores } = await session.run({
      images: new ort.Tensor('float32', prepared.toTypedArray() as Float32Array, [1, ...prepared.shape]),
    });
    const expected = Array.from(scores!.data as Float32Array);
    const scale = Math.max(1, ...expected.map(Math.abs));
    result.scores.forEach((value, k) =>
      assert.ok(Math.abs(value - expected[k]!) <= 1e-4 * scale, `score ${k}: ${value} against ${expected[k]}`),
    );
  } finally {
    await browser.close();
    server.close();
  }
});
