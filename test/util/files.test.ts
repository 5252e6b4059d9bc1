// Atomic file replacement: the new contents whole, or the old file untouched and no temporary left behind.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { writeFileAtomic } from '../../src/util/files.js';
import { temporaryDir } from '../helpers/python.js';

const work = temporaryDir('files');

test('writeFileAtomic replaces a file with the whole of its new contents, text or bytes', () => {
  const file = path.join(work, 'a.bin');
  writeFileAtomic(file, 'old');
  const bytes = Uint8Array.from({ length: 3 << 20 }, (_, i) => (i * 7) % 251);
  writeFileAtomic(file, bytes);
  assert.deepEqual(new Uint8Array(readFileSync(file)), bytes);
  writeFileAtomic(file, 'é ünïcode');
  assert.equal(readFileSync(file, 'utf8'), 'é ünïcode');
  assert.deepEqual(
    readdirSync(work).filter((name) => name.includes('.tmp-')),
    [],
  );
});

test('a replacement that fails leaves the old file as it was and no temporary file', () => {
  const folder = path.join(work, 'target-is-a-folder');
  mkdirSync(folder);
  writeFileSync(path.join(folder, 'inside'), 'kept');
  assert.throws(() => writeFileAtomic(folder, 'new'), /EISDIR|ENOTEMPTY|EEXIST/);
  assert.equal(readFileSync(path.join(folder, 'inside'), 'utf8'), 'kept');
  assert.deepEqual(
    readdirSync(work).filter((name) => name.includes('.tmp-')),
    [],
  );
});
