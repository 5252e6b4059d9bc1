// safetensors files: round trips of every dtype, metadata, atomic writes, clear errors on corrupt files.
// (Python reading scatter's files and the reverse is exercised by parity.test.ts.)
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { torch } from '../../src/index.js';
import { temporaryDir } from '../helpers/python.js';

test('every dtype round-trips with its shape and bits; metadata too', () => {
  const dir = temporaryDir('safetensors');
  const file = path.join(dir, 'all.safetensors');
  const source = torch.tensor(
    [
      [1.5, -2, 0],
      [3, 4.25, -0.5],
    ],
    { dtype: 'float64' },
  );
  const tensors: Record<string, torch.Tensor> = {};
  for (const dtype of torch.DTYPES) tensors[`t_${dtype}`] = source.to(dtype);
  tensors.empty = torch.zeros([0, 3]);
  tensors.scalar = torch.tensor(7);
  torch.safetensors.saveFile(tensors, file, { epoch: '3' });
  const { tensors: loaded, metadata } = torch.safetensors.loadFile(file);
  assert.deepEqual(metadata, { epoch: '3' });
  for (const [name, tensor] of Object.entries(tensors)) {
    assert.equal(loaded[name]!.dtype, tensor.dtype, name);
    assert.deepEqual(loaded[name]!.shape, tensor.shape, name);
    assert.deepEqual(loaded[name]!.toTypedArray(), tensor.toTypedArray(), name);
  }
  const headerLength = Number(readFileSync(file).readBigUInt64LE(0));
  assert.equal((8 + headerLength) % 8, 0, 'data starts 8-byte aligned');
  assert.deepEqual(readdirSync(dir), ['all.safetensors'], 'no temporary file is left behind');
});

test('a corrupt or truncated file gives an error naming the file and the problem', () => {
  const dir = temporaryDir('safetensors-bad');
  const file = path.join(dir, 'weights.safetensors');
  torch.safetensors.saveFile({ w: torch.ones([4, 4]) }, file);
  const bytes = readFileSync(file);
  writeFileSync(file, bytes.subarray(0, bytes.length - 10));
  assert.throws(() => torch.safetensors.loadFile(file), /weights\.safetensors: not a valid safetensors file: tensor 'w' has byte range/);
  writeFileSync(file, bytes.subarray(0, 4));
  assert.throws(() => torch.safetensors.loadFile(file), /shorter than its 8-byte header length/);
  const garbage = Buffer.concat([Buffer.from([5, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{oops')]);
  writeFileSync(file, garbage);
  assert.throws(() => torch.safetensors.loadFile(file), /header is not JSON/);
  assert.ok(existsSync(file));
});
