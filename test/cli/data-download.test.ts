// `scatter data download` from the command line, against a local server on 127.0.0.1: a transfer whose
// archive does not match the publisher's checksum is refused with one line and a non-zero exit, and
// nothing is left where configs would look for the data.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';

import { repoRoot, temporaryDir } from '../helpers/python.js';

function run(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'dist', 'src', 'cli', 'main.js'), ...args], {
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

test('a download whose checksum does not match is refused in one line', async () => {
  const server = http.createServer((_request, response) => response.end(Buffer.from('not the CIFAR-10 archive')));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dir = temporaryDir('cli-download');
  try {
    const result = await run(['data', 'download', 'cifar10', '--dir', dir], {
      SCATTER_DATA_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    });
    assert.equal(result.status, 1);
    const lines = result.stderr.trim().split('\n');
    assert.match(lines.at(-1)!, /^scatter: .*cifar-10-binary\.tar\.gz.*(md5|MD5|checksum)/);
    assert.ok(!existsSync(path.join(dir, 'cifar-10-batches-bin')));
  } finally {
    server.close();
  }
});

test('an unknown data set name is a usage error', async () => {
  const result = await run(['data', 'download', 'imagenet'], {});
  assert.equal(result.status, 2);
  assert.match(result.stderr, /^scatter: data download: name one of cifar10, cifar100, mnist, fashion-mnist, not 'imagenet'\n$/);
});
